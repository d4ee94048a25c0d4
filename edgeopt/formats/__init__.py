"""The one registry of model formats: every table about formats is derived from it.

Adding a format is one module (a FormatSpec plus its inspector) and one registration line
below; a format from outside edgeopt registers through the "edgeopt.plugins" entry-point group
or the EDGEOPT_PLUGINS environment variable (comma-separated modules that call `register`).
See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeopt.errors import UsageError
from edgeopt.formats import onnx, openvino, openvino_blob, ort, tflite, torch_files
from edgeopt.formats.spec import FormatSpec, Inspector, NoInspector

_BUILTIN: tuple[FormatSpec, ...] = (
    onnx.SPEC,
    ort.SPEC,
    openvino.SPEC,
    openvino_blob.SPEC,
    tflite.SPEC,
    *torch_files.SPECS,
)
_REGISTRY: dict[str, FormatSpec] = {s.name: s for s in _BUILTIN}
_plugins_loaded = False


def register(spec: FormatSpec) -> None:
    """Add a format (a plugin's entry point calls this); a name or suffix clash is an error."""
    taken = {sfx: s.name for s in _REGISTRY.values() for sfx in s.suffixes}
    clash = [sfx for sfx in spec.suffixes if sfx in taken and taken[sfx] != spec.name]
    if clash and spec.sniff is None:
        raise ValueError(
            f"format {spec.name}: suffix {clash[0]} already belongs to {taken[clash[0]]}"
        )
    _REGISTRY[spec.name] = spec


def _registry() -> dict[str, FormatSpec]:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        _load_plugins()
    return _REGISTRY


def _load_plugins() -> None:
    import importlib
    from importlib.metadata import entry_points

    for ep in entry_points(group="edgeopt.plugins"):
        ep.load()
    for name in filter(None, os.environ.get("EDGEOPT_PLUGINS", "").split(",")):
        try:
            importlib.import_module(name.strip())
        except ImportError as e:
            raise UsageError(
                f"cannot import plugin {name!r} named in EDGEOPT_PLUGINS: {e}",
                "fix the module path, or unset EDGEOPT_PLUGINS",
            ) from e


def all_formats() -> list[FormatSpec]:
    return list(_registry().values())


def names(capability: str | None = None) -> list[str]:
    """Format names, optionally only those offering a capability ("exporter", "runtimes", ...)."""
    return [s.name for s in all_formats() if capability is None or s.has(capability)]


def get_format(name: str, capability: str | None = None) -> FormatSpec:
    """The spec of `name`; with `capability`, a UsageError unless the format offers it."""
    spec = _registry().get(name)
    if spec is None:
        raise UsageError(f"unknown format {name!r}", f"known formats: {', '.join(names())}")
    if capability and not spec.has(capability):
        what = {"exporter": "export to", "quantizer": "quantize", "diagnoser": "diagnose"}
        raise UsageError(
            f"edgeopt cannot {what.get(capability, capability)} {name} models",
            f"formats that can: {', '.join(names(capability))}",
        )
    return spec


def spec_of(path: str | Path) -> FormatSpec | None:
    """The format of a file from its suffix (and its content where suffixes are shared)."""
    path = Path(path)
    name = path.name.lower()
    matches = [s for s in all_formats() if any(name.endswith(sfx) for sfx in s.suffixes)]
    if len(matches) > 1 and path.exists():
        sniffed = [s for s in matches if s.sniff is not None and s.sniff(path)]
        matches = sniffed or [s for s in matches if s.sniff is None] or matches
    return matches[0] if matches else None


def format_of(path: str | Path) -> str | None:
    spec = spec_of(path)
    return spec.name if spec else None


def companion_files(path: Path) -> list[Path]:
    """The files that make up one model (the main file first): IR .bin, external data, ..."""
    spec = spec_of(path)
    return spec.companions(Path(path)) if spec else [Path(path)]


def content_precision(path: Path) -> str | None:
    """What the file computes in, read from the file (None: its format cannot tell)."""
    spec = spec_of(path)
    inspector = spec.inspector if spec else None
    reader = getattr(inspector, "precision", None)  # plugins may predate this method
    return reader(Path(path)) if reader else None


def suffixes() -> list[str]:
    return [sfx for s in all_formats() for sfx in s.suffixes]


__all__ = [
    "FormatSpec",
    "Inspector",
    "NoInspector",
    "all_formats",
    "companion_files",
    "format_of",
    "get_format",
    "names",
    "register",
    "spec_of",
    "suffixes",
]
