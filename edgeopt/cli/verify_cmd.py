"""`optimize verify BUNDLE`: check a device bundle's hashes and re-run its samples."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeopt.cli import main


@main.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_cmd(path: Path, as_json: bool) -> None:
    """Verify a bundle made by `optimize package`: hashes, load, sample outputs."""
    from edgeopt.package import verify_bundle

    result = verify_bundle(path)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    for name, s in result["outputs"].items():
        click.echo(f"{name}: max abs diff {s['max_abs']:.3g}, cosine {s['cosine']:.6f}")
    click.echo(
        f"verified {path}: {result['files']} files intact, outputs match on "
        f"{result['runtime']['runtime']} {result['runtime']['version']}"
    )
