"""`optimize gate ARTIFACT... --budgets FILE`: pass/fail a release on measured budgets."""

from __future__ import annotations

import click

from edgeopt.cli.app import main
from edgeopt.cli.bench_cmd import bench_options, run


@main.command("gate")
@bench_options
@click.option(
    "--budgets",
    required=True,
    type=click.Path(dir_okay=False),
    help="Budgets TOML (keys: latency_p90_ms, latency_ratio_max, throughput_min, ...).",
)
def gate_cmd(budgets, **kw) -> None:
    """Measure ARTIFACTs and check them against a budgets file, deciding on 95% CIs.

    A budget fails only when its whole interval is beyond the limit and passes when the
    whole interval is within; otherwise more samples are taken up to --max-time, then
    --on-inconclusive decides. Memory and accuracy are measured only when a budget
    needs them. Exit 0 all met, 1 a budget broken or a load failed, 2 bad input.
    """
    run(kw, budgets, only_needed=True)
