"""Unstructured magnitude pruning: zeros individual weights, keeps every shape.

Dense runtimes (ONNX Runtime, OpenVINO, LiteRT) store and multiply the zeros anyway, so the
exported file is as large and as fast as before; only a compressed copy shrinks. Said loudly.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from torch import nn

from edgeopt.optimize.prune.structured import PRUNABLE

CAVEAT = (
    "unstructured pruning only zeroes weights: dense runtimes (ONNX Runtime, OpenVINO, "
    "LiteRT) keep the same file size and speed; only compressed storage shrinks. "
    "Use structured pruning (the default) to make the model smaller and faster."
)


def unstructured_prune(model: nn.Module, cfg, ignore: list[nn.Module]) -> dict:
    """Global L1 magnitude pruning of Conv/Linear weights (ignored layers excluded), made permanent."""
    from torch.nn.utils import prune

    ignored = {m for layer in ignore for m in layer.modules()}
    params = [
        (m, "weight") for m in model.modules() if isinstance(m, PRUNABLE) and m not in ignored
    ]
    if not params:
        from edgeopt.errors import UsageError

        raise UsageError(
            "the model has no prunable layers left after --ignore and the classifier",
            "drop some --ignore names",
        )
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=cfg.sparsity)
    for m, name in params:
        prune.remove(m, name)
    return {"weight_sparsity": weight_sparsity(model, ignore=ignored)}


def weight_sparsity(model: nn.Module, ignore: set | None = None) -> float:
    """Fraction of exactly-zero weights over the Conv/Linear layers considered."""
    total = zeros = 0
    for m in model.modules():
        if isinstance(m, PRUNABLE) and m not in (ignore or set()):
            total += m.weight.numel()
            zeros += int((m.weight == 0).sum())
    return zeros / total if total else 0.0


def gzip_size(path: Path) -> int:
    """Size of the file compressed with gzip (level 9): what sparsity buys in storage."""
    return len(gzip.compress(Path(path).read_bytes(), compresslevel=9))
