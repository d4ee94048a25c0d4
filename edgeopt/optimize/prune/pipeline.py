"""One `optimize prune` run: a single sparsity, or a sweep with an accuracy budget, then save.

The CLI only parses options and prints; this decides what to prune, measures and saves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.progress import info, step
from edgeopt.errors import EdgeoptError
from edgeopt.optimize.prune import (
    PruneConfig,
    check_source,
    count_ops,
    default_output,
    eval_dataset,
    example_inputs,
    prune_once,
    save_pruned,
    summary,
    top1,
)
from edgeopt.optimize.prune.config import DEFAULT_BUDGET_SWEEP
from edgeopt.optimize.prune.recovery import calibration_batches
from edgeopt.optimize.prune.structured import resolve_ignore

SWEEP_NOTE = (
    "(latency: ONNX Runtime, 1 thread, median ms, each candidate timed interleaved "
    "with the dense model; top-1 in %, eval split)"
)


@dataclass
class PruneOutcome:
    """What a prune run measured (JSON-ready `results`) and what it saved."""

    results: dict
    chosen: dict | None = None  # summary() of the saved model
    artifact: Artifact | None = None
    notes: list[str] = field(default_factory=list)


def prepare(source, cfg: PruneConfig) -> None:
    """Every check before any work: the config, the source, the --ignore names."""
    cfg.validate()
    check_source(source)
    resolve_ignore(source.module, cfg.ignore)


def prune_model(
    source, cfg: PruneConfig, show_table: Callable[[str], None] | None = None
) -> PruneOutcome:
    """Prune at cfg.sparsity, or sweep (with a budget: the highest sparsity within it); save.

    `show_table` receives the sweep table as soon as it is measured (before a budget failure).
    """
    prepare(source, cfg)
    data = eval_dataset(source, cfg)
    calib = None
    if cfg.importance == "taylor":
        calib = calibration_batches(data, source.inputs, cfg.calib_batches)
        if calib is None:
            info("[edgeopt] note: no dataset known; Taylor importance uses the example inputs")
    outcome = PruneOutcome({"model": source.ref, "config": cfg.params()})
    if cfg.sweep or cfg.accuracy_budget:
        chosen = _sweep(source, cfg, calib, outcome, show_table)
    else:
        dense_acc = top1(source.module, source, data)
        label = f"prune {source.name} at sparsity {cfg.sparsity:g}" + (
            " + recovery" if cfg.finetune else ""
        )
        with step(label):
            chosen = prune_once(source, cfg, cfg.sparsity, dense_acc, calib)
    if chosen is not None:
        dense = count_ops(source.module, example_inputs(source))
        outcome.chosen = summary(chosen, dense)
        outcome.results["chosen"] = outcome.chosen
        out = cfg.output or default_output(source, chosen.sparsity, cfg.structured)
        with step(f"save torch.export program {out}"):
            outcome.artifact = save_pruned(source, chosen, cfg, out, outcome.chosen)
    return outcome


def _sweep(source, cfg: PruneConfig, calib, outcome: PruneOutcome, show_table):
    from edgeopt.optimize.prune.sweep import (
        describe_budgets,
        format_table,
        log_budget_choice,
        pick_within_budget,
        run_sweep,
    )

    grid = sorted(set(cfg.sweep or DEFAULT_BUDGET_SWEEP))
    rows, pruned = run_sweep(source, cfg, grid, calib)
    if show_table:
        show_table(f"{format_table(rows)}\n{SWEEP_NOTE}")
    outcome.results["sweep"] = rows
    if not cfg.accuracy_budget:
        return None
    row = pick_within_budget(rows, cfg.accuracy_budget)
    log_budget_choice(row, cfg.accuracy_budget)
    outcome.results["budget_choice"] = row and row["sparsity"]
    if row is None:
        err = EdgeoptError(
            f"no sparsity in {grid} meets {describe_budgets(cfg.accuracy_budget)}",
            "add lower sparsities to --sweep, fine-tune longer, or loosen the budget",
        )
        err.outcome = outcome
        raise err
    return next(r for r in pruned if r.sparsity == row["sparsity"])
