"""What every export backend shares: its config, its result, and example inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.data.datasets import fit_inputs, load_dataset, random_inputs

EXPORT_BATCH = 2  # >1: a batch-1 example lets the dynamo exporter silently fix batch to 1


@dataclass
class ExportConfig:
    to: str
    output: Path
    opset: int | None = None
    static: bool = False
    fp16: bool = False
    batch: int = 1  # the fixed batch of formats without a dynamic one (TFLite)
    verify: bool = True
    atol: float | None = None
    rtol: float | None = None
    data: str | None = None
    samples: int = 64
    force: bool = False


@dataclass
class ExportResult:
    """What a backend reports besides the file: the route taken and anything worth noting."""

    route: str
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    inputs: list[TensorSpec] | None = None  # specs as the artifact sees them, if they changed


def sample_inputs(source, batch: int, data: str | None = None, seed: int = 0):
    """Real samples when a dataset is known (its eval split), else seeded random ones.

    Returns (arrays, description) so results can say which inputs were used.
    """
    spec = data or source.dataset
    if spec:
        ds = load_dataset(spec, "eval", samples=batch)
        arrays = fit_inputs(ds, source.inputs)
        if len(arrays[0]) < batch:  # a tiny dataset: repeat samples to fill the batch
            reps = -(-batch // len(arrays[0]))
            arrays = [np.concatenate([a] * reps)[:batch] for a in arrays]
        return arrays, f"{spec} (eval split, {batch} samples)"
    if source.example is not None:
        arrays = [
            np.concatenate([e] * (-(-batch // len(e))))[:batch] if e.ndim else e
            for e in source.example
        ]
        return arrays, f"factory example inputs repeated to batch {batch}"
    return random_inputs(
        source.inputs, batch, seed
    ), f"seeded random inputs (seed {seed}, batch {batch})"


def torch_example(source, batch: int) -> tuple:
    import torch

    arrays, _ = sample_inputs(source, batch)
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ATEN_OP = re.compile(r"aten(?:::|\.)([A-Za-z0-9_]+)")


def first_line(exc: BaseException, limit: int = 300) -> str:
    text = _ANSI.sub("", str(exc)).strip().splitlines()
    msg = next((ln for ln in text if ln.strip()), type(exc).__name__)
    return f"{type(exc).__name__}: {msg[:limit]}"


def unsupported_ops(*excs: BaseException) -> list[str]:
    """The aten ops named in converter errors (with their causes), to tell users what to change."""
    found: list[str] = []
    for exc in excs:
        while exc is not None:
            for op in _ATEN_OP.findall(_ANSI.sub("", str(exc))):
                if f"aten::{op}" not in found:
                    found.append(f"aten::{op}")
            exc = exc.__cause__ or exc.__context__
    return found
