"""`optimize prune MODEL --sparsity 0.5 [...]`: prune before export, recover, save as .pt2."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeopt.cli import main
from edgeopt.cli.options import force_option, input_option, input_specs, trust_pickle_option
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
@click.option(
    "--sparsity",
    type=float,
    default=0.5,
    show_default=True,
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
@click.option(
    "--importance",
    type=click.Choice(["magnitude", "taylor"]),
    default="magnitude",
    show_default=True,
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
@click.option("--epochs", type=int, default=10, show_default=True, help="Fine-tuning epochs.")
@click.option(
    "--lr", type=float, default=1e-3, show_default=True, help="Fine-tuning learning rate."
)
@click.option(
    "--distill", is_flag=True, help="Fine-tune with distillation from the unpruned model."
)
@click.option(
    "--accuracy-budget",
    type=float,
    help="Max top-1 drop in points: keep the highest sparsity of the sweep within it.",
)
@click.option(
    "--sweep", help="Comma-separated sparsities to measure side by side, e.g. 0.25,0.5,0.75."
)
@click.option("--data", help="Evaluation dataset (default: the model's own, eval split).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output .pt2 (default: beside the input or edgeopt-out/).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path),
    help="Also write the results as JSON here.",
)
@input_option
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
    trust_pickle,
    force,
) -> None:
    """Prune MODEL (PyTorch) so the exported model is smaller and faster; save it as .pt2."""
    from edgeopt.core.progress import info, step
    from edgeopt.models.source import load_source
    from edgeopt.optimize.prune import (
        PruneConfig,
        check_source,
        count_ops,
        default_output,
        example_inputs,
        prune_once,
        save_pruned,
        summary,
        top1,
    )
    from edgeopt.optimize.prune.config import DEFAULT_BUDGET_SWEEP
    from edgeopt.optimize.prune.recovery import calibration_batches
    from edgeopt.optimize.prune.structured import resolve_ignore
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
        accuracy_budget=accuracy_budget,
        sweep=_floats(sweep),
        data=data,
        output=output,
        force=force,
    )
    cfg.validate()
    source = load_source(model, input_specs(inputs), trust_pickle)
    check_source(source)
    resolve_ignore(source.module, cfg.ignore)  # fail fast on a bad --ignore name
    if unstructured:
        click.echo(f"note: {CAVEAT}")
    data_spec = cfg.data or source.dataset or cfg.finetune
    calib = (
        calibration_batches(data_spec, source.inputs, cfg.calib_batches)
        if importance == "taylor"
        else None
    )
    if importance == "taylor" and calib is None:
        info("[edgeopt] note: no dataset known; Taylor importance uses the example inputs")
    results: dict = {"model": source.ref, "config": cfg.params()}
    chosen = None
    if cfg.sweep or cfg.accuracy_budget is not None:
        from edgeopt.optimize.prune.sweep import (
            format_table,
            log_budget_choice,
            pick_within_budget,
            run_sweep,
        )

        grid = sorted(set(cfg.sweep or DEFAULT_BUDGET_SWEEP))
        rows, pruned = run_sweep(source, cfg, grid, calib)
        click.echo(format_table(rows))
        click.echo(
            "(latency: ONNX Runtime, 1 thread, median ms, each candidate timed interleaved "
            "with the dense model; top-1 in %, eval split)"
        )
        results["sweep"] = rows
        if cfg.accuracy_budget is not None:
            row = pick_within_budget(rows, cfg.accuracy_budget)
            log_budget_choice(row, cfg.accuracy_budget)
            results["budget_choice"] = row and row["sparsity"]
            if row is None:
                _write_json(json_out, results)
                from edgeopt.errors import EdgeoptError

                raise EdgeoptError(
                    f"no sparsity in {grid} keeps top-1 within {cfg.accuracy_budget:g} point(s)",
                    "add lower sparsities to --sweep, fine-tune longer, or loosen the budget",
                )
            chosen = next(r for r in pruned if r.sparsity == row["sparsity"])
    else:
        dense_acc = top1(source.module, source, data_spec)
        label = f"prune {source.name} at sparsity {sparsity:g}" + (
            " + recovery" if finetune else ""
        )
        with step(label):
            chosen = prune_once(source, cfg, sparsity, dense_acc, calib)
    if chosen is not None:
        dense = count_ops(source.module, example_inputs(source))
        res = summary(chosen, dense)
        _print_result(res, structured=cfg.structured)
        results["chosen"] = res
        out = cfg.output or default_output(source, chosen.sparsity, cfg.structured)
        with step(f"save torch.export program {out}"):
            art = save_pruned(source, chosen, cfg, out, res)
        click.echo(
            f"wrote {art.path} ({art.size_bytes} bytes, sha256 {art.sha256[:12]}); "
            f"next: optimize export {art.path} --to onnx"
        )
    _write_json(json_out, results)


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
