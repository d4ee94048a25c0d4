"""Reproduce the built-in models' weights: ``python -m edgeopt.models.train [NAME ...]``.

Seeded and single-threaded, so a rerun on the same stack gives the same weights; training
uses only the training split of each dataset (the eval split stays unseen).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgeopt.data import fit_inputs, load_dataset
from edgeopt.models.builtin import BUILTINS, WEIGHTS_DIR, BuiltinModel

EPOCHS = {"digits-cnn": 30, "digits-transformer": 60, "tabular-mlp": 80}


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


def train_model(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float = 3e-3,
    batch: int = 64,
    seed: int = 0,
    teacher: nn.Module | None = None,
) -> nn.Module:
    """Plain Adam + cosine schedule; with a teacher, adds a distillation term (used by prune)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(batch):
            logits = model(xt[idx])
            loss = nn.functional.cross_entropy(logits, yt[idx])
            if teacher is not None:
                with torch.no_grad():
                    soft = torch.softmax(teacher(xt[idx]) / 2.0, dim=1)
                loss = loss + nn.functional.kl_div(
                    torch.log_softmax(logits / 2.0, dim=1), soft, reduction="batchmean"
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return model.eval()


def train_builtin(spec: BuiltinModel, out_dir: Path) -> dict:
    torch.manual_seed(0)
    model = spec.build()
    train = load_dataset(spec.dataset, "train")
    ev = load_dataset(spec.dataset, "eval")
    (x,) = fit_inputs(train, list(spec.inputs))
    (xe,) = fit_inputs(ev, list(spec.inputs))
    if hasattr(model, "mean"):  # the MLP standardises inside the model
        model.mean.copy_(torch.from_numpy(x.mean(0)))
        model.std.copy_(torch.from_numpy(x.std(0) + 1e-6))
    train_model(model, x, train.labels, EPOCHS[spec.name])
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / f"{spec.name}.pt")
    return {
        "model": spec.name,
        "train_samples": len(train),
        "eval_samples": len(ev),
        "eval_accuracy": round(accuracy(model, xe, ev.labels), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", default=list(BUILTINS))
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in args.names:
        print(json.dumps(train_builtin(BUILTINS[name], args.out)))


if __name__ == "__main__":
    main()
