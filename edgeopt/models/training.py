"""The training loop shared by the built-in models' weights script and pruning recovery."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgeopt.core.progress import task
from edgeopt.metrics.accuracy import check_labels


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
    with torch.no_grad():
        check_labels(y, model.eval()(xt[:1]).shape[1], "the fine-tuning data")
    with task(f"fine-tune {len(xt)} samples", total=epochs, unit="epochs") as bar:
        for _ in range(epochs):
            _epoch(model, opt, xt, yt, batch, gen, teacher)
            sched.step()
            bar.advance()
    return model.eval()


def _epoch(model, opt, xt, yt, batch: int, gen, teacher) -> None:
    """One pass over the data in shuffled batches."""
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
