"""Artifacts: a model file on disk plus a JSON sidecar with its metadata and lineage."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from edgeopt.core.files import atomic_write_text, check_writable, publish, sha256_file
from edgeopt.core.spec import TensorSpec, specs_from_json, specs_to_json
from edgeopt.errors import UsageError
from edgeopt.formats import companion_files

SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".edgeopt.json"


def sidecar_path(model_path: str | Path) -> Path:
    return Path(str(model_path) + SIDECAR_SUFFIX)


TOOL_PACKAGES = (
    "torch",
    "onnx",
    "onnxscript",  # torch's dynamo ONNX exporter
    "onnxruntime",
    "onnxruntime-gpu",
    "openvino",
    "nncf",
    "ai-edge-litert",
    "ai-edge-quantizer",
    "litert-torch",
    "torch-pruning",
    "numpy",
)


def tool_versions() -> dict[str, str | None]:
    """Versions of every runtime/converter (None: not installed): recorded in each sidecar and
    part of every cache key, so an upgrade never reuses what an older tool made."""
    from importlib import metadata

    import edgeopt

    out: dict[str, str | None] = {
        "edgeopt": edgeopt.__version__,
        "python": platform.python_version(),
    }
    for pkg in TOOL_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


@dataclass
class Artifact:
    """Metadata of one model file; written as `<file>.edgeopt.json` beside it."""

    path: Path
    format: str
    precision: str = "fp32"
    target: str | None = None
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    sha256: str = ""
    size_bytes: int = 0
    parent: dict | None = None  # {"path":..., "sha256":...} or a source description
    step: str = ""
    params: dict = field(default_factory=dict)
    dataset: str | None = None  # evaluation dataset known for this model
    task: str | None = None  # e.g. "classification"
    parity: dict | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    tools: dict = field(default_factory=tool_versions)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def files(self) -> list[Path]:
        return companion_files(self.path)

    def refresh_hash(self) -> None:
        self.sha256 = sha256_file(self.path)
        self.size_bytes = sum(p.stat().st_size for p in self.files if p.exists())

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "file": self.path.name,
            "files": {p.name: sha256_file(p) for p in self.files if p.exists()},
            "format": self.format,
            "precision": self.precision,
            "target": self.target,
            "inputs": specs_to_json(self.inputs),
            "outputs": specs_to_json(self.outputs),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "parent": self.parent,
            "step": self.step,
            "params": self.params,
            "dataset": self.dataset,
            "task": self.task,
            "parity": self.parity,
            "notes": self.notes,
            "extra": self.extra,
            "tools": self.tools,
            "created": self.created,
        }

    def write_sidecar(self, path: Path | None = None) -> Path:
        """Write metadata for the file at `path` (default: this artifact's own path)."""
        target = sidecar_path(path or self.path)
        atomic_write_text(target, json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        return target

    @classmethod
    def load(cls, model_path: str | Path) -> Artifact | None:
        """Read the sidecar of `model_path`; None when there is none (a foreign file)."""
        model_path = Path(model_path)
        sc = sidecar_path(model_path)
        if not sc.exists():
            return None
        try:
            d = json.loads(sc.read_text())
        except json.JSONDecodeError as e:
            raise UsageError(f"corrupt sidecar {sc}: {e}", "delete it or re-run the step") from e
        return cls(
            path=model_path,
            format=d["format"],
            precision=d.get("precision", "fp32"),
            target=d.get("target"),
            inputs=specs_from_json(d.get("inputs", [])),
            outputs=specs_from_json(d.get("outputs", [])),
            sha256=d.get("sha256", ""),
            size_bytes=d.get("size_bytes", 0),
            parent=d.get("parent"),
            step=d.get("step", ""),
            params=d.get("params", {}),
            dataset=d.get("dataset"),
            task=d.get("task"),
            parity=d.get("parity"),
            notes=d.get("notes", []),
            extra=d.get("extra", {}),
            tools=d.get("tools", {}),
            created=d.get("created", ""),
        )


def artifact_files(path: Path) -> list[Path]:
    """Every file one artifact consists of: the model, its companions, and its sidecar last."""
    return [*companion_files(Path(path)), sidecar_path(path)]


def check_free(path: Path, force: bool) -> None:
    """Refuse to overwrite any file of an artifact at `path` unless forced."""
    check_writable(artifact_files(path), force)


def publish_artifact(staged: Path, out: Path) -> None:
    """Move a staged model, its companions and (last) its sidecar to `out`'s folder."""
    moves = [(p, out.parent / p.name) for p in companion_files(staged) if p.exists()]
    publish([*moves, (sidecar_path(staged), sidecar_path(out))])
