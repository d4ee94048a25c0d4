"""`optimize export MODEL --to onnx|openvino|tflite`."""

from __future__ import annotations

import click

from edgeopt import formats
from edgeopt.cli.app import main
from edgeopt.cli.options import (
    factory_arg_option,
    force_option,
    input_option,
    input_specs,
    parse_factory_args,
    path_option,
    task_option,
    tolerance_options,
    trust_pickle_option,
    value_option,
)


@main.command("export")
@click.argument("model")
@click.option("--to", "to", required=True, type=click.Choice(formats.names("exporter")))
@path_option("-o", "--output", help="Output file (default: edgeopt-out/NAME.EXT).")
@input_option
@click.option("--opset", type=int, help="ONNX opset (the dynamo exporter writes 18 at the lowest).")
@click.option(
    "--static", is_flag=True, help="Fix the batch dimension instead of keeping it dynamic."
)
@value_option(
    "--batch", kind=int, default=1, help="Batch for fixed-batch outputs (TFLite, --static)."
)
@click.option("--fp16", is_flag=True, help="OpenVINO: store weights compressed to fp16.")
@tolerance_options
@click.option("--data", help="Dataset for the parity check, e.g. sklearn:digits or npz:x.npz.")
@value_option("--samples", kind=int, default=64, help="Samples in the parity check.")
@click.option("--no-verify", is_flag=True, help="Skip the parity check (recorded in the metadata).")
@factory_arg_option
@task_option
@trust_pickle_option
@force_option
def export_cmd(
    model,
    to,
    output,
    inputs,
    opset,
    static,
    batch,
    fp16,
    atol,
    rtol,
    data,
    samples,
    no_verify,
    factory_args,
    task,
    trust_pickle,
    force,
) -> None:
    """Export MODEL to ONNX, OpenVINO IR or TFLite and check it reproduces the source."""
    from edgeopt.cli.options import parse_positive
    from edgeopt.models.source import load_source
    from edgeopt.optimize.export import ExportConfig, default_output, export_model

    parse_positive("--batch", batch)
    parse_positive("--samples", samples)
    source = load_source(
        model, input_specs(inputs), trust_pickle, parse_factory_args(factory_args), task
    )
    cfg = ExportConfig(
        to=to,
        output=output or default_output(source, to),
        opset=opset,
        static=static,
        fp16=fp16,
        batch=batch,
        verify=not no_verify,
        atol=atol,
        rtol=rtol,
        data=data,
        samples=samples,
        force=force,
    )
    art = export_model(source, cfg)
    click.echo(f"wrote {art.path} ({art.size_bytes} bytes, sha256 {art.sha256[:12]})")
