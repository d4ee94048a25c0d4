"""TFLite: ai-edge-quantizer recipes on the float .tflite (dynamic-range, static, weight-only, fp16)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from edgeopt.core.progress import quiet
from edgeopt.errors import ConversionError, EdgeoptError, UsageError
from edgeopt.optimize.export.common import first_line
from edgeopt.optimize.quantize.common import BackendResult, CalibData, QuantizeConfig

QUANTIZABLE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV")


def _interp(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    with quiet():
        return Interpreter(model_path=str(path))


def _ops(path: Path) -> list[dict]:
    it = _interp(path)
    try:
        return it._get_ops_details()  # noqa: SLF001 - the only op listing LiteRT offers
    except Exception:
        return []


def op_counts(path: Path) -> dict[str, int]:
    return dict(Counter(op["op_name"] for op in _ops(path)))


def quantizable_layers(path: Path) -> list[str]:
    it = _interp(path)
    names = {d["index"]: d["name"] for d in it.get_tensor_details()}
    return [
        names.get(op["outputs"][0], str(op["index"]))
        for op in _ops(path)
        if op["op_name"] in QUANTIZABLE and len(op["outputs"])
    ]


def _recipe(cfg: QuantizeConfig) -> list[dict]:
    weight = {
        "num_bits": 8,
        "symmetric": True,
        "granularity": "CHANNELWISE" if cfg.per_channel else "TENSORWISE",
        "dtype": "INT",
    }
    if cfg.mode == "dynamic":
        op_config = {
            "weight_tensor_config": weight,
            "compute_precision": "INTEGER",
            "explicit_dequantize": False,
        }
        key = "min_max_uniform_quantize"
    elif cfg.mode == "weight-only":
        op_config = {
            "weight_tensor_config": weight,
            "compute_precision": "FLOAT",
            "explicit_dequantize": True,
        }
        key = "min_max_uniform_quantize"
    elif cfg.mode == "static":
        op_config = {
            "activation_tensor_config": {
                "num_bits": 8,
                "symmetric": False,
                "granularity": "TENSORWISE",
                "dtype": "INT",
            },
            "weight_tensor_config": weight,
            "compute_precision": "INTEGER",
            "explicit_dequantize": False,
        }
        key = "min_max_uniform_quantize"
    elif cfg.mode == "fp16":
        op_config = {
            "weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"},
            "compute_precision": "FLOAT",
            "explicit_dequantize": True,
        }
        key = "float_casting"
    else:
        raise UsageError(f"unknown mode {cfg.mode!r}", "use dynamic, static, fp16 or weight-only")
    recipe = [{"regex": ".*", "operation": "*", "algorithm_key": key, "op_config": op_config}]
    for name in cfg.exclude:  # later entries win in ai-edge-quantizer recipes
        recipe.append(
            {
                "regex": f"^{re.escape(name)}$",
                "operation": "*",
                "algorithm_key": "no_quantize",
                "op_config": {},
            }
        )
    return recipe


def quantize(
    src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None, content: str
) -> BackendResult:
    try:
        from ai_edge_quantizer import quantizer
    except ImportError as e:
        raise EdgeoptError(
            "TFLite quantization needs ai-edge-quantizer, which is not installed",
            "install the extra: pip install 'edgeopt[tflite]'",
        ) from e
    if cfg.int8_io and cfg.mode != "static":
        raise UsageError(
            f"--int8-io needs full int8 (--mode static), not --mode {cfg.mode}",
            "add --mode static, or leave --int8-io out",
        )
    if cfg.exclude:
        known = set(quantizable_layers(src))
        unknown = [e for e in cfg.exclude if e not in known]
        if unknown:
            raise UsageError(
                f"--exclude names no layer of {src.name}: {', '.join(unknown)}",
                "use the output tensor names of CONV_2D/FULLY_CONNECTED ops",
            )
    recipe = _recipe(cfg)
    try:
        with quiet():
            qt = quantizer.Quantizer(str(src), recipe)
            result = None
            if qt.need_calibration:
                if calib is None:
                    raise UsageError(
                        "static int8 needs calibration data and this model names no dataset",
                        "pass --calib DATA",
                    )
                qt_cal = qt.calibrate(_calib_feed(src, calib))
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
    io = None
    if cfg.mode == "static":
        from edgeopt.optimize.quantize.tflite_io import add_float_io, io_quantization

        if cfg.int8_io:
            io = io_quantization(dst)  # recorded in the sidecar: callers (de)quantize
        else:
            add_float_io(dst, dst)
    routes = {
        "dynamic": "dynamic-range int8 (int8 weights, int8 compute at run time)",
        "weight-only": "int8 weights dequantized to float",
        "fp16": "fp16 weights",
        "static": "full int8 (int8 weights and activations; float32 inputs/outputs)",
    }
    route = routes[cfg.mode]
    if cfg.int8_io:
        route = route.replace("float32 inputs/outputs", "int8 inputs/outputs")
    params = {"recipe": recipe, **({"int8_io": io} if io else {})}
    return BackendResult(f"ai-edge-quantizer: {route}", [], params)


def _calib_feed(src: Path, calib: CalibData) -> dict:
    it = _interp(src)
    sigs = it.get_signature_list()
    key = next(iter(sigs))
    names = sorted(
        sigs[key]["inputs"],
        key=lambda k: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", k)],
    )
    batch = int(it.get_input_details()[0]["shape"][0]) or 1
    return {key: [dict(zip(names, s)) for s in calib.samples(batch) if len(s[0]) == batch]}


def float_ops(path: Path) -> list[str]:
    """Compute ops whose weights are still float (their filter tensor has no int8 type)."""
    import numpy as np

    it = _interp(path)
    details = {d["index"]: d for d in it.get_tensor_details()}
    out = []
    for op in _ops(path):
        if op["op_name"] not in QUANTIZABLE or len(op["inputs"]) < 2:
            continue
        w = details.get(op["inputs"][1])
        if w is not None and np.dtype(w["dtype"]) in (np.float32, np.float16):
            name = details.get(op["outputs"][0], {}).get("name", str(op["index"]))
            out.append(f"{name} ({op['op_name']})")
    return out
