"""Runtime adapters behind one interface (`Session`); `open_session` picks one for a model."""

from __future__ import annotations

from pathlib import Path

from edgeopt.core.artifact import format_of
from edgeopt.errors import UsageError
from edgeopt.runtimes.base import Session, SessionOptions

# format -> runtimes that can run it, the first being the default
RUNTIMES_BY_FORMAT: dict[str, tuple[str, ...]] = {
    "onnx": ("onnxruntime", "openvino"),
    "ort": ("onnxruntime",),
    "openvino": ("openvino",),
    "openvino-blob": ("openvino",),
    "tflite": ("litert",),
}


def open_session(
    path: str | Path, runtime: str | None = None, options: SessionOptions | None = None
) -> Session:
    """Load the model file at `path` on `runtime` (default: the format's first runtime)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"model file not found: {path}", "check the path")
    fmt = format_of(path)
    choices = RUNTIMES_BY_FORMAT.get(fmt or "")
    if not choices:
        raise UsageError(
            f"no runtime runs {path.name} (format {fmt or 'unknown'})",
            f"runnable formats: {', '.join(RUNTIMES_BY_FORMAT)}",
        )
    runtime = runtime or choices[0]
    if runtime not in choices:
        raise UsageError(
            f"runtime {runtime!r} cannot run {fmt} models", f"use one of: {', '.join(choices)}"
        )
    if runtime == "onnxruntime":
        from edgeopt.runtimes.onnxruntime_rt import OnnxRuntimeSession

        return OnnxRuntimeSession(path, options)
    if runtime == "openvino":
        from edgeopt.runtimes.openvino_rt import OpenVINOSession

        return OpenVINOSession(path, options)
    from edgeopt.runtimes.litert_rt import LiteRTSession

    return LiteRTSession(path, options)


def open_source_session(source, options: SessionOptions | None = None) -> Session:
    """A session on a loaded SourceModel: torch eager for torch sources, else its file."""
    if source.is_torch:
        from edgeopt.runtimes.torch_rt import TorchSession

        return TorchSession(source.module, source.inputs, source.output_names, options)
    return open_session(source.path, None, options)


__all__ = ["RUNTIMES_BY_FORMAT", "Session", "SessionOptions", "open_session", "open_source_session"]
