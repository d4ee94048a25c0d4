"""TFLite flatbuffers, run by LiteRT (XNNPACK); exported with litert-torch, quantized with
ai-edge-quantizer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from edgeopt.errors import UsageError
from edgeopt.formats.spec import FormatSpec


def interpreter(path: Path):
    """A LiteRT interpreter on `path`, with its C++ log lines kept off the terminal."""
    from ai_edge_litert.interpreter import Interpreter

    from edgeopt.core.progress import quiet

    with quiet():
        return Interpreter(model_path=str(path))


def ops(path: Path) -> list[dict]:
    """Every op of the model; `_get_ops_details` is the only op listing LiteRT offers."""
    try:
        return interpreter(path)._get_ops_details()  # noqa: SLF001
    except Exception:
        return []


def computes_int8(path: Path) -> bool:
    """True when the model computes in int8 (quantized tensors beyond its I/O)."""
    return any(np.dtype(d["dtype"]) == np.int8 for d in interpreter(path).get_tensor_details())


class TFLiteInspector:
    def check(self, path: Path) -> None:
        with open(path, "rb") as f:
            head = f.read(8)
        if not head:
            raise UsageError(f"{path} is empty", "re-export or re-download the model")
        if head[4:8] != b"TFL3":
            raise UsageError(
                f"{path} is not a TFLite flatbuffer (no TFL3 identifier)",
                "check the file is a complete .tflite model",
            )

    def op_counts(self, path: Path) -> dict[str, int]:
        return dict(Counter(op["op_name"] for op in ops(path)))

    def precision(self, path: Path) -> str | None:
        dtypes = {np.dtype(d["dtype"]) for d in interpreter(path).get_tensor_details()}
        if np.dtype(np.int8) in dtypes:
            return "int8"
        return "fp16" if np.dtype(np.float16) in dtypes else "fp32"

    def stats(self, path: Path) -> dict:
        it = interpreter(path)
        details = ops(path)
        produced = {t for op in details for t in op["outputs"]}
        inputs = {d["index"] for d in it.get_input_details()}
        params = sum(
            int(np.prod(t["shape"]))
            for t in it.get_tensor_details()
            if t["index"] not in produced and t["index"] not in inputs and len(t["shape"])
        )
        hist = Counter(op["op_name"] for op in details)
        return {"parameters": params, "op_histogram": dict(hist.most_common())}


SPEC = FormatSpec(
    name="tflite",
    description="TFLite flatbuffer (.tflite)",
    suffixes=(".tflite",),
    runtimes=("litert",),
    exporter="edgeopt.optimize.export.tflite_backend:EXPORTER",
    quantizer="edgeopt.optimize.quantize.tflite_backend:BACKEND",
    inspector=TFLiteInspector(),
)
