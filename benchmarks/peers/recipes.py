"""The peers' own documented recipes, each built with that peer's API, never through edgeopt."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from peers.problems import Problem
from peers.runners import Row, first_line, litert_row, natural, ort_row, ov_row, torch_row
from peers.settings import CALIB_SAMPLES


class Context:
    """Shared intermediate files (one ONNX export, one OpenVINO model, one float .tflite)."""

    def __init__(self, problem: Problem, work: Path):
        self.p = problem
        self.work = work
        self._memo: dict[str, object] = {}

    def memo(self, key: str, make: Callable):
        if key not in self._memo:
            try:
                self._memo[key] = make()
            except Exception as e:  # every row that needs it reports the same error
                self._memo[key] = e
        value = self._memo[key]
        if isinstance(value, Exception):
            raise RuntimeError(f"{key} failed: {first_line(value)}") from value
        return value

    def calib(self) -> list[list[np.ndarray]]:
        n = min(CALIB_SAMPLES, len(self.p.calib[0]))
        return [[a[i : i + 1] for a in self.p.calib] for i in range(n)]

    def onnx(self) -> Path:
        return self.memo("ONNX export", self._onnx)

    def _onnx(self) -> Path:
        import torch

        path = self.work / f"{self.p.name}.onnx"
        kwargs = dict(
            input_names=self.p.input_names,
            output_names=["output"],
            dynamic_axes={n: {0: "batch"} for n in [*self.p.input_names, "output"]},
        )
        try:  # what Optimum's exporter does: the TorchScript exporter
            torch.onnx.export(
                self.p.module,
                self.p.example(2),
                str(path),
                dynamo=False,
                opset_version=17,
                **kwargs,
            )
            self.onnx_exporter = "torch.onnx.export(dynamo=False, opset 17)"
        except Exception:
            torch.onnx.export(
                self.p.module, self.p.example(2), str(path), external_data=False, **kwargs
            )
            self.onnx_exporter = "torch.onnx.export(dynamo=True)"
        return path

    def ov_model(self):
        return self.memo("OpenVINO convert_model", self._ov_model)

    def _ov_model(self):
        import openvino as ov

        try:
            model = ov.convert_model(self.p.module, example_input=self.p.example(2))
            self.ov_from = "ov.convert_model(torch module)"
        except Exception as e:  # transformer-like modules can fail to trace: the ONNX file
            model = ov.convert_model(str(self.onnx()))
            self.ov_from = f"ov.convert_model(ONNX file) (the module failed: {first_line(e)})"
        return model

    def tflite(self) -> Path:
        return self.memo("litert_torch.convert", self._tflite)

    def _tflite(self) -> Path:
        import litert_torch

        path = self.work / f"{self.p.name}.tflite"
        litert_torch.convert(self.p.module.eval(), self.p.example(1)).export(str(path))
        return path


def build_torch(ctx: Context, row: Row) -> Row:
    row.recipe = "module(*inputs) under torch.inference_mode(), torch.set_num_threads(2)"
    return torch_row(row, ctx.p.module)


def build_ort_fp32(ctx: Context, row: Row) -> Row:
    path = ctx.onnx()
    row.recipe = f"{ctx.onnx_exporter}; InferenceSession (default ORT_ENABLE_ALL)"
    return ort_row(row, path)


def build_ort_dynamic(ctx: Context, row: Row) -> Row:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = ctx.work / f"{ctx.p.name}.ort-dynamic.onnx"
    quantize_dynamic(  # Optimum: AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False)
        str(ctx.onnx()),
        str(out),
        op_types_to_quantize=["MatMul", "Add"],
        per_channel=False,
        reduce_range=False,
        weight_type=QuantType.QInt8,
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )
    row.recipe = (
        "quantize_dynamic as Optimum's avx512_vnni(is_static=False, per_channel=False): "
        "QOperator, u8 activations, s8 symmetric weights, ops MatMul/Add"
    )
    return ort_row(row, out)


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over the calibration samples."""

    def __init__(self, names: list[str], samples: list[list[np.ndarray]]):
        self.items = iter([dict(zip(names, s)) for s in samples])

    def get_next(self):
        return next(self.items, None)

    def rewind(self):  # not needed by MinMax
        pass


def build_ort_static(ctx: Context, row: Row) -> Row:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = ctx.onnx()
    pre = ctx.work / f"{ctx.p.name}.pre.onnx"
    note = "quant_pre_process"
    try:
        quant_pre_process(str(src), str(pre))
    except Exception as e:
        pre, note = src, f"quant_pre_process failed ({first_line(e)}), quantized without it"
    out = ctx.work / f"{ctx.p.name}.ort-static-qdq.onnx"
    reader = type("Reader", (_Reader, CalibrationDataReader), {})(ctx.p.input_names, ctx.calib())
    quantize_static(str(pre), str(out), reader, quant_format=QuantFormat.QDQ)
    row.recipe = (
        f"{note}; quantize_static(QDQ, MinMax, s8/s8, per-tensor: ORT defaults), "
        f"{len(ctx.calib())} calibration samples"
    )
    return ort_row(row, out)


