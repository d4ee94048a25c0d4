"""Accuracy in the model's own metric: which metric fits each output, and budgets over them.

A classifier's logits are judged by top-1 agreement with the float reference (and accuracy
against labels when there are labels); an embedding by the cosine to the reference (mean and
worst sample) and by how often each sample's nearest neighbour changes; anything else by the
cosine and the relative error. One table (QUALITY_KEYS) names every budget key with its unit,
so quantize, prune, the gate and recipes read the same keys the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from edgeopt.errors import UsageError


class OutputKind(StrEnum):
    CLASSIFICATION = "classification"  # [N, classes] scores
    EMBEDDING = "embedding"  # [N, D] (pooled) or [N, T, D] (per token) vectors
    REGRESSION = "regression"  # maps, boxes, values: anything else


@dataclass(frozen=True)
class QualityKey:
    """One budget key: the metric it reads, its direction and unit, and when it applies."""

    metric: str  # key in the measured metrics dict
    direction: str  # "min": measured must stay at or above; "max": at or below
    unit: str  # "fraction" (0..1) or "points" (0..100)
    description: str
    needs_labels: bool = False


QUALITY_KEYS: dict[str, QualityKey] = {
    "agreement_min": QualityKey(
        "agreement", "min", "fraction", "top-1 agreement with the reference (classifiers)"
    ),
    "cosine_mean_min": QualityKey(
        "cosine_mean", "min", "fraction", "mean cosine to the reference outputs"
    ),
    "cosine_min_min": QualityKey(
        "cosine_min", "min", "fraction", "worst sample's cosine to the reference outputs"
    ),
    "nn_change_max": QualityKey(
        "nn_change",
        "max",
        "fraction",
        "share of samples whose nearest neighbour changes (embeddings)",
    ),
    "rel_error_max": QualityKey(
        "rel_error", "max", "fraction", "mean |candidate - reference| / mean |reference|"
    ),
    "accuracy_min": QualityKey(
        "accuracy", "min", "fraction", "top-1 accuracy on labelled data", needs_labels=True
    ),
    "accuracy_drop_max_points": QualityKey(
        "accuracy_drop_points",
        "max",
        "points",
        "top-1 accuracy drop against the reference, in percentage points",
        needs_labels=True,
    ),
    "per_class_drop_max_points": QualityKey(
        "per_class_drop_points",
        "max",
        "points",
        "largest per-class accuracy drop against the reference, in points",
        needs_labels=True,
    ),
}
RENAMED = {
    "accuracy_drop_max": "accuracy_drop_max_points",
    "per_class_drop_max": "per_class_drop_max_points",
}
UNIT_RANGE = {"fraction": (0.0, 1.0), "points": (0.0, 100.0)}

# what quantize and compile hold an artifact to when no budget is given: a quantized model
# below these against its float parent is refused unless the user sets a lower budget
DEFAULT_FLOORS: dict[OutputKind, dict[str, float]] = {
    OutputKind.CLASSIFICATION: {"agreement_min": 0.97},
    OutputKind.EMBEDDING: {"cosine_mean_min": 0.98},
    OutputKind.REGRESSION: {"cosine_mean_min": 0.98},
}

_CLASS_NAMES = ("logit", "score", "prob", "class")
_EMBED_NAMES = ("embed", "hidden", "pooler", "feature", "vector")


def check_quality_value(key: str, value: object, where: str) -> float:
    """The budget value as a float, or a UsageError naming the key, value and accepted range."""
    if key in RENAMED:
        raise UsageError(
            f"budget key {key!r} in {where} was renamed to {RENAMED[key]!r}, in points",
            f"write {RENAMED[key]} = 1.0 for one percentage point",
        )
    spec = QUALITY_KEYS[key]
    lo, hi = UNIT_RANGE[spec.unit]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise UsageError(
            f"budget {key!r} in {where} must be a number, got {value!r}",
            f"write e.g. {key} = {hi / 2:g} ({spec.unit}, {lo:g} to {hi:g})",
        )
    if not lo <= value <= hi:
        hint = " (1.0 = one percentage point)" if spec.unit == "points" else ""
        raise UsageError(
            f"budget {key} = {value} in {where} is outside {lo:g}..{hi:g} ({spec.unit}{hint})",
            f"{key} is a {spec.unit}: {spec.description}",
        )
    return float(value)


def parse_budget_args(values: tuple[str, ...] | list[str], where: str) -> dict[str, float]:
    """`KEY=VALUE` pairs (the CLI's --accuracy-budget) checked against QUALITY_KEYS."""
    out = {}
    for text in values:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or (key not in QUALITY_KEYS and key not in RENAMED):
            raise UsageError(
                f"malformed {where} {text!r}",
                f"write KEY=VALUE with KEY one of: {', '.join(QUALITY_KEYS)} "
                "(e.g. agreement_min=0.99 or accuracy_drop_max_points=1)",
            )
        try:
            value = float(raw)
        except ValueError:
            value = raw
        out[key] = check_quality_value(key, value, where)
    return out


def output_kind(name: str, arr: np.ndarray, labels=None, task: str | None = None) -> OutputKind:
    """Which metric fits an output: from the task, the name, then the shape and values."""
    arr = np.asarray(arr)
    lname = (name or "").lower()
    if arr.ndim < 2 or not np.issubdtype(arr.dtype, np.floating):
        return OutputKind.REGRESSION
    if task in ("feature-extraction", "embedding", "sentence-embedding"):
        return OutputKind.EMBEDDING
    if any(k in lname for k in _EMBED_NAMES):
        return OutputKind.EMBEDDING
    if arr.ndim == 2 and arr.shape[1] > 1:
        if labels is not None and np.issubdtype(np.asarray(labels).dtype, np.integer):
            if int(np.max(labels)) < arr.shape[1]:
                return OutputKind.CLASSIFICATION
        if any(k in lname for k in _CLASS_NAMES) or task == "classification":
            return OutputKind.CLASSIFICATION
        norms = np.linalg.norm(arr.reshape(len(arr), -1), axis=1)
        if len(norms) and np.allclose(norms, 1.0, atol=1e-3):
            return OutputKind.EMBEDDING  # unit vectors: a normalised embedding
        return OutputKind.CLASSIFICATION
    return OutputKind.REGRESSION


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a.reshape(len(a), -1) if a.ndim > 1 else a[:, None]


def cosines(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Cosine per sample (rows of the flattened outputs); 1 where both rows are zero."""
    r, g = _rows(ref), _rows(got)
    num = (r * g).sum(1)
    den = np.linalg.norm(r, axis=1) * np.linalg.norm(g, axis=1)
    both_zero = (np.linalg.norm(r, axis=1) == 0) & (np.linalg.norm(g, axis=1) == 0)
    return np.where(both_zero, 1.0, num / np.maximum(den, 1e-30))


def nearest_neighbour_change(ref: np.ndarray, got: np.ndarray) -> float | None:
    """Share of samples whose nearest other sample (by cosine) differs between the two."""
    if len(ref) < 3:
        return None
    r, g = _rows(ref), _rows(got)
    if r.ndim == 2 and np.asarray(ref).ndim == 3:  # per-token vectors: compare mean-pooled
        r, g = np.asarray(ref).mean(1), np.asarray(got).mean(1)

    def nn(x: np.ndarray) -> np.ndarray:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
        sim = x @ x.T
        np.fill_diagonal(sim, -np.inf)
        return sim.argmax(1)

    return float((nn(r) != nn(g)).mean())


def compare_output(
    kind: OutputKind, ref: np.ndarray, got: np.ndarray, labels=None
) -> dict[str, float]:
    """The metrics of one output against its reference (fractions; drops in points)."""
    ref, got = np.asarray(ref), np.asarray(got)
    if ref.shape != got.shape:
        return {"shape_mismatch": 1.0}
    cos = cosines(ref, got)
    scale = float(np.mean(np.abs(ref))) or 1.0
    out = {
        "cosine_mean": float(cos.mean()),
        "cosine_min": float(cos.min()),
        "rel_error": float(np.mean(np.abs(got.astype(np.float64) - ref)) / scale),
    }
    if kind == OutputKind.CLASSIFICATION:
        r, g = ref.argmax(-1), got.argmax(-1)
        out["agreement"] = float((r == g).mean())
        if labels is not None:
            y = np.asarray(labels).reshape(-1)
            out["accuracy"] = float((g == y).mean())
            out["reference_accuracy"] = float((r == y).mean())
            out["accuracy_drop_points"] = 100.0 * (out["reference_accuracy"] - out["accuracy"])
            drops = [float((r[y == c] == c).mean() - (g[y == c] == c).mean()) for c in np.unique(y)]
            out["per_class_drop_points"] = 100.0 * max(drops, default=0.0)
    elif kind == OutputKind.EMBEDDING:
        change = nearest_neighbour_change(ref, got)
        if change is not None:
            out["nn_change"] = change
    return out


def _near(value: float, limit: float) -> str:
    """4 significant digits, or as many as it takes not to look equal to the limit."""
    for digits in range(4, 10):
        text = f"{value:.{digits}g}"
        if value == limit or float(text) != limit:
            return text
    return text


@dataclass
class QualityReport:
    """Every output's kind and metrics, and the value each budget key reads (worst output)."""

    outputs: dict[str, dict]  # name -> {"kind": ..., metric: value}

    def value(self, key: str) -> float | None:
        spec = QUALITY_KEYS[key]
        vals = [o[spec.metric] for o in self.outputs.values() if spec.metric in o]
        if not vals:
            return None
        return min(vals) if spec.direction == "min" else max(vals)

    def meets(self, budgets: dict[str, float]) -> bool:
        return all(self.verdict(k, v)[0] for k, v in budgets.items())

    def verdict(self, key: str, limit: float) -> tuple[bool, float | None]:
        v = self.value(key)
        if v is None:
            return False, None
        ok = v >= limit - 1e-12 if QUALITY_KEYS[key].direction == "min" else v <= limit + 1e-12
        return ok, v

    def shortfall(self, budgets: dict[str, float]) -> float:
        """How far from meeting the budgets (0 when met): what an accuracy search minimises."""
        total = 0.0
        for key, limit in budgets.items():
            ok, v = self.verdict(key, limit)
            if not ok:
                scale = 100.0 if QUALITY_KEYS[key].unit == "points" else 1.0
                total += math.inf if v is None else abs(v - limit) / scale
        return total

    def describe(self, budgets: dict[str, float]) -> str:
        """`agreement 0.994 (>= 0.99 ok)`-style text of the budgeted figures."""
        parts = []
        for key, limit in budgets.items():
            ok, v = self.verdict(key, limit)
            spec = QUALITY_KEYS[key]
            cmp = ">=" if spec.direction == "min" else "<="
            shown = "not measured" if v is None else _near(v, limit)
            parts.append(f"{spec.metric} {shown} ({cmp} {limit:g} {'ok' if ok else 'MISSED'})")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {"outputs": self.outputs}


def measure_quality(
    names: list[str],
    reference: list[np.ndarray],
    candidate: list[np.ndarray],
    labels=None,
    task: str | None = None,
    kinds: dict[str, str] | None = None,
) -> QualityReport:
    """Compare every output with its reference in the metric its kind calls for.

    `kinds` overrides the detected kind per output name (a recipe's [metrics] table).
    """
    outputs = {}
    for i, (r, g) in enumerate(zip(reference, candidate)):
        name = names[i] if i < len(names) else f"output_{i}"
        given = (kinds or {}).get(name)
        kind = (
            OutputKind(given) if given else output_kind(name, r, labels if i == 0 else None, task)
        )
        outputs[name] = {
            "kind": str(kind),
            **compare_output(kind, r, g, labels if i == 0 else None),
        }
    return QualityReport(outputs)


def default_floor(report_or_kinds) -> dict[str, float]:
    """The default budgets for a model whose outputs have these kinds (first output decides)."""
    kinds = (
        [o["kind"] for o in report_or_kinds.outputs.values()]
        if isinstance(report_or_kinds, QualityReport)
        else list(report_or_kinds)
    )
    return dict(DEFAULT_FLOORS[OutputKind(kinds[0])]) if kinds else {}
