"""OpenVINO IR: NNCF post-training int8, int8 weight-only compression, fp16 weights."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from edgeopt.core.progress import quiet
from edgeopt.errors import ConversionError, UsageError
from edgeopt.optimize.export.common import first_line
from edgeopt.optimize.quantize.common import BackendResult, CalibData, QuantizeConfig

QUANTIZABLE = ("Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData")


def _read(path: Path):
    import openvino as ov

    return ov.Core().read_model(str(path))


def op_counts(path: Path) -> dict[str, int]:
    return dict(Counter(op.get_type_name() for op in _read(path).get_ordered_ops()))


def quantizable_layers(path: Path) -> list[str]:
    return [
        op.get_friendly_name()
        for op in _read(path).get_ordered_ops()
        if op.get_type_name() in QUANTIZABLE
    ]


def quantize(
    src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None, content: str
) -> BackendResult:
    import nncf
    import openvino as ov

    model = _read(src)
    if cfg.exclude:
        names = {op.get_friendly_name() for op in model.get_ordered_ops()}
        unknown = [e for e in cfg.exclude if e not in names]
        if unknown:
            raise UsageError(
                f"--exclude names no op of {src.name}: {', '.join(unknown)}",
                "use op names as printed by `optimize diagnose`",
            )
    notes: list[str] = []
    params: dict = {}
    try:
        if cfg.mode == "fp16":
            route = "ov.save_model(compress_to_fp16=True)"
        elif cfg.mode in ("weight-only", "dynamic"):
            if cfg.mode == "dynamic":
                notes.append(
                    "OpenVINO has no separate dynamic mode: int8 weight compression "
                    "was used (the CPU plugin quantizes activations of such MatMuls "
                    "at run time)"
                )
            with quiet():
                model = nncf.compress_weights(
                    model,
                    mode=nncf.CompressWeightsMode.INT8_ASYM,
                    ignored_scope=nncf.IgnoredScope(names=list(cfg.exclude))
                    if cfg.exclude
                    else None,
                )
            route = "nncf.compress_weights (INT8_ASYM weights, float activations)"
            params["compression"] = "INT8_ASYM"
        elif cfg.mode == "static":
            if calib is None:
                raise UsageError(
                    "static int8 needs calibration data and this model names no dataset",
                    "pass --calib DATA, e.g. --calib npz:calib.npz",
                )
            model_type = nncf.ModelType.TRANSFORMER if content == "matmul" else None
            if cfg.method != "minmax":
                notes.append(
                    f"--method {cfg.method} applies to ONNX; NNCF used its own range estimators"
                )
            samples = [list(s) for s in calib.samples(1)]
            with quiet():
                model = nncf.quantize(
                    model,
                    nncf.Dataset(samples),
                    subset_size=len(samples),
                    model_type=model_type,
                    preset=nncf.QuantizationPreset.MIXED
                    if model_type
                    else nncf.QuantizationPreset.PERFORMANCE,
                    ignored_scope=nncf.IgnoredScope(names=list(cfg.exclude))
                    if cfg.exclude
                    else None,
                )
            route = "nncf.quantize (int8 FakeQuantize, per-channel weights)"
            params.update(
                {
                    "model_type": "transformer" if model_type else "default",
                    "subset_size": len(samples),
                }
            )
        else:
            raise UsageError(
                f"unknown mode {cfg.mode!r}", "use dynamic, static, fp16 or weight-only"
            )
        ov.save_model(model, str(dst), compress_to_fp16=cfg.mode == "fp16")
    except (UsageError, ConversionError):
        raise
    except Exception as e:
        raise ConversionError(
            f"NNCF/OpenVINO {cfg.mode} quantization failed: {first_line(e)}",
            "check the calibration data matches the model's inputs",
        ) from e
    return BackendResult(route, notes, params)


def float_ops(path: Path) -> list[str]:
    """Conv/MatMul ops with no FakeQuantize (or compressed int8 weight) on any input."""
    out = []
    for op in _read(path).get_ordered_ops():
        if op.get_type_name() not in QUANTIZABLE:
            continue
        if not any(_quantized_input(v.get_node()) for v in op.input_values()):
            out.append(f"{op.get_friendly_name()} ({op.get_type_name()})")
    return out


def _quantized_input(node, depth: int = 0) -> bool:
    t = node.get_type_name()
    if t == "FakeQuantize":
        return True
    if t == "Constant":
        return node.get_output_element_type(0).get_type_name() in ("i8", "u8", "i4", "u4")
    if t in ("Convert", "Subtract", "Multiply", "Reshape", "Transpose") and depth < 4:
        return any(_quantized_input(v.get_node(), depth + 1) for v in node.input_values())
    return False