def build_openvino(ctx: Context, row: Row) -> Row:
    import openvino as ov

    model = ctx.ov_model()
    path = ctx.work / f"{ctx.p.name}.xml"
    ov.save_model(model, str(path), compress_to_fp16=False)
    row.recipe = f"{ctx.ov_from}; core.compile_model(model, 'CPU') with 2 threads, no hints"
    return ov_row(row, model, path)


def build_nncf(ctx: Context, row: Row) -> Row:
    import nncf
    import openvino as ov

    items = ctx.calib()
    kwargs = {"model_type": nncf.ModelType.TRANSFORMER} if ctx.p.transformer else {}
    q = nncf.quantize(
        ctx.ov_model(), nncf.Dataset(items, lambda s: list(s)), subset_size=len(items), **kwargs
    )
    path = ctx.work / f"{ctx.p.name}.nncf-int8.xml"
    ov.save_model(q, str(path), compress_to_fp16=False)
    row.recipe = (
        f"nncf.quantize(ov model{', model_type=TRANSFORMER' if kwargs else ''}, "
        f"{len(items)} calibration samples); default compile with 2 threads"
    )
    return ov_row(row, q, path)


def build_litert(ctx: Context, row: Row) -> Row:
    row.recipe = "litert_torch.convert(module, batch-1 example).export(); XNNPACK, 2 threads"
    return litert_row(row, ctx.tflite())


def _aeq(ctx: Context, recipe_name: str, out: Path, calibrate: bool) -> Path:
    from ai_edge_quantizer import quantizer, recipe

    qt = quantizer.Quantizer(str(ctx.tflite()), getattr(recipe, recipe_name)())
    if calibrate:
        from ai_edge_litert.interpreter import Interpreter

        sigs = Interpreter(model_path=str(ctx.tflite())).get_signature_list()
        key = next(iter(sigs))
        names = sorted(sigs[key]["inputs"], key=natural)
        feed = {key: [dict(zip(names, s)) for s in _tflite_dtypes(ctx, ctx.calib())]}
        result = qt.quantize(qt.calibrate(feed), enable_progress_report=False)
    else:
        result = qt.quantize(enable_progress_report=False)
    result.export_model(str(out), overwrite=True)
    return out


def _tflite_dtypes(ctx: Context, samples):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(ctx.tflite()))
    runner = it.get_signature_runner()
    rin = runner.get_input_details()
    dts = [np.dtype(rin[k]["dtype"]) for k in sorted(rin, key=natural)]
    return [[a.astype(d) for a, d in zip(s, dts)] for s in samples]


def build_aeq_dynamic(ctx: Context, row: Row) -> Row:
    out = _aeq(ctx, "dynamic_wi8_afp32", ctx.work / f"{ctx.p.name}.aeq-dynamic.tflite", False)
    row.recipe = "ai_edge_quantizer recipe.dynamic_wi8_afp32() on the litert-torch float file"
    return litert_row(row, out)


def build_aeq_static(ctx: Context, row: Row) -> Row:
    out = _aeq(ctx, "static_wi8_ai8", ctx.work / f"{ctx.p.name}.aeq-static.tflite", True)
    row.recipe = (
        f"ai_edge_quantizer recipe.static_wi8_ai8(), Quantizer.calibrate on "
        f"{len(ctx.calib())} calibration samples"
    )
    return litert_row(row, out)


PEERS: dict[str, Callable[[Context, Row], Row]] = {
    "torch eager fp32": build_torch,
    "ORT fp32": build_ort_fp32,
    "ORT dynamic int8 (Optimum recipe)": build_ort_dynamic,
    "ORT static int8 QDQ": build_ort_static,
    "OpenVINO default": build_openvino,
    "NNCF int8 (OpenVINO)": build_nncf,
    "LiteRT fp32": build_litert,
    "LiteRT dynamic-range int8 (ai-edge-quantizer)": build_aeq_dynamic,
    "LiteRT static int8 (ai-edge-quantizer)": build_aeq_static,
}


def build_peers(ctx: Context) -> list[Row]:
    rows = []
    for name, builder in PEERS.items():
        row = Row(name, "")
        t0 = time.perf_counter()
        print(f"[peers] build {name} ...", file=sys.stderr, flush=True)
        try:
            builder(ctx, row)
        except Exception as e:
            row.error = first_line(e)
            row.info["traceback"] = traceback.format_exc(limit=4)
            print(f"[peers]   failed: {row.error}", file=sys.stderr, flush=True)
        row.build_s = round(time.perf_counter() - t0, 2)
        rows.append(row)
    return rows
