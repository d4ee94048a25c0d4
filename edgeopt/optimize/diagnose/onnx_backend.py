"""ONNX side of diagnose: run both models with every float tensor exposed as an output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.optimize.diagnose import Graph


class OnnxDiagnoser:
    fusable_ops = frozenset(
        {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Add", "BatchNormalization", "Mul", "Div"}
    )

    def tensors(self, float_path: Path, quant_path: Path, arrays, quantizable: frozenset):
        return _onnx_tensors(float_path, quant_path, arrays)


BACKEND = OnnxDiagnoser()


def _onnx_tensors(float_path: Path, quant_path: Path, arrays):
    import onnx

    fm = onnx.load(str(float_path))
    qm = onnx.load(str(quant_path))
    graph = Graph(
        {
            n.name or f"{n.op_type}_{i}": (n.op_type, list(n.input), list(n.output))
            for i, n in enumerate(fm.graph.node)
        }
    )
    q_tensors = {o for n in qm.graph.node for o in n.output}
    inits = {i.name for i in fm.graph.initializer}
    floats = _float_tensors(fm)
    keys = [
        o
        for n in fm.graph.node
        for o in n.output
        if o in q_tensors and o in floats and o not in inits
    ]
    # a layer is judged on its raw output (input + weight quantization noise: what excluding
    # that layer removes); where the quantizer fused an activation into it (Conv+Relu), the
    # raw tensor holds pre-activation values, so the dequantized value is compared instead
    seen = _dequantized_names(qm)
    f_op = {o: n.op_type for n in fm.graph.node for o in n.output}
    q_op = {o: n.op_type for n in qm.graph.node for o in n.output}
    q_keys = [k if f_op.get(k) == q_op.get(k) else seen.get(k, k) for k in keys]
    got = _onnx_run(qm, q_keys, arrays)
    return graph, _onnx_run(fm, keys, arrays), {k: got[q] for k, q in zip(keys, q_keys) if q in got}


def _dequantized_names(model) -> dict[str, str]:
    """tensor -> output of its QuantizeLinear->DequantizeLinear pair (what consumers read).

    In QDQ models a fused activation (Conv+Relu) is applied by the quantization range, so the
    raw tensor still holds pre-activation values; the DQ output is the true comparison point.
    """
    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    out = {}
    for n in model.graph.node:
        if n.op_type != "QuantizeLinear":
            continue
        dq = [c for c in consumers.get(n.output[0], []) if c.op_type == "DequantizeLinear"]
        if dq:
            out[n.input[0]] = dq[0].output[0]
    return out


def _float_tensors(model) -> set[str]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:
        inferred = model
    vis = [*inferred.graph.value_info, *inferred.graph.output]
    return {v.name for v in vis if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}


def _onnx_run(model, keys: list[str], arrays) -> dict[str, np.ndarray]:
    import onnx
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for k in keys:
        if k not in have:
            m.graph.output.append(
                onnx.helper.make_tensor_value_info(k, onnx.TensorProto.FLOAT, None)
            )
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    feeds = dict(zip([i.name for i in sess.get_inputs()], arrays))
    res = sess.run(None, feeds)
    wanted = set(keys)
    return {n: r for n, r in zip(names, res) if n in wanted}
