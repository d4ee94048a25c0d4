"""NVIDIA/Intel GPU: fp16 artifacts plus the ORT (CUDA/TensorRT) and OpenVINO GPU configs.

Compiling needs no GPU: the fp16 files are written and checked on the CPU here; running
them as a gpu artifact needs one, and says so plainly when there is none.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.progress import info, quiet, step
from edgeopt.errors import UsageError
from edgeopt.optimize.parity import summary_line
from edgeopt.optimize.quantize.onnx_backend import to_fp16
from edgeopt.runtimes.base import SessionOptions
from edgeopt.targets.base import (
    CompileOptions,
    ModelTraits,
    Output,
    Produces,
    Target,
    derived,
    output_path,
    parity,
)


def gpu_present() -> tuple[bool, str]:
    """A GPU counts when a runtime here can use it, not merely when a driver file exists."""
    from edgeopt.runtimes.onnxruntime_rt import GPU_PROVIDERS, available_providers

    ort_gpu = [p for p in GPU_PROVIDERS if p in available_providers()]
    nvidia = bool(shutil.which("nvidia-smi")) or Path("/dev/nvidia0").exists()
    try:
        from edgeopt.runtimes.openvino_rt import ov_devices

        ov_gpu = [d for d in ov_devices() if d.startswith("GPU")]
    except Exception:
        ov_gpu = []
    if ort_gpu and nvidia:
        return True, f"NVIDIA GPU with ONNX Runtime {', '.join(ort_gpu)}"
    if ov_gpu:
        return True, f"OpenVINO devices {', '.join(ov_gpu)}"
    why = [] if nvidia else ["no NVIDIA GPU"]
    if not ort_gpu:
        why.append("ONNX Runtime has no CUDA/TensorRT provider (onnxruntime-gpu)")
    if not ov_gpu:
        why.append("no OpenVINO GPU device")
    return False, "no GPU present: " + "; ".join(why)


def ort_gpu_config(final: Path, fp16: bool = True) -> dict:
    """Provider list with options, as a caller on a GPU machine passes it to InferenceSession."""
    cache = final.stem + ".trt-cache"  # relative: beside the artifact, wherever it is copied
    return {
        "providers": [
            [
                "TensorrtExecutionProvider",
                {
                    "device_id": 0,
                    "trt_fp16_enable": fp16,
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": cache,
                    "trt_timing_cache_enable": True,
                    "trt_timing_cache_path": cache,
                },
            ],
            ["CUDAExecutionProvider", {"device_id": 0, "cudnn_conv_algo_search": "HEURISTIC"}],
            "CPUExecutionProvider",
        ],
        "note": "TensorRT builds its engine on first run and caches it at trt_engine_cache_path, "
        "a folder beside the artifact",
    }


class GpuTarget(Target):
    name = "gpu"
    description = "GPU (ONNX Runtime CUDA/TensorRT, OpenVINO GPU)"
    produces = {
        "onnx": Produces(
            ("onnx",), "fp16 ONNX (float32 inputs/outputs) + CUDA/TensorRT provider config"
        ),
        "openvino": Produces(("openvino",), "OpenVINO IR with fp16 weights + GPU device config"),
    }
    precisions = ("fp16",)
    fixed_precision = "fp16"
    runtimes = ("onnxruntime-gpu", "openvino")

    def auto_routes(self, traits: ModelTraits) -> list[dict]:
        return [{"format": f, "precision": "fp16"} for f in self.formats if f in traits.exportable]

    def availability(self) -> tuple[bool, str]:
        return gpu_present()

    def session_options(self, art: Artifact) -> tuple[str | None, SessionOptions]:
        runtime = "openvino" if art.format == "openvino" else "onnxruntime"
        return runtime, SessionOptions(device="gpu", threads=art.extra.get("threads"))

    def _compile(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        if art.precision not in ("fp32", "fp16"):
            raise UsageError(
                f"target gpu takes fp32 artifacts, {art.path.name} is {art.precision}",
                "compile the fp32 export for gpu",
            )
        if art.format == "onnx":
            final = output_path(art, self.name, ".onnx", options)
            staged = tmp / final.name
            with step(f"gpu: fp16 conversion -> {final.name}"):
                to_fp16(art.path, staged, keep_io_float=not options.io_fp16)
            new = derived(
                art,
                staged,
                "onnx",
                self.name,
                {"fp16": True, "io": "fp16" if options.io_fp16 else "float32"},
                "fp16",
            )
            new.extra = {"onnxruntime": ort_gpu_config(final)}
        else:
            import openvino as ov

            final = output_path(art, self.name, ".xml", options)
            staged = tmp / final.name
            with step(f"gpu: OpenVINO IR with fp16 weights -> {final.name}"), quiet():
                ov.save_model(
                    ov.Core().read_model(str(art.path)), str(staged), compress_to_fp16=True
                )
            new = derived(art, staged, "openvino", self.name, {"fp16": True}, "fp16")
            new.extra = {
                "openvino": {
                    "device": "GPU",
                    "INFERENCE_PRECISION_HINT": "f16",
                    "PERFORMANCE_HINT": options.hint.upper(),
                    "CACHE_DIR": final.stem + ".ov-cache",  # beside the artifact
                }
            }
        if options.verify and not options.io_fp16:
            # the GPU is absent here; the fp16 file is checked on the CPU (same graph, fp16 math)
            with step(f"gpu: parity of {staged.name} on the CPU against {art.path.name}"):
                new.parity = parity(art, staged, "fp16", options)
                new.parity["checked_on"] = "cpu (the gpu run is for benchmarks/gpu_check.py)"
            info(f"[edgeopt]   parity: {summary_line(new.parity)}")
        else:
            new.notes.append("not verified on the CPU (--no-verify or fp16 I/O)")
        return [Output(staged, final, new)]
