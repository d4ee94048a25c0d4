"""What every export backend shares: its config, its result, and example inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.core.text import strip_ansi
from edgeopt.data import DataRef, sample_arrays

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
    data: DataRef = None  # parity inputs (eval split); default: the source's dataset
    samples: int = 64
    force: bool = False


@dataclass
class ExportResult:
    """What a backend reports besides the file: the route taken and anything worth noting."""

    route: str
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    inputs: list[TensorSpec] | None = None  # specs as the artifact sees them, if they changed


@runtime_checkable
class Exporter(Protocol):
    """Writes one format from a source model (a loaded SourceModel); registered per format."""

    def export(self, source, path: Path, cfg: ExportConfig) -> ExportResult:
        """Write the model to `path` (in a staging folder); parity is checked by the caller."""


def sample_inputs(source, batch: int, data: DataRef = None, seed: int = 0):
    """Inputs for a source model: see data.datasets.sample_arrays."""
    return sample_arrays(source.inputs, batch, data or source.dataset, source.example, seed)


def torch_example(source, batch: int, data: DataRef = None) -> tuple:
    import torch

    from edgeopt.runtimes.base import model_layout

    arrays, _ = sample_inputs(source, batch, data)
    return tuple(
        torch.from_numpy(np.ascontiguousarray(a)) for a in model_layout(source.inputs, arrays)
    )


def static_specs(source, cfg: ExportConfig) -> list[TensorSpec]:
    """The input specs of a static export: every dim fixed as the data (or example) has it,
    at the deployment batch; the sidecar then describes the file as it is."""
    from edgeopt.runtimes.base import model_layout

    arrays, _ = sample_inputs(source, cfg.batch, cfg.data)
    return [
        TensorSpec(s.name, list(a.shape), s.dtype, dict(s.extra))
        for s, a in zip(source.inputs, model_layout(source.inputs, arrays))
    ]


_ATEN_OP = re.compile(r"aten(?:::|\.)([A-Za-z0-9_]+)")


def unsupported_ops(*excs: BaseException) -> list[str]:
    """The aten ops named in converter errors (with their causes), to tell users what to change."""
    found: list[str] = []
    for exc in excs:
        while exc is not None:
            for op in _ATEN_OP.findall(strip_ansi(str(exc))):
                if f"aten::{op}" not in found:
                    found.append(f"aten::{op}")
            exc = exc.__cause__ or exc.__context__
    return found


def torch_dynamic_shapes(source, static: bool):
    """torch.export dynamic_shapes for the source's symbolic dims (None when static)."""
    import torch

    if static:
        return None
    out = []
    for s in source.inputs:
        dims = {}
        for i, d in enumerate(s.shape):
            if isinstance(d, int):
                continue
            dims[i] = torch.export.Dim.DYNAMIC if d == "?" else torch.export.Dim(_ident(d))
        out.append(dims)
    return tuple(out)


def _ident(name: str) -> str:
    text = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name))
    return text if text and not text[0].isdigit() else f"d_{text}"
