"""Inputs and outputs of full-int8 TFLite models.

ai-edge-quantizer's full-int8 model takes int8 inputs and gives int8 outputs. That suits an
integer-only device (`--int8-io`, with each tensor's scale and zero point recorded); by default
float32 inputs/outputs are restored with a QUANTIZE op in front and a DEQUANTIZE op behind, so
the artifact is fed like its float parent.
"""

from __future__ import annotations

from pathlib import Path

from edgeopt.errors import ConversionError


def _load(src: Path):
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools.flatbuffer_utils import read_model_from_bytearray

    buf = bytearray(Path(src).read_bytes())
    # ai-edge-quantizer stores weights after the flatbuffer, addressed by offset and size;
    # re-packing the object alone would drop them (LiteRT: "Constant buffer 1 specified an
    # out of range offset"). This reader pulls them into the buffers, so _save keeps them.
    model = read_model_from_bytearray(buf)
    if len(model.subgraphs) != 1:
        raise ConversionError(
            "int8 input/output handling supports single-subgraph TFLite models",
            "quantize with --mode dynamic instead",
        )
    return schema, model, len(buf)


def _save(model, size: int, dst: Path) -> None:
    import flatbuffers

    builder = flatbuffers.Builder(size + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    Path(dst).write_bytes(bytes(builder.Output()))


def io_quantization(src: Path) -> dict:
    """Scale and zero point of every graph input/output that is an integer tensor."""
    schema, model, _ = _load(src)
    sg = model.subgraphs[0]

    def q(t: int) -> dict | None:
        tensor = sg.tensors[t]
        qp = tensor.quantization
        if tensor.type not in (schema.TensorType.INT8, schema.TensorType.UINT8) or qp is None:
            return None
        return {"scale": float(qp.scale[0]), "zero_point": int(qp.zeroPoint[0])}

    return {"inputs": [q(t) for t in sg.inputs], "outputs": [q(t) for t in sg.outputs]}


def int8_io_specs(specs: list, quant: list | None) -> list:
    """Specs of an int8-I/O model: int8 dtype with the scale and zero point callers need."""
    from edgeopt.core.spec import TensorSpec

    if not quant:
        return specs
    return [
        TensorSpec(s.name, list(s.shape), "int8", {**s.extra, **q}) if q else s
        for s, q in zip(specs, quant)
    ]


def add_float_io(src: Path, dst: Path) -> int:
    """Give every integer graph input a QUANTIZE and every output a DEQUANTIZE; returns how many."""
    schema, model, size = _load(src)
    sg = model.subgraphs[0]
    integer = (schema.TensorType.INT8, schema.TensorType.UINT8)

    def opcode(builtin: int) -> int:
        for k, c in enumerate(model.operatorCodes):
            if max(c.builtinCode, c.deprecatedBuiltinCode) == builtin:
                return k
        c = schema.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, min(builtin, 127), 1
        model.operatorCodes.append(c)
        return len(model.operatorCodes) - 1

    def float_twin(t: int) -> int:
        src_t = sg.tensors[t]
        f = schema.TensorT()
        f.shape, f.type, f.buffer = list(src_t.shape), schema.TensorType.FLOAT32, 0
        f.name = (src_t.name.decode() if isinstance(src_t.name, bytes) else src_t.name) + "_float"
        f.shapeSignature = None if src_t.shapeSignature is None else list(src_t.shapeSignature)
        sg.tensors.append(f)
        return len(sg.tensors) - 1

    def op(builtin: int, inp: int, out: int):
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = opcode(builtin), [inp], [out]
        return o

    # inputs and outputs are remapped apart: a tensor can be both (an identity model)
    remap_in: dict[int, int] = {}
    remap_out: dict[int, int] = {}
    front, back = [], []
    sg.inputs, sg.outputs = [int(t) for t in sg.inputs], [int(t) for t in sg.outputs]
    for i, t in enumerate(list(sg.inputs)):
        if sg.tensors[t].type in integer:
            new = float_twin(int(t))
            front.append(op(schema.BuiltinOperator.QUANTIZE, new, int(t)))
            sg.inputs[i], remap_in[int(t)] = new, new
    for i, t in enumerate(list(sg.outputs)):
        if sg.tensors[t].type in integer:
            new = float_twin(int(t))
            back.append(op(schema.BuiltinOperator.DEQUANTIZE, int(t), new))
            sg.outputs[i], remap_out[int(t)] = new, new
    sg.operators = [*front, *sg.operators, *back]
    for sig in model.signatureDefs or []:
        for tm in sig.inputs or []:
            tm.tensorIndex = remap_in.get(tm.tensorIndex, tm.tensorIndex)
        for tm in sig.outputs or []:
            tm.tensorIndex = remap_out.get(tm.tensorIndex, tm.tensorIndex)
    _save(model, size, dst)
    return len(front) + len(back)


def add_signature(src: Path, dst: Path) -> bool:
    """Give a TFLite model without a SignatureDef one over its graph's own inputs/outputs
    (args_0.., output_0.. in tensor-index order), as ai-edge-quantizer's calibration needs.

    Returns False (and writes nothing) when the model already has one. Files converted by
    older tools or stripped for size carry none; their tensors are still addressed by index.
    """
    schema, model, size = _load(src)
    if model.signatureDefs:
        return False
    sg = model.subgraphs[0]

    def maps(indices, prefix: str) -> list:
        out = []
        for k, t in enumerate(indices):
            tm = schema.TensorMapT()
            tm.name, tm.tensorIndex = f"{prefix}_{k}", int(t)
            out.append(tm)
        return out

    sig = schema.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = "serving_default", 0
    sig.inputs, sig.outputs = maps(sg.inputs, "args"), maps(sg.outputs, "output")
    model.signatureDefs = [sig]
    _save(model, size, dst)
    return True
