"""`optimize quantize ARTIFACT --mode dynamic|static|fp16|weight-only`."""

from __future__ import annotations

from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import accuracy_budget_option, force_option, path_option, value_option
from edgeopt.core.precision import mode_names
from edgeopt.optimize.quantize.common import METHODS


@main.command("quantize")
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option(
    "--mode",
    type=click.Choice(mode_names()),
    help="Default: chosen from the model (convolutions: static; MatMul-heavy: dynamic).",
)
@path_option(
    "-o", "--output", help="Output file (default: beside the input, e.g. model.int8-static.onnx)."
)
@click.option("--calib", help="Calibration dataset (default: the model's own; its calib split).")
@value_option("--samples", kind=int, default=200, help="Calibration samples.")
@value_option(
    "--method",
    kind=click.Choice(METHODS),
    default="minmax",
    help="Activation range estimation (ONNX static).",
)
@click.option(
    "--per-channel/--per-tensor",
    default=True,
    show_default=True,
    help="Weight scales per output channel or per tensor.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="LAYER",
    help="Layer to keep in float (repeat, or comma-separate); see `optimize diagnose`.",
)
@accuracy_budget_option
@click.option("--int8-io", is_flag=True, help="TFLite full int8: int8 inputs and outputs.")
@click.option(
    "--fp16-io", is_flag=True, help="fp16: make inputs/outputs fp16 too (default float32)."
)
@value_option(
    "--latency-seconds",
    kind=float,
    default=1.0,
    help="Time spent on the quick latency check (0 skips it).",
)
@force_option
def quantize_cmd(
    artifact,
    mode,
    output,
    calib,
    samples,
    method,
    per_channel,
    exclude,
    accuracy_budget,
    int8_io,
    fp16_io,
    latency_seconds,
    force,
) -> None:
    """Quantize an exported ARTIFACT (ONNX, OpenVINO IR, TFLite) to int8 or fp16.

    Writes a new artifact beside the input and reports accuracy, size and a quick latency
    check against the float parent.
    """
    from edgeopt.cli.options import parse_accuracy_budget, parse_positive
    from edgeopt.metrics.quality import QualityReport
    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    parse_positive("--samples", samples)
    names = [n.strip() for e in exclude for n in e.split(",") if n.strip()]
    cfg = QuantizeConfig(
        mode=mode,
        output=output,
        calib=calib,
        samples=samples,
        method=method,
        per_channel=per_channel,
        exclude=names,
        accuracy_budget=parse_accuracy_budget(accuracy_budget),
        int8_io=int8_io,
        keep_io_float=not fp16_io,
        force=force,
        latency_seconds=latency_seconds,
    )
    art = quantize_artifact(artifact, cfg)
    acc = art.extra["accuracy"]
    size = art.extra["size"]
    lat = art.extra.get("latency") or {}
    click.echo(f"wrote {art.path} ({art.size_bytes} bytes, {size['ratio']:.0%} of the parent)")
    report = QualityReport(acc["quality"])
    click.echo(
        f"quality against the float parent ({acc['budget_source']}): "
        f"{report.describe(acc['budgets'])}"
        + (f"; speed vs parent {lat['speedup']:.2f}x" if lat.get("speedup") else "")
    )
    if acc["metric"] == "top1":
        click.echo(
            f"top-1 {acc['child']['top1']:.4f} (parent {acc['parent']['top1']:.4f}, "
            f"drop {acc['drop']:+.4f})"
        )
    if art.extra.get("kept_float"):
        click.echo(f"kept in float: {', '.join(art.extra['kept_float'])}")
