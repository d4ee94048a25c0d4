"""Quantize an exported artifact (ONNX, OpenVINO IR, TFLite) to int8 or fp16.

algorithm.py is the one flow; backend.py declares what each per-format backend provides.
"""

from edgeopt.optimize.quantize.algorithm import (
    backend_for,
    choose_mode,
    default_output,
    quantize_artifact,
)
from edgeopt.optimize.quantize.backend import QuantizeBackend, classify_content, quantizable_ops
from edgeopt.optimize.quantize.common import QuantizeConfig
from edgeopt.optimize.quantize.timing import quick_latency_ratio

__all__ = [
    "QuantizeBackend",
    "QuantizeConfig",
    "backend_for",
    "choose_mode",
    "classify_content",
    "default_output",
    "quantizable_ops",
    "quantize_artifact",
    "quick_latency_ratio",
]
