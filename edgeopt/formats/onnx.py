"""ONNX: run by ONNX Runtime (default) or OpenVINO; exported from PyTorch; quantized by ORT."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from edgeopt.errors import UsageError
from edgeopt.formats.spec import FormatSpec


def external_data(path: Path) -> list[Path]:
    """The .onnx file and, for models over 2 GB, the `.onnx.data` file beside it."""
    data = Path(str(path) + ".data")
    return [path, data] if data.exists() else [path]


def _load(path: Path):
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise UsageError(
            f"{path} is not a valid ONNX model ({type(e).__name__})",
            "check the file is complete; re-export it if it was truncated",
        ) from e


class OnnxInspector:
    def check(self, path: Path) -> None:
        if path.stat().st_size == 0:
            raise UsageError(f"{path} is empty", "re-export or re-download the model")
        _load(path)

    def op_counts(self, path: Path) -> dict[str, int]:
        return dict(Counter(n.op_type for n in _load(path).graph.node))

    def stats(self, path: Path) -> dict:
        m = _load(path)
        return {
            "parameters": sum(int(np.prod(t.dims)) for t in m.graph.initializer),
            "op_histogram": dict(Counter(n.op_type for n in m.graph.node).most_common()),
            "opset": {o.domain or "ai.onnx": o.version for o in m.opset_import},
            "producer": f"{m.producer_name} {m.producer_version}".strip(),
        }

    def precision(self, path: Path) -> str | None:
        from onnx import TensorProto

        m = _load(path)
        ops = {n.op_type for n in m.graph.node}
        if ops & INT8_OPS or any(
            t.data_type in (TensorProto.INT8, TensorProto.UINT8) for t in m.graph.initializer
        ):
            return "int8"
        if any(t.data_type == TensorProto.FLOAT16 for t in m.graph.initializer):
            return "fp16"
        return "fp32"


# ops that only appear in quantized graphs (QDQ, QOperator and dynamic quantization)
INT8_OPS = {
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "ConvInteger",
    "QLinearConv",
    "QLinearMatMul",
    "DynamicQuantizeMatMul",
    "QGemm",
    "QAttention",
}


SPEC = FormatSpec(
    name="onnx",
    description="ONNX model (.onnx)",
    suffixes=(".onnx",),
    runtimes=("onnxruntime", "openvino"),
    exporter="edgeopt.optimize.export.onnx_backend:EXPORTER",
    quantizer="edgeopt.optimize.quantize.onnx_backend:BACKEND",
    diagnoser="edgeopt.optimize.diagnose.onnx_backend:BACKEND",
    inspector=OnnxInspector(),
    companions=external_data,
)
