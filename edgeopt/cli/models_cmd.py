"""`optimize models`: list the built-in reference models."""

from __future__ import annotations

import json

import click

from edgeopt.cli.app import main


@main.command("models")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models_cmd(as_json: bool) -> None:
    """List built-in reference models (use them as builtin:NAME)."""
    from edgeopt.models.builtin import BUILTINS

    rows = [
        {
            "name": m.name,
            "ref": f"builtin:{m.name}",
            "inputs": [str(s) for s in m.inputs],
            "dataset": m.dataset,
            "task": m.task,
            "description": m.description,
        }
        for m in BUILTINS.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"builtin:{r['name']:<20} {', '.join(r['inputs']):<28} {r['dataset']:<22} {r['description']}"
        )
