"""The one interface every runtime implements; parity, benchmarks and verify all use it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.errors import UsageError


@dataclass
class SessionOptions:
    threads: int | None = None  # None: the runtime's default
    device: str = "cpu"  # cpu | gpu
    precision: str | None = None  # runtime precision hint, e.g. OpenVINO "f32" or "bf16"
    provider: str | None = None  # ONNX Runtime execution provider override
    cache_dir: str | None = None
    hint: str | None = None  # OpenVINO PERFORMANCE_HINT (latency | throughput); default latency
    # ONNX Runtime's worker threads spin after each run by default; with several sessions
    # measured in turn (interleaved benchmarks) the idle ones' spinning steals the cores the
    # running one needs (measured: self-vs-self ratio CIs of +-25% instead of +-2% on 2 cores)
    spin: bool = False


# for parity and accuracy checks: OpenVINO would otherwise run bf16 on CPUs that have it
PARITY_OPTIONS = SessionOptions(precision="f32")


class Session(ABC):
    """A loaded model ready to run: `run(list of arrays in input order) -> list of outputs`."""

    runtime: str = "?"
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    fixed_batch: int | None = None  # set for runtimes/models that only take one batch size

    def __init__(self, options: SessionOptions | None = None):
        self.options = options or SessionOptions()

    @abstractmethod
    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Run one batch that the model accepts as is."""

    def run(self, arrays: list[np.ndarray] | dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run a batch of any size: a fixed-batch model is run in chunks (the last padded)."""
        if isinstance(arrays, dict):
            arrays = [arrays[s.name] for s in self.inputs]
        if len(arrays) != len(self.inputs):
            raise UsageError(
                f"{self.runtime} model takes {len(self.inputs)} input(s) "
                f"({', '.join(s.name for s in self.inputs)}), got {len(arrays)}",
                "give one array per input",
            )
        fb = self.fixed_batch
        n = len(arrays[0]) if arrays and arrays[0].ndim else 1
        if not fb or n == fb:
            return self._run(arrays)
        chunks: list[list[np.ndarray]] = []
        for i in range(0, n, fb):
            part = [a[i : i + fb] for a in arrays]
            real = len(part[0])
            if real < fb:  # pad with copies of the last sample, then drop them
                part = [np.concatenate([p, np.repeat(p[-1:], fb - real, axis=0)]) for p in part]
            chunks.append([o[:real] for o in self._run(part)])
        return [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]

    @property
    def version(self) -> str:
        return ""

    def describe(self) -> dict:
        """What this session is: recorded with every measurement."""
        return {
            "runtime": self.runtime,
            "version": self.version,
            "device": self.options.device,
            "threads": self.options.threads,
            "precision": self.precision_in_effect(),
            "fixed_batch": self.fixed_batch,
        }

    def precision_in_effect(self) -> str | None:
        return self.options.precision

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
