"""ONNX: onnxruntime.quantization (dynamic int8, static QDQ int8) and fp16 with float32 I/O."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from edgeopt.core.precision import QuantMode
from edgeopt.core.progress import quiet
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError
from edgeopt.optimize.quantize.common import BackendResult, CalibData, QuantizeConfig

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


def _graph(path: Path):
    import onnx

    return onnx.load(str(path), load_external_data=False).graph


class OnnxQuantizer:
    """onnxruntime.quantization for int8, ONNX Runtime's float16 converter for fp16."""

    format = "onnx"
    conv_ops = frozenset({"Conv", "ConvTranspose"})
    matmul_ops = frozenset({"MatMul", "Gemm"})
    int8_ops = frozenset(
        {
            "QLinearConv",
            "QLinearMatMul",
            "ConvInteger",
            "MatMulInteger",
            "MatMulIntegerToFloat",
            "DynamicQuantizeMatMul",
            "QGemm",
            "QuantizeLinear",
        }
    )
    # ONNX Runtime has no weight-only int8 for CPU: dynamic (int8 weights, activations at run
    # time) is its nearest mode
    modes = (QuantMode.DYNAMIC, QuantMode.STATIC, QuantMode.FP16)

    def layer_names(self, path: Path) -> list[str]:
        return [n.name for n in _graph(path).node if n.name]

    def quantizable_layers(self, path: Path) -> list[str]:
        ops = self.conv_ops | self.matmul_ops
        return [n.name for n in _graph(path).node if n.op_type in ops]

    def quantize(
        self, src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None, content: str
    ) -> BackendResult:
        if cfg.mode == QuantMode.FP16:
            return _fp16(src, dst, cfg)
        return _int8(src, dst, cfg, calib, content)

    def float_ops(self, path: Path) -> list[str]:
        """Compute layers of a quantized ONNX model whose weight is not dequantized int8."""
        graph = _graph(path)
        producer = {o: n for n in graph.node for o in n.output}
        out = []
        for n in graph.node:
            if n.op_type not in self.conv_ops | self.matmul_ops:
                continue
            # the weight (input 1) tells: an excluded layer may still read a dequantized input
            src = producer.get(n.input[1]) if len(n.input) > 1 else None
            if src is None or src.op_type != "DequantizeLinear":
                out.append(f"{n.name} ({n.op_type})")
        return out


BACKEND = OnnxQuantizer()


def _int8(src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None, content: str):
    pre = dst.with_name(dst.stem + ".pre.onnx")
    notes: list[str] = []
    try:
        # when shape inference is incomplete ORT saves sym_shape_infer_temp.onnx (+ .data files)
        # in the working directory: run it from a scratch folder so nothing lands in the user's
        src_abs, pre_abs = str(Path(src).resolve()), str(Path(pre).resolve())  # before chdir
        with quiet(), tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
            from onnxruntime.quantization import quant_pre_process

            quant_pre_process(src_abs, pre_abs, skip_symbolic_shape=content == "conv")
    except Exception as e:  # pre-processing only helps; quantize the file as it is
        notes.append(f"quant_pre_process skipped: {first_line(e)}")
        shutil.copyfile(src, pre)
    try:
        cfg = _upgrade_opset(pre, cfg, notes)
        if cfg.mode == QuantMode.DYNAMIC:
            return _dynamic(pre, dst, cfg, content, notes)
        return _static(pre, dst, cfg, calib, notes)
    finally:
        pre.unlink(missing_ok=True)


QDQ_AXIS_OPSET = 13  # DequantizeLinear(axis=...) (per-channel scales) exists from opset 13


def _upgrade_opset(pre: Path, cfg: QuantizeConfig, notes: list[str]) -> QuantizeConfig:
    """Per-channel QDQ writes DequantizeLinear(axis=...), which opsets below 13 lack (ONNX
    Runtime then refuses the file as an invalid graph). Older models are upgraded with
    onnx.version_converter; when that fails, weights fall back to per-tensor scales. Either
    way a note says which."""
    import dataclasses

    import onnx

    model = onnx.load(str(pre))
    if _constants_to_initializers(model.graph):
        notes.append("weights stored as Constant nodes were made initializers to quantize them")
        onnx.save(model, str(pre))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset >= QDQ_AXIS_OPSET or not cfg.per_channel:
        return cfg
    try:
        from onnx import version_converter

        upgraded = version_converter.convert_version(model, QDQ_AXIS_OPSET)
        onnx.checker.check_model(upgraded)
        onnx.save(upgraded, str(pre))
    except Exception as e:
        notes.append(
            f"opset {opset} lacks per-channel DequantizeLinear (opset {QDQ_AXIS_OPSET}+) and "
            f"upgrading failed ({first_line(e, 120)}): weights quantized per-tensor instead"
        )
        return dataclasses.replace(cfg, per_channel=False)
    notes.append(
        f"opset {opset} upgraded to {QDQ_AXIS_OPSET} (onnx.version_converter) for per-channel "
        "int8 weights"
    )
    return cfg


