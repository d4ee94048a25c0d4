"""OpenVINO side of diagnose: expose op outputs of both IRs and run them in f32."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.optimize.diagnose import Graph


class OpenVINODiagnoser:
    fusable_ops = frozenset({"Relu", "Clamp", "Add", "Multiply", "Divide", "Sigmoid"})

    def tensors(self, float_path: Path, quant_path: Path, arrays, quantizable: frozenset):
        return _openvino_tensors(float_path, quant_path, arrays, quantizable)


BACKEND = OpenVINODiagnoser()

_OV_SKIP = {"Constant", "Parameter", "Result", "Convert", "FakeQuantize", "FakeConvert"}


def _openvino_tensors(float_path: Path, quant_path: Path, arrays, quantizable: frozenset):
    import openvino as ov

    core = ov.Core()
    fm, qm = core.read_model(str(float_path)), core.read_model(str(quant_path))
    graph = Graph()
    for op in fm.get_ordered_ops():
        ins = [f"{v.get_node().get_friendly_name()}:{v.get_index()}" for v in op.input_values()]
        outs = [f"{op.get_friendly_name()}:{i}" for i in range(op.get_output_size())]
        graph.nodes[op.get_friendly_name()] = (op.get_type_name(), ins, outs)
    q_ops = {op.get_friendly_name(): op for op in qm.get_ordered_ops()}
    # exposing a quantized MatMul/Convolution output changes how the CPU plugin fuses it (and
    # its results), so layers are read at the op after them (bias Add, activation) instead
    skip = _OV_SKIP | quantizable
    picked = [
        op
        for op in fm.get_ordered_ops()
        if op.get_type_name() not in skip
        and op.get_friendly_name() in q_ops
        and op.get_output_size() == 1
        and op.get_output_element_type(0) == ov.Type.f32
    ]
    keys = [f"{op.get_friendly_name()}:0" for op in picked]
    ref = _ov_run(core, fm, [op.output(0) for op in picked], keys, arrays)
    got = _ov_run(
        core, qm, [q_ops[op.get_friendly_name()].output(0) for op in picked], keys, arrays
    )
    return graph, ref, got


def _ov_run(core, model, ports, keys, arrays) -> dict[str, np.ndarray]:
    """Expose `ports` as outputs, each under a unique tensor name so results can't be mixed up."""
    tags = []
    for i, p in enumerate(ports):
        tag = f"__edgeopt_diag_{i}"
        p.get_tensor().add_names({tag})
        tags.append(tag)
    model.add_outputs(ports)  # a port that is already an output is not added twice
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    res = compiled.create_infer_request().infer(list(arrays))
    out = {}
    for k, tag in zip(keys, tags):
        try:
            out[k] = np.array(res[compiled.output(tag)])
        except Exception:  # the compiler dropped or renamed it: skip this layer
            continue
    return out
