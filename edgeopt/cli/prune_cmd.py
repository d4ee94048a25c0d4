"""`optimize prune MODEL --sparsity 0.5 [...]`: prune before export, recover, save as .pt2."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import (
    accuracy_budget_option,
    force_option,
    input_option,
    input_specs,
    parse_accuracy_budget,
    path_option,
    task_option,
    trust_pickle_option,
    value_option,
)
from edgeopt.errors import UsageError


def _floats(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        return [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as e:
        raise UsageError(
            f"--sweep must be comma-separated numbers, got {text!r}", "e.g. --sweep 0.25,0.5,0.75"
        ) from e


@main.command("prune")
@click.argument("model")
@value_option(
    "--sparsity",
    kind=float,
    default=0.5,
    help="Fraction of channels/units/heads (or weights with --unstructured) to remove.",
)
@click.option(
    "--unstructured",
    is_flag=True,
    help="Zero individual weights instead (no size or speed gain on dense runtimes).",
)
@click.option(
    "--global",
    "global_",
    is_flag=True,
    help="Rank channels across layers (global allocation) instead of per layer.",
)
@value_option(
    "--importance",
    kind=click.Choice(["magnitude", "taylor"]),
    default="magnitude",
    help="Channel importance: L2 magnitude, or Taylor (a few data batches).",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="NAME",
    help="Module to leave alone (repeatable); the final classifier is always kept.",
)
@click.option(
    "--finetune", metavar="DATA", help="Recover accuracy by fine-tuning on DATA's train split."
)
@value_option("--epochs", kind=int, default=10, help="Fine-tuning epochs.")
@value_option("--lr", kind=float, default=1e-3, help="Fine-tuning learning rate.")
@click.option(
    "--distill", is_flag=True, help="Fine-tune with distillation from the unpruned model."
)
@accuracy_budget_option
@click.option(
    "--sweep", help="Comma-separated sparsities to measure side by side, e.g. 0.25,0.5,0.75."
)
@click.option("--data", help="Evaluation dataset (default: the model's own, eval split).")
@path_option("-o", "--output", help="Output .pt2 (default: beside the input or edgeopt-out/).")
@path_option("--json", "json_out", help="Also write the results as JSON here.")
@input_option
@task_option
@trust_pickle_option
@force_option
def prune_cmd(
    model,
    sparsity,
    unstructured,
    global_,
    importance,
    ignore,
    finetune,
    epochs,
    lr,
    distill,
    accuracy_budget,
    sweep,
    data,
    output,
    json_out,
    inputs,
    task,
    trust_pickle,
    force,
) -> None:
    """Prune MODEL (PyTorch) so the exported model is smaller and faster; save it as .pt2."""
    from edgeopt.errors import EdgeoptError
    from edgeopt.models.source import load_source
    from edgeopt.optimize.prune import PruneConfig
    from edgeopt.optimize.prune.pipeline import prepare, prune_model
    from edgeopt.optimize.prune.unstructured import CAVEAT

    cfg = PruneConfig(
        sparsity=sparsity,
        structured=not unstructured,
        allocation="global" if global_ else "uniform",
        importance=importance,
        ignore=list(ignore),
        finetune=finetune,
        epochs=epochs,
        lr=lr,
        distill=distill,
        accuracy_budget=parse_accuracy_budget(accuracy_budget),
        sweep=_floats(sweep),
        data=data,
        output=output,
        force=force,
    )
    cfg.validate()
    source = load_source(model, input_specs(inputs), trust_pickle, task=task)
    prepare(source, cfg)
    if unstructured:
        click.echo(f"note: {CAVEAT}")
    try:
        outcome = prune_model(source, cfg, show_table=click.echo)
    except EdgeoptError as e:
        if getattr(e, "outcome", None) is not None:
            _write_json(json_out, e.outcome.results)
        raise
    if outcome.chosen is not None:
        _print_result(outcome.chosen, structured=cfg.structured)
        art = outcome.artifact
        click.echo(
            f"wrote {art.path} ({art.size_bytes} bytes, sha256 {art.sha256[:12]}); "
            f"next: optimize export {art.path} --to onnx"
        )
    _write_json(json_out, outcome.results)


def _write_json(path: Path | None, results: dict) -> None:
    if path:
        from edgeopt.core.files import atomic_write_text

        atomic_write_text(Path(path), json.dumps(results, indent=2, default=str) + "\n")


def _print_result(res: dict, structured: bool) -> None:
    acc = res["accuracy"]

    def pct(v):
        return "-" if v is None else f"{100 * v:.2f}%"

    click.echo(f"sparsity {res['sparsity']:g} ({'structured' if structured else 'unstructured'})")
    click.echo(
        f"  params  {res['params_dense']:,} -> {res['params']:,} "
        f"({res['params'] / res['params_dense']:.2f}x)"
    )
    click.echo(
        f"  MACs    {res['macs_dense']:,} -> {res['macs']:,} ({res['macs'] / res['macs_dense']:.2f}x)"
    )
    if structured:
        click.echo(f"  removed: {', '.join(res.get('units', [])) or 'nothing'}")
        for name, (b, a) in res.get("heads", {}).items():
            click.echo(f"  heads   {name}: {b} -> {a}")
        for name, (b, a) in res.get("layers_changed", {}).items():
            click.echo(f"  layer   {name}: in/out {b[0]}/{b[1]} -> {a[0]}/{a[1]}")
        for name, why in res.get("kept", {}).items():
            if name != res.get("classifier_kept"):
                click.echo(f"  kept    {name}: {why}")
        if res.get("classifier_kept"):
            click.echo(f"  kept    {res['classifier_kept']}: classifier")
    else:
        click.echo(f"  weight sparsity {res.get('weight_sparsity', 0):.3f}")
    click.echo(
        f"  top-1   before {pct(acc.get('before'))}, after pruning {pct(acc.get('after_prune'))}"
        + (f", after recovery {pct(acc.get('recovered'))}" if "recovered" in acc else "")
    )
