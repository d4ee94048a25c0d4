"""`optimize report RUN_DIR` re-renders a run's views from its run.json; `optimize report
RUN_A RUN_B` compares two runs of one recipe (old, then new) and flags regressions."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import FiniteFloat, path_option
from edgeopt.errors import UsageError


def _refuse_overwrite(paths: list[Path], run_dirs: list[Path], force: bool) -> None:
    """Views inside a run folder are regenerated freely (they are derived from run.json);
    anything elsewhere is kept unless --force."""
    for p in paths:
        inside = any(p.parent.resolve() == d.resolve() for d in run_dirs)
        if p.exists() and not inside and not force:
            raise UsageError(f"{p} exists", "pass --force to replace it, or choose another -o")


@main.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@path_option(
    "-o",
    "--out",
    help="Folder for the views (default: the run folder; with two runs, the new run's folder).",
)
@click.option("--force", is_flag=True, help="Replace existing files outside the run folders.")
@click.option(
    "--max-slowdown",
    type=FiniteFloat(1.0),
    default=1.05,
    show_default=True,
    help="Two runs: flag a candidate slower when its whole new/old latency CI is above this.",
)
@click.option(
    "--max-drop-points",
    type=FiniteFloat(0.0),
    default=0.5,
    show_default=True,
    help="Two runs: flag a candidate whose top-1 falls by more than this many points.",
)
@click.option(
    "--markdown",
    "as_markdown",
    is_flag=True,
    help="Two runs: print the comparison as Markdown (for a pull-request comment).",
)
def report_cmd(runs, out, force, max_slowdown, max_drop_points, as_markdown) -> None:
    """Re-render RUN_DIR's report.html and summary.md from its run.json, or compare two runs
    of the same recipe: RUN_A (the release) then RUN_B (its candidate). A comparison exits 1
    when it flags a regression (a slower or less accurate candidate), else 0."""
    from edgeopt.run.report import load_run, write_compare_reports, write_run_reports

    if len(runs) > 2:
        raise UsageError(
            f"optimize report takes one or two run folders, got {len(runs)}",
            "pass RUN_DIR to re-render, or RUN_A RUN_B to compare",
        )
    summaries = [load_run(r) for r in runs]
    dirs = [Path(s["_dir"]) for s in summaries]
    if len(runs) == 1:
        folder = out or dirs[0]
        _refuse_overwrite([folder / "report.html", folder / "summary.md"], dirs, force)
        paths = write_run_reports(summaries[0], folder)
        click.echo(f"report: {paths['html']}\nsummary: {paths['markdown']}")
        return
    from edgeopt.run.report.compare import compare_runs
    from edgeopt.run.report.compare_views import render_compare_markdown, render_compare_text

    cmp = compare_runs(*summaries, slowdown=max_slowdown, max_drop=max_drop_points)
    folder = out or dirs[1]
    stem = f"compare-{dirs[0].resolve().name}"
    _refuse_overwrite([folder / f"{stem}.html", folder / f"{stem}.md"], dirs, force)
    paths = write_compare_reports(cmp, folder, stem)
    click.echo(render_compare_markdown(cmp) if as_markdown else render_compare_text(cmp))
    click.echo(f"comparison: {paths['html']}\nmarkdown: {paths['markdown']}", err=as_markdown)
    sys.exit(0 if cmp["passed"] else 1)
