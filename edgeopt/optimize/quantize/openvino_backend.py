"""OpenVINO IR: NNCF post-training int8, int8 weight-only compression, fp16 weights."""

from __future__ import annotations

from pathlib import Path

from edgeopt.core.precision import QuantMode
from edgeopt.core.progress import quiet
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError, UsageError
from edgeopt.formats.openvino import read_model
from edgeopt.optimize.quantize.common import BackendResult, CalibData, QuantizeConfig


class OpenVINOQuantizer:
    """NNCF: `quantize` (static), `compress_weights` (weight-only and dynamic), fp16 IR."""

    format = "openvino"
    conv_ops = frozenset({"Convolution", "GroupConvolution", "ConvolutionBackpropData"})
    matmul_ops = frozenset({"MatMul"})
    int8_ops = frozenset({"FakeQuantize"})
    modes = (QuantMode.DYNAMIC, QuantMode.STATIC, QuantMode.FP16, QuantMode.WEIGHT_ONLY)

    def layer_names(self, path: Path) -> list[str]:
        return [op.get_friendly_name() for op in read_model(path).get_ordered_ops()]

    def quantizable_layers(self, path: Path) -> list[str]:
        ops = self.conv_ops | self.matmul_ops
        return [
            op.get_friendly_name()
            for op in read_model(path).get_ordered_ops()
            if op.get_type_name() in ops
        ]

    def quantize(
        self, src: Path, dst: Path, cfg: QuantizeConfig, calib: CalibData | None, content: str
    ) -> BackendResult:
        import openvino as ov

        model = read_model(src)
        try:
            with quiet():
                model, route, notes, params = _MODES[cfg.mode](model, cfg, calib, content)
            ov.save_model(model, str(dst), compress_to_fp16=cfg.mode == QuantMode.FP16)
        except (UsageError, ConversionError):
            raise
        except Exception as e:
            raise ConversionError(
                f"NNCF/OpenVINO {cfg.mode} quantization failed: {first_line(e)}",
                "check the calibration data matches the model's inputs",
            ) from e
        return BackendResult(route, notes, params)

    def float_ops(self, path: Path) -> list[str]:
        """Conv/MatMul ops with no FakeQuantize (or compressed int8 weight) on any input."""
        out = []
        for op in read_model(path).get_ordered_ops():
            if op.get_type_name() not in self.conv_ops | self.matmul_ops:
                continue
            if not any(_quantized_input(v.get_node()) for v in op.input_values()):
                out.append(f"{op.get_friendly_name()} ({op.get_type_name()})")
        return out


BACKEND = OpenVINOQuantizer()


def _ignored(cfg: QuantizeConfig):
    import nncf

    return nncf.IgnoredScope(names=list(cfg.exclude)) if cfg.exclude else None


def _fp16(model, cfg, calib, content):
    return model, "ov.save_model(compress_to_fp16=True)", [], {}


def _weights(model, cfg, calib, content):
    import nncf

    notes = []
    if cfg.mode == QuantMode.DYNAMIC:
        notes.append(
            "OpenVINO has no separate dynamic mode: int8 weight compression was used (the CPU "
            "plugin quantizes activations of such MatMuls at run time)"
        )
    model = nncf.compress_weights(
        model, mode=nncf.CompressWeightsMode.INT8_ASYM, ignored_scope=_ignored(cfg)
    )
    route = "nncf.compress_weights (INT8_ASYM weights, float activations)"
    return model, route, notes, {"compression": "INT8_ASYM"}


def _static(model, cfg, calib, content):
    import nncf

    notes = []
    model_type = nncf.ModelType.TRANSFORMER if content == "matmul" else None
    if cfg.method != "minmax":
        notes.append(f"--method {cfg.method} applies to ONNX; NNCF used its own range estimators")
    samples = [list(s) for s in calib.samples(1)]
    preset = nncf.QuantizationPreset.MIXED if model_type else nncf.QuantizationPreset.PERFORMANCE
    model = nncf.quantize(
        model,
        nncf.Dataset(samples),
        subset_size=len(samples),
        model_type=model_type,
        preset=preset,
        ignored_scope=_ignored(cfg),
    )
    params = {"model_type": "transformer" if model_type else "default", "subset_size": len(samples)}
    return model, "nncf.quantize (int8 FakeQuantize, per-channel weights)", notes, params


_MODES = {
    QuantMode.FP16: _fp16,
    QuantMode.DYNAMIC: _weights,
    QuantMode.WEIGHT_ONLY: _weights,
    QuantMode.STATIC: _static,
}


def _quantized_input(node, depth: int = 0) -> bool:
    t = node.get_type_name()
    if t == "FakeQuantize":
        return True
    if t == "Constant":
        return node.get_output_element_type(0).get_type_name() in ("i8", "u8", "i4", "u4")
    if t in ("Convert", "Subtract", "Multiply", "Reshape", "Transpose") and depth < 4:
        return any(_quantized_input(v.get_node(), depth + 1) for v in node.input_values())
    return False
