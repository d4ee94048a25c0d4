"""The built-in reference models: trained weights shipped in the package, each with its dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from edgeopt.core.spec import TensorSpec
from edgeopt.errors import UsageError
from edgeopt.models import nets

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    description: str
    build: Callable[[], nn.Module]
    inputs: tuple[TensorSpec, ...]
    output: str
    dataset: str  # its evaluation dataset spec (the eval split is used)
    task: str = "classification"

    @property
    def weights(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.pt"

    def load(self) -> nn.Module:
        model = self.build()
        if not self.weights.exists():
            raise UsageError(
                f"weights of built-in model {self.name} are missing ({self.weights})",
                "reinstall edgeopt, or run python -m edgeopt.models.train",
            )
        model.load_state_dict(torch.load(self.weights, map_location="cpu", weights_only=True))
        return model.eval()


BUILTINS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel(
            "digits-cnn",
            "4-layer CNN on scikit-learn's 8x8 handwritten digits",
            nets.DigitsCNN,
            (TensorSpec("input", ["batch", 1, 8, 8]),),
            "logits",
            "sklearn:digits",
        ),
        BuiltinModel(
            "digits-transformer",
            "2-layer transformer encoder reading each digit as 8 rows of 8 pixels",
            nets.DigitsTransformer,
            (TensorSpec("input", ["batch", 8, 8]),),
            "logits",
            "sklearn:digits",
        ),
        BuiltinModel(
            "tabular-mlp",
            "3-layer MLP on scikit-learn's breast-cancer table (30 features, 2 classes)",
            lambda: nets.TabularMLP(30, 2),
            (TensorSpec("input", ["batch", 30]),),
            "logits",
            "sklearn:breast_cancer",
        ),
    )
}


def get_builtin(name: str) -> BuiltinModel:
    if name not in BUILTINS:
        raise UsageError(f"unknown built-in model {name!r}", f"use one of: {', '.join(BUILTINS)}")
    return BUILTINS[name]
