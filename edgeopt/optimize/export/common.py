"""What every export backend shares: its config, its result, and example inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.data.datasets import sample_arrays

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
    """Inputs for a source model: see data.datasets.sample_arrays."""
    return sample_arrays(source.inputs, batch, data or source.dataset, source.example, seed)


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
