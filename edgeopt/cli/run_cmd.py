"""`optimize run [RECIPE.toml]`: build, measure and choose candidates; the demo with no recipe."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import NON_NEGATIVE, path_option


@main.command("run")
@click.argument("recipe", required=False, type=click.Path(path_type=Path))
@path_option(
    "-o", "--out", help="Parent folder for the run folder (default: the recipe's, else runs/)."
)
@path_option(
    "--cache", "cache_dir", help="Artifact cache (default: $EDGEOPT_CACHE or ~/.cache/edgeopt)."
)
@click.option("--max-time", type=NON_NEGATIVE, help="Seconds of interleaved timing per target.")
@click.option("--track", type=click.Choice(["mlflow"]), help="Also log every candidate to MLflow.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check the recipe and load the model, print the plan, build nothing (for CI).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where candidate builds run: here in turn, or as Ray tasks (timing stays here).",
)
@click.option(
    "--ray-address",
    help="Join this Ray cluster (e.g. ray://head:10001); default: start a local Ray runtime.",
)
@click.option(
    "--ray-cpus",
    type=click.IntRange(min=1),
    help="CPUs of the local Ray runtime (default: all); ignored with --ray-address.",
)
@click.option(
    "--devices",
    "devices_file",
    type=click.Path(dir_okay=False),
    help="Device list for recipes that name a device (default: $XDG_CONFIG_HOME/edgeopt/devices.toml).",
)
def run_cmd(
    recipe, out, cache_dir, max_time, track, dry_run, executor, ray_address, ray_cpus, devices_file
) -> None:
    """Run RECIPE (default: the built-in demo on the digits CNN). Exit 0 when every target has a
    candidate meeting its budgets, 1 when one has none, 2 for a bad recipe."""
    from edgeopt.artifacts.cache import ArtifactCache
    from edgeopt.core import fmt
    from edgeopt.core.files import discard_on_failure
    from edgeopt.run.executor import make_executor
    from edgeopt.run.recipe import load_recipe
    from edgeopt.run.report import write_run_reports
    from edgeopt.run.runner import new_run_dir, prepare, run_recipe

    rec = load_recipe(recipe)
    cache = ArtifactCache.at(cache_dir)
    builder = prepare(rec, cache, devices_file)  # a bad recipe fails here, before any folder
    if dry_run:
        for target, cands in rec.candidates.items():
            plan = (
                "auto (routes chosen by the search)"
                if target in rec.auto
                else ", ".join(c.name for c in cands)
            )
            click.echo(f"{target}: {plan}")
        click.echo(f"recipe {rec.name} is valid; nothing was built (--dry-run)")
        return
    tracker = None
    if track == "mlflow":
        from edgeopt.run.tracking import MlflowTracker

        tracker = MlflowTracker(rec)
    run_dir = new_run_dir(rec, out)
    click.echo(f"run folder: {run_dir}", err=True)
    with discard_on_failure(run_dir, owned=True):  # a fresh folder: a failure removes it whole
        ex = make_executor(executor, ray_address, ray_cpus)
        try:
            summary = run_recipe(builder, run_dir, tracker, max_time, ex, devices_file)
        finally:
            ex.close()
        reports = write_run_reports(summary, run_dir)
    if tracker:
        tracker.close(reports)
    click.echo("")
    for target, t in summary["targets"].items():
        chosen = next((r for r in t["candidates"] if r["name"] == t["chosen"]), None)
        if chosen:
            m = chosen["metrics"]
            click.echo(
                f"{target}: {t['chosen']} ({chosen['file']})  p50 "
                f"{fmt.latency_ci(m['p50_ms'], m.get('ci_p50'))}, top-1 {fmt.percent(m['top1'])}, "
                f"{fmt.size(m['size_bytes'])} ({t['reason']})"
            )
        else:
            click.echo(f"{target}: nothing chosen ({t['reason']})")
    click.echo(f"\nreport: {reports['html']}\nsummary: {reports['markdown']}")
    click.echo(
        f"build {fmt.seconds(summary['timings_s']['build'])}, total "
        f"{fmt.seconds(summary['timings_s']['total'])}; "
        f"cache {summary['cache_stats']['hits']} hit(s), {summary['cache_stats']['misses']} built"
    )
    sys.exit(0 if summary["passed"] else 1)
