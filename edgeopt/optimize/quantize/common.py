"""What the quantize algorithm and its per-format backends share: config, results, data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeopt.core.precision import QuantMode
from edgeopt.data import DataRef, data_ref_name

METHODS = ("minmax", "entropy", "percentile")
DEFAULT_SAMPLES = 200


@dataclass
class QuantizeConfig:
    """One quantize step. Fields double as the parameters recorded in the sidecar."""

    mode: QuantMode | None = None  # None: chosen from the model's content
    output: Path | None = None
    calib: DataRef = None  # default: the artifact's dataset (calib split)
    evaluation: DataRef = None  # default: the artifact's dataset (eval split)
    samples: int = DEFAULT_SAMPLES
    method: str = "minmax"  # minmax | entropy | percentile (ONNX static)
    per_channel: bool = True
    exclude: list[str] = field(default_factory=list)
    # quality budgets against the float parent (edgeopt.metrics.quality keys, e.g.
    # {"agreement_min": 0.99}); None: the default floor for the model's output kind
    accuracy_budget: dict[str, float] | None = None
    int8_io: bool = False  # TFLite full int8: int8 inputs and outputs
    keep_io_float: bool = True  # fp16: keep float32 inputs/outputs
    force: bool = False
    latency_seconds: float = 1.0  # time budget of the quick latency check (0 skips it)
    max_search_steps: int = 8  # accuracy-aware search: most layers tried in float
    kinds: dict[str, str] | None = None  # output name -> quality kind, overriding detection
    # False: a result that misses the budget is still written, with accuracy["met"] False
    # (route search probes it before deciding on a repair); never the CLI's default
    enforce: bool = True

    def params(self) -> dict:
        return {
            "mode": str(self.mode) if self.mode else None,
            "calib": data_ref_name(self.calib),
            "samples": self.samples,
            "method": self.method,
            "per_channel": self.per_channel,
            "exclude": list(self.exclude),
            "accuracy_budget": dict(self.accuracy_budget) if self.accuracy_budget else None,
            "int8_io": self.int8_io,
            "keep_io_float": self.keep_io_float,
            "max_search_steps": self.max_search_steps,
            "enforce": self.enforce,
        }


@dataclass
class BackendResult:
    """What a backend reports besides the file it wrote."""

    route: str
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class CalibData:
    """Calibration samples shaped to the model's inputs, with where they came from."""

    arrays: list[np.ndarray]  # sample-first (see runtimes.base.batch_axes)
    description: dict
    specs: list | None = None  # the model's input specs: where each input's batch lies

    def __len__(self) -> int:
        return len(self.arrays[0]) if self.arrays else 0

    def samples(self, batch: int = 1) -> list[list[np.ndarray]]:
        """Batches as the model takes them: each input's samples on its batch axis, scalar
        inputs as scalars (what a converter's calibration feeds straight to a runtime)."""
        from edgeopt.runtimes.base import model_layout

        n = len(self)
        parts = [[a[i : i + batch] for a in self.arrays] for i in range(0, n, batch)]
        return [model_layout(self.specs, p) for p in parts] if self.specs else parts
