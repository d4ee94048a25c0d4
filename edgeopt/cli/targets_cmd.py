"""`optimize targets` (list what each target produces and whether it runs here) and `setup arm`."""

from __future__ import annotations

import json

import click

from edgeopt.cli.app import main


@main.group("targets", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def targets_cmd(ctx: click.Context, as_json: bool) -> None:
    """List compile targets: what they produce, their runtimes, whether this machine runs them."""
    if ctx.invoked_subcommand is not None:
        return
    from edgeopt.targets.registry import TARGETS

    rows = []
    for t in TARGETS.values():
        ok, why = t.availability()
        rows.append(
            {
                "name": t.name,
                "description": t.description,
                "produces": {
                    fmt: {"outputs": list(p.outputs), "description": p.description}
                    for fmt, p in t.produces.items()
                },
                "precisions": list(t.precisions),
                "runtimes": list(t.runtimes),
                "available": ok,
                "availability": why,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']}: {r['description']}")
        for fmt, p in r["produces"].items():
            click.echo(f"  from {fmt:<9} -> {p['description']}")
        click.echo(f"  runtimes: {', '.join(r['runtimes'])}")
        click.echo(f"  runs here: {'yes' if r['available'] else 'no'} ({r['availability']})")


@targets_cmd.command("setup")
@click.argument("target")
@click.option("--force", is_flag=True, help="Rebuild the environment even if it is prepared.")
def setup_cmd(target: str, force: bool) -> None:
    """Prepare TARGET's verification environment once (arm: aarch64 Python under qemu)."""
    from edgeopt.errors import UsageError
    from edgeopt.targets.registry import get_target

    get_target(target)
    if target != "arm":
        raise UsageError(
            f"target {target} needs no set-up", "only `optimize targets setup arm` exists"
        )
    from edgeopt.targets.emulation import setup_arm, summary

    click.echo(summary(setup_arm(force=force)))
