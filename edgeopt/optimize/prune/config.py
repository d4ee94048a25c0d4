"""The typed configuration of one `optimize prune` run (doubles as a search space via `sweep`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from edgeopt.data import DataRef, data_ref_name
from edgeopt.errors import UsageError

ALLOCATIONS = ("uniform", "global")
IMPORTANCES = ("magnitude", "taylor")
DEFAULT_BUDGET_SWEEP = (0.25, 0.4, 0.5, 0.6, 0.7, 0.8)
PRUNE_BUDGET_KEYS = ("accuracy_drop_max_points", "accuracy_min")


@dataclass
class PruneConfig:
    sparsity: float = 0.5  # fraction of channels/units (structured) or weights (unstructured)
    structured: bool = True
    allocation: str = "uniform"  # uniform: same ratio per layer; global: ranked across layers
    importance: str = "magnitude"  # magnitude (L2) or taylor (gradient x weight, a few batches)
    ignore: list[str] = field(default_factory=list)  # module names left alone (+ the classifier)
    finetune: DataRef = None  # recovery data (its TRAIN split)
    epochs: int = 10
    lr: float = 1e-3
    distill: bool = False  # recovery also matches the unpruned model's soft outputs
    # quality keys pruning can meet: top-1 against labels (accuracy_drop_max_points, accuracy_min)
    accuracy_budget: dict[str, float] | None = None
    sweep: list[float] = field(default_factory=list)
    data: DataRef = None  # evaluation data (default: the model's own dataset)
    calib_batches: int = 4  # batches for the taylor importance
    output: Path | None = None
    force: bool = False

    def validate(self) -> None:
        for s in [self.sparsity, *self.sweep]:
            if not 0.0 < s < 1.0:
                raise UsageError(
                    f"sparsity must be in (0, 1), got {s}",
                    "pass e.g. --sparsity 0.5 (half of the channels removed)",
                )
        if self.allocation not in ALLOCATIONS:
            raise UsageError(
                f"unknown allocation {self.allocation!r}", f"use {' or '.join(ALLOCATIONS)}"
            )
        if self.importance not in IMPORTANCES:
            raise UsageError(
                f"unknown importance {self.importance!r}", f"use {' or '.join(IMPORTANCES)}"
            )
        if self.epochs < 0:
            raise UsageError(
                f"--epochs must be >= 0, got {self.epochs}", "pass a non-negative count"
            )
        if self.distill and not self.finetune:
            raise UsageError(
                "--distill needs --finetune DATA", "add --finetune sklearn:digits (for example)"
            )
        unsupported = set(self.accuracy_budget or {}) - set(PRUNE_BUDGET_KEYS)
        if unsupported:
            raise UsageError(
                f"prune cannot budget {', '.join(sorted(unsupported))}: it measures top-1 "
                "accuracy on labelled data",
                f"use {' or '.join(PRUNE_BUDGET_KEYS)}, e.g. --accuracy-budget "
                "accuracy_drop_max_points=1",
            )
        if self.output is not None and Path(self.output).suffix != ".pt2":
            raise UsageError(
                f"output {self.output} does not end in .pt2",
                "the pruned model is saved as a torch.export program: name it *.pt2",
            )

    def params(self) -> dict:
        """JSON-ready parameters (data by spec), as sidecars and cache keys record them."""
        d = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("output", "force")
        }
        d["finetune"], d["data"] = data_ref_name(self.finetune), data_ref_name(self.data)
        d["ignore"], d["sweep"] = list(self.ignore), list(self.sweep)
        d["accuracy_budget"] = dict(self.accuracy_budget) if self.accuracy_budget else None
        return d
