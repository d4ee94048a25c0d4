"""What edgeopt knows about one model format, in one place (see formats/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Inspector(Protocol):
    """Reads a model file of one format without running it."""

    def check(self, path: Path) -> None:
        """Raise UsageError when the file is not what its suffix says (empty, truncated, ...)."""

    def op_counts(self, path: Path) -> dict[str, int]:
        """Op type -> how many times it occurs in the graph."""

    def stats(self, path: Path) -> dict:
        """What `optimize inspect` shows beyond the I/O: parameters, op histogram, opset, ..."""

    def precision(self, path: Path) -> str | None:
        """What the file computes in, read from its content ("int8", "fp16", "fp32"; None when
        the file cannot be read this way): a sidecar can be missing or wrong, the file cannot."""


class NoInspector:
    """For formats whose files cannot be read without their runtime (compiled blobs, .ort)."""

    def check(self, path: Path) -> None:
        from edgeopt.errors import UsageError

        if path.stat().st_size == 0:
            raise UsageError(f"{path} is empty", "re-export or re-download the model")

    def op_counts(self, path: Path) -> dict[str, int]:
        return {}

    def stats(self, path: Path) -> dict:
        return {}

    def precision(self, path: Path) -> str | None:
        return None


def main_file_only(path: Path) -> list[Path]:
    return [path]


@dataclass(frozen=True)
class FormatSpec:
    """One format: its names and suffixes, the files that travel with it, and who serves it.

    `exporter`, `quantizer` and `diagnoser` are "module:attribute" references (resolved with
    edgeopt.core.plugins.load by the step that uses them), so this low layer can name code
    that lives in higher layers without importing it. None: the capability does not exist.
    """

    name: str
    description: str
    suffixes: tuple[str, ...]  # the first one is what outputs of this format are named
    runtimes: tuple[str, ...] = ()  # names in edgeopt.runtimes.RUNTIMES; the first is the default
    exporter: str | None = None  # writes this format from a source model
    quantizer: str | None = None  # a QuantizeBackend for files of this format
    diagnoser: str | None = None  # a DiagnoseBackend (per-layer comparison)
    inspector: Inspector = field(default_factory=NoInspector)
    companions: Callable[[Path], list[Path]] = main_file_only  # main file first
    torch: bool = False  # loaded as a PyTorch module (sources only), not through a runtime
    sniff: Callable[[Path], bool] | None = None  # content check when suffixes are shared

    @property
    def suffix(self) -> str:
        return self.suffixes[0]

    @property
    def runnable(self) -> bool:
        return bool(self.runtimes)

    def has(self, capability: str) -> bool:
        """Whether the format offers `capability` (exporter, quantizer, diagnoser, runtimes)."""
        return bool(getattr(self, capability))
