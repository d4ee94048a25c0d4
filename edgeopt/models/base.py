"""A loaded source model: what every later step reads (module or file, input specs, dataset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.spec import TensorSpec


@dataclass
class SourceModel:
    """A loaded source: a torch module (with input specs) or a model file of another format."""

    ref: str
    format: str  # "torch" for PyTorch modules, else the file's format name (edgeopt.formats)
    name: str
    inputs: list[TensorSpec]
    output_names: list[str] = field(default_factory=list)
    module: object | None = None  # torch.nn.Module for torch sources
    path: Path | None = None  # for file sources
    dataset: str | None = None
    task: str | None = None
    example: list[np.ndarray] | None = None  # example inputs given by a factory
    artifact: Artifact | None = None  # the sidecar when the file is one of ours
    preprocessing: dict | None = None  # what raw inputs need (tokenizer, image processor)
    digest: str | None = None  # content hash when no single file identifies the source

    @property
    def is_torch(self) -> bool:
        return self.format == "torch"

    def describe(self) -> dict:
        d = {"ref": self.ref, "format": self.format, "name": self.name}
        if self.path:
            from edgeopt.core.files import sha256_file

            d["sha256"] = sha256_file(self.path)
        elif self.digest:
            d["sha256"] = self.digest
        return d
