"""`optimize package ARTIFACT --target T -o bundle.tar.gz`."""

from __future__ import annotations

from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import force_option, path_option, value_option


@main.command("package")
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option("--target", help="Target the bundle is for (default: the artifact's, else cpu).")
@path_option("-o", "--output", help="Bundle file (.tar.gz).", required=True)
@value_option(
    "--samples", kind=int, default=8, help="Sample inputs (with reference outputs) to include."
)
@click.option(
    "--results",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A bench results JSON whose measured figures go into the manifest.",
)
@click.option(
    "--recipe",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The recipe that produced it.",
)
@click.option(
    "--sign",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="KEY",
    help="Sign the manifest with this Ed25519 private key (optimize keygen).",
)
@force_option
def package_cmd(artifact, target, output, samples, results, recipe, sign, force) -> None:
    """Bundle ARTIFACT with a manifest, sample inputs, reference outputs and a runner script."""
    from edgeopt.cli.options import parse_positive
    from edgeopt.package import PackageConfig, build_bundle

    parse_positive("--samples", samples)

    out = build_bundle(
        artifact,
        PackageConfig(
            output=output,
            target=target,
            samples=samples,
            results=results,
            recipe=recipe,
            force=force,
            sign=sign,
        ),
    )
    if sign:
        from edgeopt.package.signing import public_key_path

        click.echo(
            f"wrote {out} ({out.stat().st_size} bytes), signed with {sign}; check it with: "
            f"optimize verify {out} --key {public_key_path(Path(sign))}"
        )
    else:
        click.echo(
            f"wrote {out} ({out.stat().st_size} bytes); check it with: optimize verify {out}"
        )
