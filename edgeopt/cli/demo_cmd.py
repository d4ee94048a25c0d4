"""`optimize demo`: export the built-in digits CNN to every format and show the parity table."""

from __future__ import annotations

import time
from pathlib import Path

import click

from edgeopt.cli import main


@main.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("edgeopt-out"),
    show_default=True,
    help="Parent folder; each run gets its own subfolder.",
)
@click.option("--model", default="builtin:digits-cnn", show_default=True)
def demo_cmd(out_dir: Path, model: str) -> None:
    """Export a built-in model to ONNX, OpenVINO IR and TFLite, each verified against PyTorch."""
    from edgeopt.models.source import load_source
    from edgeopt.optimize.export import SUFFIX, ExportConfig, export_model

    run_dir = out_dir / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    source = load_source(model)
    rows = []
    for to in ("onnx", "openvino", "tflite"):
        art = export_model(
            source, ExportConfig(to=to, output=run_dir / f"{source.name}{SUFFIX[to]}")
        )
        ((name, s),) = list(art.parity["outputs"].items())[:1]
        rows.append(
            (
                to,
                art.path,
                art.size_bytes,
                s["max_abs"],
                s["cosine"],
                s.get("top1_agreement"),
                art.extra.get("export_seconds"),
            )
        )
    click.echo(f"\nParity of {source.ref} against PyTorch on {art.parity['inputs']}:")
    click.echo(
        f"{'format':<10}{'size':>10}  {'max abs diff':>12}  {'cosine':>10}  {'top-1 agree':>11}  {'export s':>8}"
    )
    for to, _path, size, mad, cos, top1, secs in rows:
        click.echo(
            f"{to:<10}{size:>10}  {mad:>12.2e}  {cos:>10.6f}  {top1 if top1 is not None else '-':>11}  {secs:>8}"
        )
    click.echo(f"\nartifacts and sidecars in {run_dir}")
