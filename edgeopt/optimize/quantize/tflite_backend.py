"""TFLite: ai-edge-quantizer recipes on the float .tflite (dynamic-range, static, weight-only, fp16)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edgeopt.core.precision import QuantMode
from edgeopt.core.progress import quiet
from edgeopt.core.text import first_line, natural_key
from edgeopt.errors import ConversionError, EdgeoptError, UsageError
from edgeopt.formats.tflite import interpreter, ops
from edgeopt.optimize.quantize.common import BackendResult, CalibData, QuantizeConfig

ROUTES = {
    QuantMode.DYNAMIC: "dynamic-range int8 (int8 weights, int8 compute at run time)",
    QuantMode.WEIGHT_ONLY: "int8 weights dequantized to float",
    QuantMode.FP16: "fp16 weights",
    QuantMode.STATIC: "full int8 (int8 weights and activations; float32 inputs/outputs)",
}


class TFLiteQuantizer:
    """ai-edge-quantizer recipes on the float .tflite."""

    format = "tflite"
    conv_ops = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D"})
    matmul_ops = frozenset({"FULLY_CONNECTED", "BATCH_MATMUL"})
    int8_ops = frozenset({"QUANTIZE"})
    modes = (QuantMode.DYNAMIC, QuantMode.STATIC, QuantMode.FP16, QuantMode.WEIGHT_ONLY)

    def layer_names(self, path: Path) -> list[str]:
        return self.quantizable_layers(path)

    def quantizable_layers(self, path: Path) -> list[str]:
        names = {d["index"]: d["name"] for d in interpreter(path).get_tensor_details()}
        wanted = self.conv_ops | self.matmul_ops
        return [
            names.get(op["outputs"][0], str(op["index"]))
            for op in ops(path)
            if op["op_name"] in wanted and len(op["outputs"])
        ]

    def quantize(
        self, src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None, content: str
    ) -> BackendResult:
        return _quantize(src, dst, cfg, calib)

    def float_ops(self, path: Path) -> list[str]:
        """Compute ops whose weights are still float (their filter tensor has no int8 type)."""
        import numpy as np

        details = {d["index"]: d for d in interpreter(path).get_tensor_details()}
        out = []
        for op in ops(path):
            if op["op_name"] not in self.conv_ops | self.matmul_ops or len(op["inputs"]) < 2:
                continue
            w = details.get(op["inputs"][1])
            if w is not None and np.dtype(w["dtype"]) in (np.float32, np.float16):
                name = details.get(op["outputs"][0], {}).get("name", str(op["index"]))
                out.append(f"{name} ({op['op_name']})")
        return out


BACKEND = TFLiteQuantizer()


# per mode: (algorithm, compute precision, explicit dequantize, int8 activations)
_RECIPES = {
    QuantMode.DYNAMIC: ("min_max_uniform_quantize", "INTEGER", False, False),
    QuantMode.WEIGHT_ONLY: ("min_max_uniform_quantize", "FLOAT", True, False),
    QuantMode.STATIC: ("min_max_uniform_quantize", "INTEGER", False, True),
    QuantMode.FP16: ("float_casting", "FLOAT", True, False),
}


def _recipe(cfg: QuantizeConfig) -> list[dict]:
    """An ai-edge-quantizer recipe: one rule for every op, then `no_quantize` per exclusion."""
    key, compute, explicit, int8_activations = _RECIPES[cfg.mode]
    granularity = "CHANNELWISE" if cfg.per_channel else "TENSORWISE"
    weight = {"num_bits": 8, "symmetric": True, "granularity": granularity, "dtype": "INT"}
    if cfg.mode == QuantMode.FP16:
        weight = {"num_bits": 16, "dtype": "FLOAT"}
    op_config = {
        "weight_tensor_config": weight,
        "compute_precision": compute,
        "explicit_dequantize": explicit,
    }
    if int8_activations:
        op_config["activation_tensor_config"] = {
            "num_bits": 8,
            "symmetric": False,
            "granularity": "TENSORWISE",
            "dtype": "INT",
        }
    rule = {"regex": ".*", "operation": "*", "algorithm_key": key, "op_config": op_config}
    # later entries win in ai-edge-quantizer recipes
    keep = [
        {
            "regex": f"^{re.escape(n)}$",
            "operation": "*",
            "algorithm_key": "no_quantize",
            "op_config": {},
        }
        for n in cfg.exclude
    ]
    return [rule, *keep]


def _quantize(src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None):
    try:
        from ai_edge_quantizer import quantizer
    except ImportError as e:
        raise EdgeoptError(
            "TFLite quantization needs ai-edge-quantizer, which is not installed",
            "install the extra: pip install 'edgeopt[tflite]'",
        ) from e
    if cfg.int8_io and cfg.mode != QuantMode.STATIC:
        raise UsageError(
            f"--int8-io needs full int8 (--mode static), not --mode {cfg.mode}",
            "add --mode static, or leave --int8-io out",
        )
    recipe = _recipe(cfg)
    notes = []
    from edgeopt.optimize.quantize.tflite_io import add_signature

    signed = dst.with_name(dst.stem + ".signed.tflite")
    if add_signature(src, signed):  # no SignatureDef: address the graph's tensors by index
        src = signed
        notes.append("the model has no SignatureDef: one was added over its graph's own I/O")
    try:
        with quiet():
            qt = quantizer.Quantizer(str(src), recipe)
            result = None
            if qt.need_calibration:
                qt_cal = _calibrate(qt, _calib_feed(src, calib))
                result = qt.quantize(qt_cal, enable_progress_report=False)
            else:
                result = qt.quantize(enable_progress_report=False)
            dst.write_bytes(bytes(result.quantized_model))
    except UsageError:
        raise
    except Exception as e:
        raise ConversionError(
            f"ai-edge-quantizer {cfg.mode} failed: {first_line(e)}", "try another --mode"
        ) from e
    finally:
        signed.unlink(missing_ok=True)
    io = None
    if cfg.mode == QuantMode.STATIC:
        from edgeopt.optimize.quantize.tflite_io import add_float_io, io_quantization

        if cfg.int8_io:
            io = io_quantization(dst)  # recorded in the sidecar: callers (de)quantize
        else:
            add_float_io(dst, dst)
    route = ROUTES[cfg.mode]
    if cfg.int8_io:
        route = route.replace("float32 inputs/outputs", "int8 inputs/outputs")
    params = {"recipe": recipe, **({"int8_io": io} if io else {})}
    return BackendResult(f"ai-edge-quantizer: {route}", notes, params)


def _running_min_max(qsv: dict, new: dict) -> dict:
    if not qsv:
        return new
    return {
        **new,
        "min": np.minimum(qsv["min"], new["min"]),
        "max": np.maximum(qsv["max"], new["max"]),
    }


def _calibrate(qt, feed: dict) -> dict:
    """Ranges as the running min/max over every calibration sample (what --method minmax says).

    ai-edge-quantizer's default update is a moving average of per-sample ranges, which for
    samples fed one at a time settles near the *typical* sample's max and clips the rest
    (measured: 20% of the range on uniform inputs). Its Calibrator takes another update
    function; Quantizer.calibrate does not pass one, so the calibrator is built here.
    """
    try:
        from ai_edge_quantizer import calibrator

        cal = calibrator.Calibrator(qt._float_model_buffer, qsv_update_func=_running_min_max)  # noqa: SLF001
        cal.calibrate(feed, qt._recipe_manager)  # noqa: SLF001
    except (AttributeError, TypeError):  # another ai-edge-quantizer release: its own estimator
        return qt.calibrate(feed)
    return cal.get_model_qsvs()


def _calib_feed(src: Path, calib: CalibData) -> dict:
    it = interpreter(src)
    sigs = it.get_signature_list()
    key = next(iter(sigs))
    names = sorted(sigs[key]["inputs"], key=natural_key)
    batch = int(it.get_input_details()[0]["shape"][0]) or 1
    return {key: [dict(zip(names, s)) for s in calib.samples(batch) if len(s[0]) == batch]}
