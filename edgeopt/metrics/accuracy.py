"""Accuracy on real data: top-1/top-5 against labels, agreement with a reference model.

Shared by bench, quantize, prune and run, so every step reports accuracy the same way.
"""

from __future__ import annotations

import numpy as np

from edgeopt.data.base import Dataset
from edgeopt.data.inputs import fit_inputs
from edgeopt.metrics.compare import compare_outputs, is_classifier_output
from edgeopt.runtimes.base import Session


def predict(session: Session, arrays: list[np.ndarray], batch: int = 64) -> list[np.ndarray]:
    """Run `session` over all samples in batches; outputs concatenated along the first axis."""
    parts: list[list[np.ndarray]] = []
    n = len(arrays[0])
    for i in range(0, n, batch):
        parts.append(session.run([a[i : i + batch] for a in arrays]))
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def check_labels(labels: np.ndarray, n_classes: int, where: str) -> None:
    """Labels a classifier with `n_classes` outputs can have: integers in [0, n_classes).
    Any other label would score as a silent 0% (or crash training), so it is refused."""
    from edgeopt.errors import UsageError

    y = np.asarray(labels).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise UsageError(
            f"labels of {where} are {y.dtype}, not class indices", "store integer labels"
        )
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UsageError(
            f"label {int(y[i])} (sample {i}, {int(bad.sum())} such) of {where} is outside the "
            f"model's {n_classes} classes (0..{n_classes - 1})",
            "give labels as class indices of this model's outputs",
        )


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Top-1, top-5 (when there are more than 5 classes) and per-class accuracy."""
    labels = np.asarray(labels).reshape(-1)
    check_labels(labels, logits.shape[1], "the evaluation data")
    pred = logits.argmax(-1)
    out = {"samples": int(len(labels)), "top1": float((pred == labels).mean())}
    if logits.shape[-1] > 5:
        top5 = np.argsort(-logits, axis=-1)[:, :5]
        out["top5"] = float((top5 == labels[:, None]).any(1).mean())
    out["per_class"] = {
        str(int(c)): float((pred[labels == c] == c).mean()) for c in np.unique(labels)
    }
    return out


def per_class_drop(reference: dict, candidate: dict) -> tuple[str | None, float]:
    """The class whose accuracy fell most from `reference` to `candidate`, and by how much."""
    worst, drop = None, 0.0
    for cls, acc in reference.get("per_class", {}).items():
        d = acc - candidate.get("per_class", {}).get(cls, 0.0)
        if worst is None or d > drop:
            worst, drop = cls, d
    return worst, float(drop)


def evaluate(
    session: Session,
    dataset: Dataset,
    reference_outputs: list[np.ndarray] | None = None,
    batch: int = 64,
) -> tuple[dict, list[np.ndarray]]:
    """Accuracy of `session` on `dataset` (and agreement with reference outputs if given).

    Returns (metrics, outputs) so a caller can reuse the outputs as the next reference.
    """
    arrays = fit_inputs(dataset, session.inputs)
    outputs = predict(session, arrays, batch)
    metrics: dict = {"dataset": dataset.describe()}
    first = outputs[0]
    if dataset.labels is not None and is_classifier_output(first):
        metrics.update(classification_metrics(first, dataset.labels))
    if reference_outputs is not None:
        metrics["agreement"] = compare_outputs(reference_outputs[0], first)
    return metrics, outputs
