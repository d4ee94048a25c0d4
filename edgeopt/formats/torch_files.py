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


def _torch_format(name: str, description: str, suffixes: tuple[str, ...]) -> FormatSpec:
    return FormatSpec(
        name=name,
        description=description,
        suffixes=suffixes,
        inspector=TorchArchiveInspector(),
        torch=True,
    )


SPECS = (
    _torch_format("torch-export", "torch.export program (.pt2)", (".pt2",)),
    _torch_format("torchscript", "TorchScript archive (.ts)", (".ts",)),
    _torch_format(
        "torch", "PyTorch pickle (.pt, .pth; TorchScript when it is one)", (".pt", ".pth")
    ),
)
