"""`optimize inspect MODEL`: what a model holds."""

from __future__ import annotations

import json

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import (
    factory_arg_option,
    input_option,
    input_specs,
    parse_factory_args,
    task_option,
    trust_pickle_option,
)


@main.command("inspect")
@click.argument("model")
@input_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@factory_arg_option
@task_option
@trust_pickle_option
def inspect_cmd(model, inputs, as_json, factory_args, task, trust_pickle) -> None:
    """Show MODEL's format, inputs/outputs, parameter count, file size and op histogram."""
    from edgeopt.models.inspect import inspect_source
    from edgeopt.models.source import load_source

    info = inspect_source(
        load_source(
            model, input_specs(inputs), trust_pickle, parse_factory_args(factory_args), task
        )
    )
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(f"model:      {info['model']}")
    click.echo(f"format:     {info['format']}")
    for s in info["inputs"]:
        click.echo(f"input:      {s['name']}  {'x'.join(map(str, s['shape']))}  {s['dtype']}")
    for s in info["outputs"]:
        shape = "x".join(map(str, s.get("shape", []))) or "?"
        click.echo(f"output:     {s['name']}  {shape}  {s.get('dtype', '')}")
    if "parameters" in info:
        click.echo(f"parameters: {info['parameters']:,}")
    if "file_size_bytes" in info:
        click.echo(f"file size:  {info['file_size_bytes']:,} bytes")
    if info.get("dataset"):
        click.echo(f"dataset:    {info['dataset']}")
    hist = info.get("op_histogram", {})
    if hist:
        click.echo("ops:        " + ", ".join(f"{k} x{v}" for k, v in hist.items()))
