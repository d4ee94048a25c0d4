"""Per-layer comparison of a float model and its quantized child on real samples.

Both models are run with their intermediate tensors exposed as outputs; tensors are matched
by name (ONNX tensor names, OpenVINO op names survive quantization). For each layer we report
the signal-to-quantization-noise ratio (SQNR), cosine similarity and max error, plus the noise
the layer *adds* (SQNR of its input minus SQNR of its output), which is what ranks the
layers worth keeping in float: errors accumulate downstream, so the raw SQNR alone would
always blame the last layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgeopt.core.artifact import format_of
from edgeopt.errors import UsageError

MAX_DB = 99.0
# layers whose weights get quantized: what `quantize --exclude` acts on
QUANTIZABLE = {
    "onnx": {"Conv", "ConvTranspose", "MatMul", "Gemm"},
    "openvino": {"Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData"},
}
# element-wise ops a quantizer may fuse into the layer before them (Conv+Relu)
FUSABLE = {
    "Relu",
    "Clip",
    "Relu6",
    "LeakyRelu",
    "Sigmoid",
    "Add",
    "BatchNormalization",
    "Multiply",
    "Divide",
    "Mul",
    "Div",
}


@dataclass
class LayerStat:
    layer: str  # node name (ONNX) or op friendly name (OpenVINO): what --exclude takes
    op_type: str
    tensor: str
    sqnr_db: float
    cosine: float
    max_abs_err: float
    added_db: float = -MAX_DB  # noise this layer adds, relative to its signal (dB; higher=worse)
    quantizable: bool = False


@dataclass
class Graph:
    """A format-neutral view: node name -> (op type, input keys, output keys)."""

    nodes: dict[str, tuple[str, list[str], list[str]]] = field(default_factory=dict)

    def producer(self) -> dict[str, str]:
        return {o: n for n, (_, _, outs) in self.nodes.items() for o in outs}


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64).ravel()
    noise = float(np.sum((ref - np.asarray(got, np.float64).ravel()) ** 2))
    signal = float(np.sum(ref**2))
    if noise <= signal * 10 ** (-MAX_DB / 10):
        return MAX_DB
    return float(10 * np.log10(max(signal, 1e-30) / noise))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else 1.0


def diagnose(float_path: Path, quant_path: Path, arrays: list[np.ndarray]) -> list[LayerStat]:
    """Layer statistics, worst SQNR first, for two models of the same format."""
    fmt = format_of(float_path)
    if fmt != format_of(quant_path):
        raise UsageError(
            f"{float_path.name} and {quant_path.name} are different formats",
            "compare a float model with its own quantized child",
        )
    if fmt == "onnx":
        graph, ref, got = _onnx_tensors(float_path, quant_path, arrays)
    elif fmt == "openvino":
        graph, ref, got = _openvino_tensors(float_path, quant_path, arrays)
    else:
        raise UsageError(
            f"diagnose supports ONNX and OpenVINO models, not {fmt}",
            "diagnose the ONNX export of the same model",
        )
    stats = _layer_stats(graph, ref, got, QUANTIZABLE[fmt])
    return sorted(stats, key=lambda s: s.sqnr_db)


def _layer_stats(graph: Graph, ref: dict, got: dict, quantizable: set[str]) -> list[LayerStat]:
    sq = {k: sqnr_db(ref[k], got[k]) for k in ref if k in got and ref[k].shape == got[k].shape}
    producer = graph.producer()
    memo: dict[str, float] = {}

    def input_db(key: str, depth: int = 0) -> float:
        """SQNR of a tensor, or of the nearest compared tensors upstream of it."""
        if key in sq:
            return sq[key]
        if key in memo:
            return memo[key]
        node = producer.get(key)
        memo[key] = MAX_DB
        if node is not None and depth < 50:
            ins = [input_db(i, depth + 1) for i in graph.nodes[node][1]]
            memo[key] = min(ins) if ins else MAX_DB
        return memo[key]

    consumers: dict[str, list[str]] = {}
    for n, (_, ins, _) in graph.nodes.items():
        for i in ins:
            consumers.setdefault(i, []).append(n)
    out = []
    for name, (op, ins, outs) in graph.nodes.items():
        key = next((o for o in outs if o in sq), None)
        is_q = op in quantizable
        if key is None and is_q and outs:  # output fused away (Conv+Relu): follow the chain
            key = _follow_fused(outs[0], graph, consumers, sq)
        if key is None:
            continue
        in_db = min((input_db(i) for i in ins), default=MAX_DB)
        added = 10 ** (-sq[key] / 10) - 10 ** (-in_db / 10)
        out.append(
            LayerStat(
                name,
                op,
                key,
                sq[key],
                _cos(ref[key], got[key]),
                float(np.max(np.abs(ref[key].astype(np.float64) - got[key]))),
                float(10 * np.log10(max(added, 10 ** (-MAX_DB / 10)))),
                is_q,
            )
        )
    return out


def _follow_fused(key: str, graph: Graph, consumers: dict, sq: dict) -> str | None:
    for _ in range(3):
        nxt = consumers.get(key, [])
        if len(nxt) != 1 or graph.nodes[nxt[0]][0] not in FUSABLE:
            return None
        key = graph.nodes[nxt[0]][2][0]
        if key in sq:
            return key
    return None


def suggest_exclusions(
    stats: list[LayerStat], limit: int = 5, min_added_db: float = -20.0
) -> list[str]:
    """Quantizable layers that add the most noise: candidates to keep in float."""
    return [s.layer for s in rank_layers(stats) if s.added_db >= min_added_db][:limit]


def rank_layers(stats: list[LayerStat]) -> list[LayerStat]:
    """Quantizable layers, the ones adding the most quantization noise first."""
    return sorted((s for s in stats if s.quantizable), key=lambda s: (-s.added_db, s.sqnr_db))


def stats_to_json(stats: list[LayerStat]) -> list[dict]:
    return [asdict(s) for s in stats]


# --- ONNX -----------------------------------------------------------------------------


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


# --- OpenVINO -------------------------------------------------------------------------

_OV_SKIP = {"Constant", "Parameter", "Result", "Convert", "FakeQuantize", "FakeConvert"}


def _openvino_tensors(float_path: Path, quant_path: Path, arrays):
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
    skip = _OV_SKIP | QUANTIZABLE["openvino"]
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