def _dynamic(pre: Path, dst: Path, cfg: QuantizeConfig, content: str, notes: list[str]):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    op_types = ["MatMul", "Gemm"]
    if content == "conv":
        notes.append(
            "dynamic int8 on convolutions (ConvInteger) runs far slower than float on "
            "CPU: Conv layers were left in float; use --mode static for CNNs"
        )
    try:
        with quiet():
            quantize_dynamic(
                str(pre),
                str(dst),
                weight_type=QuantType.QInt8,
                per_channel=cfg.per_channel,
                op_types_to_quantize=op_types,
                nodes_to_exclude=list(cfg.exclude),
                extra_options={
                    "MatMulConstBOnly": True,
                    "DefaultTensorType": 1,
                    "EnableSubgraph": True,
                },
            )
    except Exception as e:
        raise ConversionError(
            f"ONNX dynamic quantization failed: {first_line(e)}",
            "check the model runs in ONNX Runtime; try --mode static",
        ) from e
    return BackendResult(
        f"onnxruntime.quantization.quantize_dynamic ({_granularity(cfg)} int8 weights, "
        "activations quantized at run time)",
        notes,
        {"op_types": op_types, "weight_type": "QInt8", "per_channel": cfg.per_channel},
    )


def _static(pre: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData, notes: list[str]):
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    names = [
        i.name
        for i in ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()
    ]
    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[cfg.method]
    try:
        with quiet():
            quantize_static(
                str(pre),
                str(dst),
                _reader(names, calib),
                quant_format=QuantFormat.QDQ,
                per_channel=cfg.per_channel,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=method,
                nodes_to_exclude=list(cfg.exclude),
                op_types_to_quantize=None,
                extra_options={
                    "ActivationSymmetric": False,
                    "WeightSymmetric": True,
                    "EnableSubgraph": True,
                },
            )
    except Exception as e:
        raise ConversionError(
            f"ONNX static quantization failed: {first_line(e)}",
            "check the calibration data matches the model's inputs",
        ) from e
    return BackendResult(
        "onnxruntime.quantization.quantize_static (QDQ, int8 activations and "
        f"{_granularity(cfg)} int8 weights)",
        notes,
        {
            "per_channel": cfg.per_channel,
            "format": "QDQ",
            "activation_type": "QInt8",
            "weight_type": "QInt8",
            "calibrate_method": cfg.method,
        },
    )


def _constants_to_initializers(graph) -> int:
    """ORT's quantizer only sees weights that are initializers; older exporters and other
    frameworks store them as float Constant nodes (in If/Loop bodies too). Returns how many
    were moved."""
    from edgeopt.formats.onnx import graphs

    moved = 0
    for g in list(graphs(graph)):
        keep = []
        for n in g.node:
            t = next((a.t for a in n.attribute if a.name == "value" and a.HasField("t")), None)
            if n.op_type == "Constant" and t is not None and t.data_type == 1 and len(t.dims):
                t.name = n.output[0]
                g.initializer.append(t)
                moved += 1
            else:
                keep.append(n)
        if len(keep) != len(g.node):
            del g.node[:]
            g.node.extend(keep)
    return moved


def _granularity(cfg: QuantizeConfig) -> str:
    return "per-channel" if cfg.per_channel else "per-tensor"


def _reader(names: list[str], calib: CalibData):
    """A CalibrationDataReader that yields the calibration samples one at a time."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([dict(zip(names, s)) for s in calib.samples(1)])

        def get_next(self):
            return next(self._it, None)

    return Reader()


def to_fp16(src: Path, dst: Path, keep_io_float: bool = True) -> None:
    """fp16 weights and compute with ONNX Runtime's converter (it keeps ops that lack fp16
    kernels in float); Cast nodes keep float32 inputs/outputs unless asked otherwise.
    Shared by `quantize --mode fp16` and the gpu target. The converter leaves Cast nodes out of
    topological order, which onnx.checker rejects but ONNX Runtime accepts; the parity run
    that follows every step is the check that matters."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    try:
        with quiet():
            m16 = convert_float_to_float16(onnx.load(str(src)), keep_io_types=keep_io_float)
            onnx.save(m16, str(dst))
    except Exception as e:
        raise ConversionError(
            f"fp16 conversion of {src.name} failed: {first_line(e)}",
            "export the model in fp32 first, or try --mode dynamic",
        ) from e


def _fp16(src: Path, dst: Path, cfg: QuantizeConfig) -> BackendResult:
    float_io = cfg.keep_io_float
    to_fp16(src, dst, float_io)
    return BackendResult(
        "weights and compute in fp16 (ONNX Runtime's converter)"
        + (", Cast nodes keep float32 inputs/outputs" if float_io else ""),
        [],
        {"keep_io_float": float_io},
    )
