"""`optimize bench ARTIFACT...`: latency with CIs, throughput, memory, size, accuracy, reports."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import value_option
from edgeopt.errors import UsageError
from edgeopt.runtimes import RUNTIMES


def bench_options(f):
    """Options shared by bench and gate (defined once)."""
    opts = [
        click.argument("artifacts", nargs=-1, required=True),
        click.option(
            "--baseline", help="Artifact to compare against, measured interleaved in the same run."
        ),
        click.option(
            "--baseline-results",
            type=click.Path(dir_okay=False),
            help="results.json of an earlier run to compare against (less reliable than --baseline).",
        ),
        click.option(
            "--allow-different-baseline",
            is_flag=True,
            help="Accept a baseline whose inputs, outputs or evaluation data differ (every "
            "report says so).",
        ),
        click.option(
            "--reference",
            help="Model whose outputs give agreement metrics (default: the baseline).",
        ),
        click.option(
            "--runtime",
            type=click.Choice(list(RUNTIMES)),
            help="Runtime for formats that several can run (ONNX: onnxruntime or openvino).",
        ),
        click.option("--threads", type=int, help="Threads per session (default: the runtime's)."),
        click.option(
            "--precision",
            help="Runtime precision hint, e.g. f32 (OpenVINO defaults to bf16 on AMX CPUs).",
        ),
        value_option("--batch", kind=int, default=1, help="Samples per request."),
        value_option(
            "--requests",
            kind=int,
            default=1,
            help="Parallel requests for a throughput phase (>1 enables it).",
        ),
        value_option(
            "--throughput-time",
            kind=float,
            default=3.0,
            help="Seconds of the throughput phase per artifact.",
        ),
        click.option(
            "--data", help="Evaluation dataset (default: the artifact's own, from its sidecar)."
        ),
        value_option(
            "--max-time",
            kind=float,
            default=20.0,
            help="Time bound of the interleaved latency measurement, in seconds.",
        ),
        value_option(
            "--min-samples", kind=int, default=50, help="Samples per artifact before stopping."
        ),
        value_option(
            "--ci-width",
            kind=float,
            default=0.02,
            help="Stop when the percentile's 95%% CI half-width is within this fraction.",
        ),
        value_option(
            "--percentile",
            kind=float,
            default=50.0,
            help="Percentile whose CI decides when to stop.",
        ),
        value_option(
            "--on-inconclusive",
            kind=click.Choice(["fail", "pass"]),
            default="fail",
            help="What a budget still inconclusive at the time bound counts as.",
        ),
        click.option(
            "--target",
            help="Target name for per-target budgets (default: the artifact's, else cpu).",
        ),
        click.option(
            "--report",
            "report_dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Write results.json, summary.md, junit.xml and report.html here.",
        ),
        click.option(
            "--device",
            help="Time on this registered device over SSH (optimize devices add); figures are "
            "labelled with its name, arch and runtime versions.",
        ),
        click.option(
            "--devices",
            "devices_file",
            type=click.Path(dir_okay=False),
            help="Device list for --device (default: $XDG_CONFIG_HOME/edgeopt/devices.toml).",
        ),
        click.option("--no-memory", is_flag=True, help="Skip the peak-memory child processes."),
        click.option("--no-accuracy", is_flag=True, help="Skip accuracy on the evaluation data."),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the results JSON instead of the table."
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def run(kw: dict, budgets_path: str | None, only_needed: bool = False) -> None:
    """Shared body of bench and gate; `only_needed`: skip memory/accuracy no budget asks for."""
    from edgeopt.bench.budgets import load_budgets
    from edgeopt.bench.config import BenchConfig
    from edgeopt.bench.gate import describe_decision
    from edgeopt.bench.report import render_json, render_table, write_reports
    from edgeopt.bench.runner import failed_artifacts, run_bench
    from edgeopt.cli.options import parse_positive
    from edgeopt.metrics.latency import LatencyConfig
    from edgeopt.metrics.quality import QUALITY_KEYS

    for name in ("batch", "requests", "min_samples", "threads"):
        if kw.get(name) is not None:
            parse_positive("--" + name.replace("_", "-"), kw[name])
    parse_positive("--max-time", kw["max_time"])
    parse_positive("--throughput-time", kw["throughput_time"])
    parse_positive("--ci-width", kw["ci_width"], 1.0)
    parse_positive("--percentile", kw["percentile"], 100.0)
    for p in [*kw["artifacts"], kw["baseline"], kw["reference"], kw["baseline_results"]]:
        if p and not Path(p).exists():
            raise UsageError(f"file not found: {p}", "check the path")
    budgets = load_budgets(budgets_path) if budgets_path else None
    if (
        budgets
        and "latency_ratio_max" in budgets.all_keys()
        and not (kw["baseline"] or kw["baseline_results"])
    ):
        raise UsageError(
            "budget latency_ratio_max needs a baseline",
            "pass --baseline ARTIFACT (same run) or --baseline-results results.json",
        )
    memory, accuracy = not kw["no_memory"], not kw["no_accuracy"]
    remote = _remote(kw)
    memory = memory and remote is None  # peak memory is a host figure: not shown as the device's
    if only_needed and budgets:
        keys = budgets.all_keys()
        memory = memory and "peak_memory_mb_max" in keys
        accuracy = accuracy and bool(keys & set(QUALITY_KEYS))
    cfg = BenchConfig(
        artifacts=list(kw["artifacts"]),
        baseline=kw["baseline"],
        reference=kw["reference"],
        runtime=kw["runtime"],
        threads=kw["threads"],
        precision=kw["precision"],
        batch=kw["batch"],
        requests=kw["requests"],
        throughput_time=kw["throughput_time"],
        data=kw["data"],
        latency=LatencyConfig(
            max_time=kw["max_time"],
            min_samples=kw["min_samples"],
            ci_target=kw["ci_width"],
            percentile=kw["percentile"],
            warmup_max_s=min(2.0, max(0.3, kw["max_time"] / 5)),
        ),
        memory=memory,
        accuracy=accuracy,
        baseline_results=kw["baseline_results"],
        allow_different_baseline=kw["allow_different_baseline"],
        budgets=budgets,
        on_inconclusive=kw["on_inconclusive"],
        target=kw["target"],
    )
    results = run_bench(cfg, remote=remote)
    if results.get("device"):
        d = results["device"]
        used = {
            f"{a['timed_on']['runtime']} {a['timed_on']['runtime_version']}"
            for a in results["artifacts"]
            if a.get("timed_on", {}).get("runtime")
        }
        click.echo(
            f"latency timed on device {d['device']} ({', '.join([d['arch'], *sorted(used)])}); "
            "accuracy and size computed on this host",
            err=True,
        )
    click.echo(render_json(results) if kw["as_json"] else render_table(results))
    if kw["report_dir"]:
        paths = write_reports(results, kw["report_dir"])
        click.echo(f"reports: {', '.join(str(p) for p in paths.values())}", err=True)
    failed = failed_artifacts(results)
    lost = results.get("measurement", {}).get("lost")
    if lost:  # a device that dropped: partial figures are kept, the run still fails
        left = results["measurement"].get("left_on_device")
        click.echo(
            f"error: the device dropped mid-run: {lost} (work folder left: {left})", err=True
        )
    for a in failed:
        click.echo(f"error: {a['name']} failed to load: {a['error']}", err=True)
    gate = results.get("gate")
    if gate:
        for d in gate["decisions"]:
            click.echo(describe_decision(d), err=kw["as_json"] or d["status"] == "fail")
        verdict = "PASSED" if gate["passed"] else f"FAILED: {gate['failed']} budget(s) broken"
        click.echo(
            f"gate {verdict} (inconclusive counts as {gate['on_inconclusive']})", err=kw["as_json"]
        )
    if failed or lost or (gate and not gate["passed"]):
        sys.exit(1)


def _remote(kw: dict):
    """The device timer for --device (its name checked now, before any work), else None."""
    if not kw.get("device"):
        return None
    if kw["requests"] > 1:
        raise UsageError(
            "--requests > 1 is not measured on devices", "drop --requests with --device"
        )
    from edgeopt.devices import RemoteTimer

    return RemoteTimer.named(kw["device"], kw.get("devices_file"))


@main.command("bench")
@bench_options
@click.option(
    "--budgets",
    type=click.Path(dir_okay=False),
    help="Budgets TOML: gate on it (see optimize gate).",
)
def bench_cmd(budgets, **kw) -> None:
    """Benchmark ARTIFACTs interleaved: latency with 95% CIs, ratios to --baseline, throughput,
    peak memory, size, accuracy. Exit 1 if an artifact fails to load or a budget is broken."""
    run(kw, budgets)
