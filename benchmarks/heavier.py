"""Make a deliberately heavier copy of an ONNX model: same outputs, extra input-dependent work.

Used by gate_reliability.py to create a real slowdown the gate must catch. The extra branch
(MatMuls on the flattened input, scaled by zero and added to the first output) cannot be
constant-folded away because it depends on the input.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def make_heavier(src: str, dst: str, width: int = 256, depth: int = 2) -> None:
    m = onnx.load(src)
    g = m.graph
    out = g.output[0].name
    inp = g.input[0].name
    for node in g.node:  # the node producing the output now writes out_orig
        node.output[:] = [o + "_orig" if o == out else o for o in node.output]
    rng = np.random.default_rng(0)
    feat = int(np.prod([d.dim_value for d in g.input[0].type.tensor_type.shape.dim[1:]]))
    nodes = [helper.make_node("Flatten", [inp], ["h_flat"], axis=1)]
    prev, fan_in = "h_flat", feat
    for i in range(depth):
        w = numpy_helper.from_array(
            (rng.standard_normal((fan_in, width)) / np.sqrt(fan_in)).astype(np.float32), f"h_w{i}"
        )
        g.initializer.append(w)
        nodes += [
            helper.make_node("MatMul", [prev, f"h_w{i}"], [f"h_mm{i}"]),
            helper.make_node("Tanh", [f"h_mm{i}"], [f"h_act{i}"]),
        ]
        prev, fan_in = f"h_act{i}", width
    g.initializer.append(numpy_helper.from_array(np.zeros((1,), np.float32), "h_zero"))
    nodes += [
        helper.make_node("ReduceSum", [prev], ["h_sum"], keepdims=1),
        helper.make_node("Mul", ["h_sum", "h_zero"], ["h_scaled"]),
        helper.make_node("Add", [out + "_orig", "h_scaled"], [out]),
    ]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
