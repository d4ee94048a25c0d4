"""The interface every quantize backend implements, NNCF-style: one algorithm over thin adapters.

A backend declares its op tables (which op types are convolutions, which are MatMul-like),
the modes it supports and the names `--exclude` takes; the algorithm (algorithm.py) does every
check once, picks the mode from the content, scores and searches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from edgeopt.core.precision import QuantMode
from edgeopt.optimize.quantize.common import BackendResult, CalibData, QuantizeConfig


@runtime_checkable
class QuantizeBackend(Protocol):
    format: str
    conv_ops: frozenset[str]  # compute ops that are convolutions
    matmul_ops: frozenset[str]  # compute ops that are MatMul/Gemm/FullyConnected
    int8_ops: frozenset[str]  # ops that only exist once a layer runs in int8
    modes: tuple[QuantMode, ...]  # the modes it can produce

    def layer_names(self, path: Path) -> list[str]:
        """Every name `--exclude` accepts (node / op / tensor names, as diagnose prints them)."""

    def quantizable_layers(self, path: Path) -> list[str]:
        """Conv and MatMul-like layers, in graph order: what an accuracy search may keep float."""

    def quantize(
        self, src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None, content: str
    ) -> BackendResult:
        """Write the quantized model to `dst`; cfg.mode is one of `modes`, checked already."""

    def float_ops(self, path: Path) -> list[str]:
        """Compute layers of a quantized model that still run in float ("name (OpType)")."""


def quantizable_ops(backend: QuantizeBackend) -> frozenset[str]:
    return backend.conv_ops | backend.matmul_ops


def classify_content(backend: QuantizeBackend, op_counts: dict[str, int]) -> tuple[str, int, int]:
    """('conv' | 'matmul' | 'other', convolutions, MatMul-like layers) from an op histogram."""
    conv = sum(v for k, v in op_counts.items() if k in backend.conv_ops)
    mm = sum(v for k, v in op_counts.items() if k in backend.matmul_ops)
    if conv == 0 and mm == 0:
        return "other", 0, 0
    return ("conv" if conv >= mm else "matmul"), conv, mm
