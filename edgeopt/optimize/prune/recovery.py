"""Accuracy recovery after pruning: fine-tune on the TRAIN split, optionally distilling."""

from __future__ import annotations

import numpy as np
from torch import nn

from edgeopt.data import DataRef, data_ref_name, fit_inputs, resolve_data
from edgeopt.errors import UsageError


def finetune(
    model: nn.Module,
    specs,
    data: DataRef,
    epochs: int,
    lr: float = 1e-3,
    teacher: nn.Module | None = None,
    seed: int = 0,
) -> dict:
    """Fine-tune `model` in place on `data`'s training split (never its eval samples)."""
    from edgeopt.models.training import train_model

    if len(specs) != 1:
        raise UsageError(
            "fine-tuning supports single-input models only",
            "prune without --finetune, or fine-tune the model yourself",
        )
    train = resolve_data(data, "train")
    if train.labels is None:
        raise UsageError(
            f"dataset {train.spec} has no labels to fine-tune on",
            "give a labelled dataset (npz with y=..., or sklearn:...)",
        )
    (x,) = fit_inputs(train, specs)
    y = np.asarray(train.labels).astype(np.int64).reshape(-1)
    if teacher is not None:
        teacher.eval()
    train_model(model, x, y, epochs, lr=lr, seed=seed, teacher=teacher)
    return {
        "dataset": data_ref_name(data),
        "split": train.split,
        "samples": int(len(x)),
        "epochs": epochs,
        "lr": lr,
        "distill": teacher is not None,
    }


def calibration_batches(data: DataRef, specs, batches: int, batch: int = 32) -> list | None:
    """A few labelled batches (calib split) for data-driven importance; None without data."""
    import torch

    ds = resolve_data(data_ref_name(data), "calib", samples=batches * batch)
    if ds is None:
        return None
    arrays = fit_inputs(ds, specs)
    out = []
    for i in range(0, len(arrays[0]), batch):
        inputs = tuple(torch.from_numpy(a[i : i + batch]) for a in arrays)
        labels = (
            None
            if ds.labels is None
            else torch.from_numpy(np.asarray(ds.labels[i : i + batch]).astype(np.int64))
        )
        out.append((inputs, labels))
    return out
