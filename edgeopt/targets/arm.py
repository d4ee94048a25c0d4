"""aarch64 (ARM): int8 TFLite for XNNPACK, ONNX in .ort form with its minimal-build op list.

Verified for real on aarch64 under qemu-user emulation (see emulation.py and
`optimize verify --target arm`).
"""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.files import sha256_file
from edgeopt.core.precision import QuantMode
from edgeopt.core.progress import info, quiet, step
from edgeopt.errors import AccuracyError
from edgeopt.formats.tflite import computes_int8
from edgeopt.metrics.quality import QualityReport
from edgeopt.optimize.parity import summary_line
from edgeopt.runtimes.base import SessionOptions
from edgeopt.targets.base import (
    CompileOptions,
    ModelTraits,
    Output,
    Produces,
    Target,
    calibration_ref,
    derived,
    output_path,
    parity,
)
from edgeopt.targets.cpu import ort_optimize

CALIBRATION_SAMPLES = 256
# what onnxruntime.tools.convert_onnx_models_to_ort does for --target_platform arm
ARM_ORT_LEVEL = "ORT_ENABLE_ALL"
ARM_ORT_DISABLED = ["NchwcTransformer"]  # x86-only layout; the rest of ALL is portable
ARM_ORT_CONFIG = {"session.qdqisint8allowed": "1"}


def tflite_int8(
    art: Artifact, dst: Path, mode: QuantMode, options: CompileOptions, tmp: Path
) -> tuple[dict, dict]:
    """int8 through the quantize step (ai-edge-quantizer): full int8 with int8 inputs/outputs
    (static, calibrated), or int8 weights with float activations (dynamic, no calibration).

    Returns the parameters and the quality measured against the float file; a result below
    the default floor raises AccuracyError."""
    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    work = tmp / f"quantize-{mode}"
    cfg = QuantizeConfig(
        mode=mode,
        output=work / dst.name,
        calib=calibration_ref(art, options) if mode == QuantMode.STATIC else None,
        evaluation=options.data,
        samples=CALIBRATION_SAMPLES,
        int8_io=mode == QuantMode.STATIC,
        latency_seconds=0,
    )
    q = quantize_artifact(art.path, cfg)
    shutil.move(q.path, dst)
    calib = (q.extra.get("calibration") or {}).get("samples", 0)
    params = {"tool": "ai-edge-quantizer", "mode": str(mode), "calibration_samples": calib}
    return params, q.extra["accuracy"]


def quality_parity(accuracy: dict) -> dict:
    """The parity record of an int8 file: its quality against the float one, per output, in
    the shape every parity record has (`outputs` with cosine and, for classifiers, top-1)."""
    outputs = {}
    for name, q in accuracy["quality"].items():
        outputs[name] = {**q, "cosine": q.get("cosine_mean")}
        if "agreement" in q:
            outputs[name]["top1_agreement"] = q["agreement"]
    return {
        "passed": accuracy["met"],
        "rule": accuracy["budgets"],
        "inputs": accuracy.get("parent", {}).get("dataset"),
        "outputs": outputs,
    }


def required_operators(ort_file: Path, config: Path, final_name: str) -> list[str]:
    """The op list a minimal (mobile) ONNX Runtime build needs for this .ort file."""
    from onnxruntime.tools.ort_format_model import create_config_from_models

    with quiet():
        create_config_from_models([ort_file], config, False)
    text = config.read_text().replace(str(ort_file), final_name)
    config.write_text(text)
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


