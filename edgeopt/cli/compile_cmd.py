"""`optimize compile ARTIFACT --target cpu|gpu|arm`."""

from __future__ import annotations

from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import (
    force_option,
    input_option,
    input_specs,
    path_option,
    tolerance_options,
    value_option,
)


@main.command("compile")
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option(
    "--target", "-t", "target", required=True, help="cpu, gpu or arm (see optimize targets)."
)
@path_option("--output-dir", help="Folder for the outputs (default: beside ARTIFACT).")
@click.option(
    "--threads",
    type=int,
    help="Thread count recorded for (and used by) the compiled runtime config.",
)
@click.option(
    "--hint",
    default="latency",
    show_default=True,
    help="cpu/gpu OpenVINO PERFORMANCE_HINT: latency or throughput.",
)
@click.option(
    "--precision",
    help="cpu OpenVINO inference precision: f32 (default), bf16, or auto (bf16 where the CPU has it).",
)
@click.option("--io-fp16", is_flag=True, help="gpu: keep fp16 inputs/outputs (default float32).")
@click.option("--data", help="Dataset for parity and int8 calibration (default: the artifact's).")
@value_option("--samples", kind=int, default=64, help="Samples in the parity check.")
@tolerance_options
@click.option("--no-verify", is_flag=True, help="Skip the parity check (recorded in the metadata).")
@force_option
@input_option
def compile_cmd(
    artifact,
    target,
    output_dir,
    threads,
    hint,
    precision,
    io_fp16,
    data,
    samples,
    atol,
    rtol,
    no_verify,
    force,
    inputs,
) -> None:
    """Compile ARTIFACT for a target; writes new artifacts beside it, each parity-checked."""
    from edgeopt.cli.options import parse_positive
    from edgeopt.targets.base import CompileOptions
    from edgeopt.targets.registry import get_target

    parse_positive("--threads", threads)
    parse_positive("--samples", samples)
    tgt = get_target(target)
    opts = CompileOptions(
        output_dir=output_dir,
        force=force,
        threads=threads,
        hint=hint,
        precision=precision,
        io_fp16=io_fp16,
        data=data,
        samples=samples,
        atol=atol,
        rtol=rtol,
        verify=not no_verify,
        inputs=input_specs(inputs),
    )
    for art in tgt.compile(artifact, opts):
        click.echo(f"wrote {art.path} ({art.format}, {art.precision}, {art.size_bytes} bytes)")
        ops = art.extra.get("required_operators")
        if ops:
            click.echo(f"wrote {art.path.parent / ops['file']} ({len(ops['ops'])} op lines)")
    ok, why = tgt.availability()
    if not ok:
        click.echo(f"note: this machine cannot run {tgt.name} artifacts now: {why}")
