"""A dataset: one array per model input (first axis = sample), optional labels, its split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EVAL_FRACTION = 0.25
SPLIT_SEED = 0


@dataclass
class Dataset:
    """Samples (one array per model input, first axis = sample) and optional labels."""

    spec: str
    inputs: list[np.ndarray]
    labels: np.ndarray | None
    split: str = "all"
    class_names: list[str] | None = None
    names: list[str] | None = None  # input names, when the data knows them (tokenized text)

    def __len__(self) -> int:
        return len(self.inputs[0])

    def take(self, idx: np.ndarray | slice, split: str | None = None) -> Dataset:
        return Dataset(
            self.spec,
            [x[idx] for x in self.inputs],
            None if self.labels is None else self.labels[idx],
            split or self.split,
            self.class_names,
            self.names,
        )

    def batches(self, batch: int) -> list[list[np.ndarray]]:
        return [[x[i : i + batch] for x in self.inputs] for i in range(0, len(self), batch)]

    def describe(self) -> dict:
        return {
            "spec": self.spec,
            "split": self.split,
            "samples": len(self),
            "rule": f"seed {SPLIT_SEED}, {int(EVAL_FRACTION * 100)}% held out for eval"
            if self.split != "all"
            else "all samples",
        }
