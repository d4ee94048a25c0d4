"""How quantize judges a candidate: its quality against the float parent in the model's own
metric (edgeopt.metrics.quality), on evaluation data that never served as calibration.

Without a budget the parent's output kind sets a default floor (a classifier keeps 97% of its
top-1 answers, an embedding a mean cosine of 0.98): quantize refuses to hand back a model
below it unless the user sets a lower budget.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.artifacts.artifact import Artifact
from edgeopt.data import Dataset
from edgeopt.metrics.accuracy import classification_metrics, predict
from edgeopt.metrics.quality import QUALITY_KEYS, QualityReport, default_floor, measure_quality
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import PARITY_OPTIONS

# accuracy runs OpenVINO in f32 (this CPU defaults to bf16, which would blur the comparison)
EVAL_OPTIONS = PARITY_OPTIONS
# the deployment batch: dynamic int8 computes activation ranges per call, so a batch of 64
# judged it differently (99.5% agreement) from the batch 1 it runs at (100%)
EVAL_BATCH = 1


class Scorer:
    """Runs candidates on the evaluation arrays and compares them with the float parent."""

    def __init__(
        self,
        parent: Artifact,
        dataset: Dataset | None,
        arrays: list[np.ndarray],
        budgets: dict[str, float] | None,
        kinds: dict[str, str] | None = None,
    ):
        sess = open_session(parent.path, options=EVAL_OPTIONS)
        declared = [o.name for o in parent.outputs]
        self.names = (
            declared if len(declared) == len(sess.outputs) else [o.name for o in sess.outputs]
        )
        self.arrays, self.task, self.kinds = arrays, parent.task, kinds
        self.labels = dataset.labels if dataset is not None else None
        self.ref = predict(sess, arrays, EVAL_BATCH)
        self.evaluation = (
            dataset.describe()
            if dataset is not None
            else {"spec": None, "note": f"seeded random inputs ({len(arrays[0])} samples)"}
        )
        self.parent = {"dataset": self.evaluation}
        self.kind_of = self.report_for(self.ref)
        if self.labels is not None and "agreement" in next(iter(self.kind_of.outputs.values())):
            self.parent.update(classification_metrics(self.ref[0], self.labels))
        self.explicit = bool(budgets)
        self.budgets = dict(budgets) if budgets else default_floor(self.kind_of)

    def report_for(self, outputs: list[np.ndarray]) -> QualityReport:
        return measure_quality(self.names, self.ref, outputs, self.labels, self.task, self.kinds)

    def score(self, path: Path) -> QualityReport:
        return self.report_for(
            predict(open_session(path, options=EVAL_OPTIONS), self.arrays, EVAL_BATCH)
        )

    def summary(self, report: QualityReport) -> dict:
        """The figures a person reads first: top-1 against labels when there are labels, else
        the budgeted metric (kept as `metric`/`drop` in the sidecar)."""
        first = next(iter(report.outputs.values()))
        if "top1" in self.parent and "accuracy" in first:
            child = {"top1": first["accuracy"]}
            return {
                "metric": "top1",
                "child": child,
                "drop": self.parent["top1"] - first["accuracy"],
            }
        key = next(iter(self.budgets))
        spec, value = QUALITY_KEYS[key], report.value(key)
        drop = None if value is None else (1.0 - value if spec.direction == "min" else value)
        return {"metric": spec.metric, "child": {spec.metric: value}, "drop": drop}