class ArmTarget(Target):
    name = "arm"
    description = "aarch64 CPU (LiteRT/XNNPACK int8, minimal ONNX Runtime)"
    produces = {
        "tflite": Produces(("tflite",), "int8 TFLite for LiteRT's XNNPACK kernels"),
        "onnx": Produces(
            ("ort",), ".ort + required_operators.config for a minimal mobile ONNX Runtime build"
        ),
    }
    precisions = ("int8", "fp32")
    runtimes = ("litert", "onnxruntime (minimal build)")

    def auto_routes(self, traits: ModelTraits) -> list[dict]:
        """int8 for XNNPACK (full int8, else dynamic range), and ORT's .ort in fp32 and int8."""
        routes: list[dict] = []
        if "tflite" in traits.exportable:
            routes += [
                {"format": "tflite", "precision": p} for p in ("int8-static", "int8-dynamic")
            ]
        if "onnx" in traits.exportable:
            routes += [{"format": "ort", "precision": p} for p in ("fp32", "int8-static")]
        return routes

    def availability(self) -> tuple[bool, str]:
        machine = platform.machine().lower()
        if machine in ("aarch64", "arm64"):
            return True, f"native {machine}"
        from edgeopt.targets.emulation import arm_env, find_qemu

        env = arm_env()
        if not find_qemu():
            return False, "no qemu-aarch64-static (apt-get install -y qemu-user-static)"
        if not env.ready():
            return False, "emulation not prepared: run `optimize targets setup arm`"
        return True, f"under qemu emulation ({env.root}); latency there is emulated"

    def session_options(self, art: Artifact) -> tuple[str | None, SessionOptions]:
        # on the host (x86) the same file runs for reference; on aarch64 it runs natively
        return None, SessionOptions(threads=art.extra.get("threads"))

    def _compile(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        if art.format == "tflite":
            return [self._tflite(art, options, tmp)]
        return [self._ort(art, options, tmp)]

    def _tflite(self, art: Artifact, options: CompileOptions, tmp: Path) -> Output:
        final = output_path(art, self.name, ".tflite", options)
        staged = tmp / final.name
        quality = None
        if computes_int8(art.path):
            with step(f"arm: {art.path.name} is already int8 -> {final.name}"):
                shutil.copyfile(art.path, staged)
            params = {"quantized_by": "input (already int8)"}
        else:
            try:
                with step(f"arm: full int8 quantization (XNNPACK kernels) -> {final.name}"):
                    params, quality = tflite_int8(art, staged, QuantMode.STATIC, options, tmp)
            except AccuracyError as e:
                # some models (wide-range tabular inputs) lose too much with int8
                # activations: keep int8 weights, float activations, and say so
                info(f"[edgeopt]   full int8 rejected: {e.message}")
                with step("arm: int8 weights with float activations (dynamic range)"):
                    params, quality = tflite_int8(art, staged, QuantMode.DYNAMIC, options, tmp)
                params["full_int8_rejected"] = e.message
        new = derived(art, staged, "tflite", self.name, params, "int8")
        new.extra = {
            "threads": options.threads,
            "litert": {"delegate": "XNNPACK (default in LiteRT)", "num_threads": options.threads},
        }
        if quality is not None:
            new.parity = quality_parity(quality)
            report = QualityReport(quality["quality"])
            info(
                f"[edgeopt]   quality against {art.path.name}: {report.describe(quality['budgets'])}"
            )
        if "full_int8_rejected" in params:
            new.notes.append(
                f"full int8 rejected ({params['full_int8_rejected']}); int8 weights only"
            )
        from edgeopt.optimize.quantize.tflite_io import int8_io_specs, io_quantization

        io = io_quantization(staged)  # full int8 takes int8 tensors: record scale/zero point
        new.inputs = int8_io_specs(new.inputs, io["inputs"])
        new.outputs = int8_io_specs(new.outputs, io["outputs"])
        return Output(staged, final, new)

    def _ort(self, art: Artifact, options: CompileOptions, tmp: Path) -> Output:
        final = output_path(art, self.name, ".ort", options)
        staged = tmp / final.name
        with step(f"arm: .ort for a minimal ONNX Runtime build -> {final.name}"):
            ort_optimize(
                art.path,
                staged,
                ARM_ORT_LEVEL,
                ort_format=True,
                config=ARM_ORT_CONFIG,
                disabled=ARM_ORT_DISABLED,
            )
        config_final = final.with_name(final.stem + ".required_operators.config")
        config = tmp / config_final.name
        ops = required_operators(staged, config, final.name)
        new = derived(
            art,
            staged,
            "ort",
            self.name,
            {
                "graph_optimization_level": ARM_ORT_LEVEL,
                "disabled_optimizers": ARM_ORT_DISABLED,
                **ARM_ORT_CONFIG,
            },
        )
        new.extra = {
            "threads": options.threads,
            "required_operators": {
                "file": config_final.name,
                "sha256": sha256_file(config),
                "ops": ops,
            },
        }
        if options.verify:
            with step(f"arm: parity of {staged.name} (x86 run) against {art.path.name}"):
                new.parity = parity(art, staged, art.precision, options)
            info(f"[edgeopt]   parity: {summary_line(new.parity)}")
        return Output(staged, final, new, extra_files=[config])
