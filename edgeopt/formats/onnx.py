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
        return dict(Counter(n.op_type for g in graphs(_load(path).graph) for n in g.node))

    def stats(self, path: Path) -> dict:
        m = _load(path)
        every = list(graphs(m.graph))
        return {
            "parameters": sum(_weights(g) for g in every),
            "op_histogram": dict(Counter(n.op_type for g in every for n in g.node).most_common()),
            "opset": {o.domain or "ai.onnx": o.version for o in m.opset_import},
            "producer": f"{m.producer_name} {m.producer_version}".strip(),
        }

    def precision(self, path: Path) -> str | None:
        from onnx import TensorProto

        every = list(graphs(_load(path).graph))  # If/Loop bodies hold layers too
        ops = {n.op_type for g in every for n in g.node}
        inits = [t for g in every for t in g.initializer]
        if ops & INT8_OPS or any(
            t.data_type in (TensorProto.INT8, TensorProto.UINT8) for t in inits
        ):
            return "int8"
        if any(t.data_type == TensorProto.FLOAT16 for t in inits):
            return "fp16"
        return "fp32"


def graphs(graph):
    """The graph and every subgraph inside it (If branches, Loop and Scan bodies), depth first."""
    yield graph
    for n in graph.node:
        for a in n.attribute:
            for sub in [a.g] if a.HasField("g") else list(a.graphs):
                yield from graphs(sub)


_FLOAT_TYPES = (1, 10, 11, 16)  # TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16


def _weights(graph) -> int:
    """Values held by one graph: initializers and Constant nodes' tensors (older exporters and
    other frameworks store weights as Constant nodes)."""
    n = sum(int(np.prod(t.dims)) for t in graph.initializer)
    for node in graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                # float tensors only: integer Constants are shapes and indices, not weights
                if a.name == "value" and a.HasField("t") and a.t.data_type in _FLOAT_TYPES:
                    n += int(np.prod(a.t.dims))
    return n


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
