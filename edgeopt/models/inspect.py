"""What a model holds: format, inputs/outputs, parameter count, size, op histogram."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from edgeopt.core.artifact import companion_files


def inspect_source(source) -> dict:
    info = {
        "model": source.ref,
        "format": source.format,
        "inputs": [s.to_dict() for s in source.inputs],
        "outputs": [{"name": n} for n in source.output_names],
        "dataset": source.dataset,
    }
    if source.is_torch:
        info.update(_torch(source.module))
    else:
        info.update(_file_stats(source.path, source.format))
        from edgeopt.runtimes import open_session

        outs = open_session(source.path).outputs
        if source.artifact and len(source.artifact.outputs) == len(outs):
            outs = source.artifact.outputs  # our own names (TFLite renames outputs)
        info["outputs"] = [o.to_dict() for o in outs]
    if source.path:
        files = companion_files(source.path)
        info["file_size_bytes"] = sum(p.stat().st_size for p in files if p.exists())
    if source.artifact:
        info["artifact"] = {
            k: v
            for k, v in source.artifact.to_dict().items()
            if k in ("precision", "target", "step", "params", "parent", "notes")
        }
    return info


def _torch(module) -> dict:
    hist = Counter(type(m).__name__ for m in module.modules() if not list(m.children()))
    return {
        "parameters": int(sum(p.numel() for p in module.parameters())),
        "op_histogram": dict(hist.most_common()),
    }


def _file_stats(path: Path, fmt: str) -> dict:
    if fmt == "onnx":
        import onnx
        from onnx import numpy_helper

        m = onnx.load(str(path), load_external_data=False)
        params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
        hist = Counter(n.op_type for n in m.graph.node)
        opset = {o.domain or "ai.onnx": o.version for o in m.opset_import}
        del numpy_helper
        return {
            "parameters": params,
            "op_histogram": dict(hist.most_common()),
            "opset": opset,
            "producer": f"{m.producer_name} {m.producer_version}".strip(),
        }
    if fmt == "openvino":
        import openvino as ov

        model = ov.Core().read_model(str(path))
        ops = model.get_ordered_ops()
        hist = Counter(op.get_type_name() for op in ops)
        params = sum(
            int(np.prod(op.get_output_shape(0)))
            for op in ops
            if op.get_type_name() == "Constant" and op.get_output_partial_shape(0).is_static
        )
        return {"parameters": params, "op_histogram": dict(hist.most_common())}
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=str(path))
        hist = Counter(op["op_name"] for op in it._get_ops_details())
        produced = {t for op in it._get_ops_details() for t in op["outputs"]}
        inputs = {d["index"] for d in it.get_input_details()}
        params = sum(
            int(np.prod(t["shape"]))
            for t in it.get_tensor_details()
            if t["index"] not in produced and t["index"] not in inputs and len(t["shape"])
        )
        return {"parameters": params, "op_histogram": dict(hist.most_common())}
    return {}
