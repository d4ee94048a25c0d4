"""PyTorch files as sources: torch.export programs, TorchScript, and full pickles."""

from __future__ import annotations

import zipfile
from pathlib import Path

from edgeopt.errors import UsageError
from edgeopt.formats.spec import FormatSpec


class TorchArchiveInspector:
    def check(self, path: Path) -> None:
        if path.stat().st_size == 0:
            raise UsageError(f"{path} is empty", "re-export or re-download the model")
        if not zipfile.is_zipfile(path):
            raise UsageError(f"{path} is not a PyTorch archive", "check the file is complete")

    def op_counts(self, path: Path) -> dict[str, int]:
        return {}

    def stats(self, path: Path) -> dict:
        return {}


def is_torchscript(path: Path) -> bool:
    """A TorchScript archive by content: a zip holding the scripted code (`*/code/__torch__*`),
    whatever its name (model zoos ship them as .pt, .pth or .jit)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/__torch__" in n for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _torch_format(name: str, description: str, suffixes: tuple[str, ...], sniff=None) -> FormatSpec:
    return FormatSpec(
        name=name,
        description=description,
        suffixes=suffixes,
        inspector=TorchArchiveInspector(),
        torch=True,
        sniff=sniff,
    )


SPECS = (
    _torch_format("torch-export", "torch.export program (.pt2)", (".pt2",)),
    # a .pt/.pth file is loaded as TorchScript first (models.torch_files), pickle second
    _torch_format(
        "torchscript", "TorchScript archive (.ts, .jit)", (".ts", ".jit"), sniff=is_torchscript
    ),
    _torch_format(
        "torch", "PyTorch pickle (.pt, .pth; TorchScript when it is one)", (".pt", ".pth")
    ),
)
