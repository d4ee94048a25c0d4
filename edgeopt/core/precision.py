"""The one precision vocabulary: quantization modes, their file tags and the precision they give.

The CLI's --mode choices, quantize's output names, a recipe's `precision` values and the cache
keys all read this table; nothing else spells a mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class QuantMode(StrEnum):
    DYNAMIC = "dynamic"  # int8 weights, activations quantized at run time
    STATIC = "static"  # int8 weights and activations, calibrated
    FP16 = "fp16"  # half-precision weights (and compute where the runtime has it)
    WEIGHT_ONLY = "weight-only"  # int8 weights dequantized to float for compute


@dataclass(frozen=True)
class ModeInfo:
    mode: QuantMode
    tag: str  # in file names (model.int8-static.onnx) and recipe precisions
    precision: str  # what the artifact's sidecar records
    needs_calibration: bool
    description: str


MODES: dict[QuantMode, ModeInfo] = {
    m.mode: m
    for m in (
        ModeInfo(
            QuantMode.DYNAMIC,
            "int8-dynamic",
            "int8",
            False,
            "int8 weights, activations quantized at run time",
        ),
        ModeInfo(
            QuantMode.STATIC,
            "int8-static",
            "int8",
            True,
            "int8 weights and activations, calibrated on data",
        ),
        ModeInfo(QuantMode.FP16, "fp16", "fp16", False, "fp16 weights"),
        ModeInfo(
            QuantMode.WEIGHT_ONLY,
            "int8-weights",
            "int8",
            False,
            "int8 weights dequantized to float for compute",
        ),
    )
}

FLOAT = "fp32"  # an unquantized artifact
AUTO_INT8 = "int8"  # int8 in the mode the model's content calls for (see quantize.choose_mode)


def mode_names() -> list[str]:
    return [m.value for m in QuantMode]


def parse_mode(text: str | QuantMode) -> QuantMode:
    from edgeopt.errors import UsageError

    try:
        return QuantMode(text)
    except ValueError:
        raise UsageError(
            f"unknown quantization mode {text!r}", f"use one of: {', '.join(mode_names())}"
        ) from None


def recipe_precisions() -> list[str]:
    """What a recipe's `precision` may say: fp32, int8 (mode chosen from content), each tag."""
    return [FLOAT, AUTO_INT8, *(m.tag for m in MODES.values())]


def mode_for_precision(precision: str) -> QuantMode | None:
    """The quantize mode a recipe precision asks for; None for fp32 and for automatic int8."""
    return next((m.mode for m in MODES.values() if m.tag == precision), None)
