"""Runtime adapters behind one interface (`Session`); `open_session` picks one for a file.

Which runtimes run a format is the format's fact (edgeopt.formats); what class implements a
runtime, which package it comes from and the oldest release a bundle accepts is this
registry's. Adding a runtime is one adapter module and one line in RUNTIMES.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeopt.core.plugins import load
from edgeopt.errors import UsageError
from edgeopt.formats import get_format, names, spec_of
from edgeopt.runtimes.base import PARITY_OPTIONS, Session, SessionOptions


@dataclass(frozen=True)
class RuntimeSpec:
    name: str
    session: str  # "module:Class" of the Session adapter: Class(path, options)
    package: str  # the distribution that provides it (versions, install hints)
    min_bundle_version: str | None = None  # oldest release known to load what this stack writes


RUNTIMES: dict[str, RuntimeSpec] = {}


def register_runtime(spec: RuntimeSpec) -> None:
    RUNTIMES[spec.name] = spec


for _spec in (
    RuntimeSpec(
        "onnxruntime", "edgeopt.runtimes.onnxruntime_rt:OnnxRuntimeSession", "onnxruntime", "1.16"
    ),
    RuntimeSpec("openvino", "edgeopt.runtimes.openvino_rt:OpenVINOSession", "openvino", "2024.0"),
    RuntimeSpec("litert", "edgeopt.runtimes.litert_rt:LiteRTSession", "ai-edge-litert", "1.0"),
):
    register_runtime(_spec)


def runtimes_for(path: str | Path) -> tuple[str, ...]:
    """The runtimes that can run the file at `path` (the first is the default); () if none."""
    spec = spec_of(path)
    return spec.runtimes if spec else ()


def open_session(
    path: str | Path, runtime: str | None = None, options: SessionOptions | None = None
) -> Session:
    """Load the model file at `path` on `runtime` (default: the format's first runtime)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"model file not found: {path}", "check the path")
    spec = spec_of(path)
    choices = spec.runtimes if spec else ()
    if not choices:
        raise UsageError(
            f"no runtime runs {path.name} (format {spec.name if spec else 'unknown'})",
            f"runnable formats: {', '.join(names('runtimes'))}",
        )
    runtime = runtime or choices[0]
    if runtime not in choices:
        raise UsageError(
            f"runtime {runtime!r} cannot run {spec.name} models",
            f"use one of: {', '.join(choices)}",
        )
    session = load(RUNTIMES[runtime].session)(path, options)
    _declare(session, path)
    return session


def _declare(session: Session, path: Path) -> None:
    """Hand the session its sidecar's specs: they say where each input's batch lies when the
    file itself leaves it anonymous (see runtimes.base.batch_axes)."""
    from edgeopt.artifacts.artifact import Artifact

    try:
        art = Artifact.load(path)
    except Exception:  # a damaged sidecar is reported by the steps that need it
        return
    if art is not None:
        session.declared_inputs = art.inputs or None
        session.declared_outputs = art.outputs or None


def default_runtime(fmt: str) -> str:
    return get_format(fmt, "runtimes").runtimes[0]


def open_source_session(source, options: SessionOptions | None = None) -> Session:
    """A session on a loaded SourceModel: torch eager for torch sources, else its file."""
    if source.is_torch:
        from edgeopt.runtimes.torch_rt import TorchSession

        return TorchSession(source.module, source.inputs, source.output_names, options)
    return open_session(source.path, None, options)


__all__ = [
    "PARITY_OPTIONS",
    "RUNTIMES",
    "RuntimeSpec",
    "Session",
    "SessionOptions",
    "default_runtime",
    "open_session",
    "open_source_session",
    "register_runtime",
    "runtimes_for",
]
