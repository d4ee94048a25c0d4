"""`optimize verify`: a bundle (hashes + sample run) or an artifact on its target (arm: under qemu)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import NON_NEGATIVE, path_option, value_option
from edgeopt.errors import UsageError

BUNDLE_SUFFIXES = (".tar.gz", ".tgz")


@main.command("verify")
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option(
    "--target", "-t", "target", help="cpu, gpu or arm (default: the artifact's own target)."
)
@value_option("--samples", kind=int, default=32, help="Samples compared.")
@click.option("--data", help="Dataset for the inputs (default: the artifact's).")
@click.option("--tolerance", "atol", type=NON_NEGATIVE, help="Absolute tolerance.")
@click.option(
    "--rtol", type=NON_NEGATIVE, help="Tolerance relative to the output's largest magnitude."
)
@path_option("--report", help="Write the result as JSON here.")
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="KEY.pub",
    help="Bundles: the pinned public key; fail unless the bundle is signed by it.",
)
def verify_cmd(artifact, target, samples, data, atol, rtol, report, key) -> None:
    """Verify a bundle from `optimize package` (safe unpacking, every hash, with --key its
    signature, then its samples on edgeopt's own runtime; nothing from the bundle is executed),
    or run ARTIFACT on its target (arm: aarch64 under qemu) and compare with the reference run."""
    from edgeopt.cli.options import parse_positive
    from edgeopt.core.files import atomic_write_text
    from edgeopt.targets.verify import describe_result, verify_path

    parse_positive("--samples", samples)
    if artifact.name.endswith(BUNDLE_SUFFIXES):
        from edgeopt.package import verify_bundle

        result = verify_bundle(artifact, key=key)
    elif key:
        raise UsageError(
            "--key checks a bundle's signature", "give a .tar.gz bundle, or leave --key out"
        )
    else:
        result = verify_path(artifact, target, samples, data, atol, rtol)
    if report:
        atomic_write_text(report, json.dumps(result, indent=2, default=str) + "\n")
    if "files" in result:
        click.echo(
            f"verified bundle {artifact}: {result['files']} files intact, sample outputs match "
            f"on {result['runtime']['runtime']} {result['runtime']['version']}"
        )
        if result.get("raw_samples"):
            click.echo(
                "raw-input samples match end to end (edgeopt's preprocessing and runtime; "
                "the bundle's run.py is never executed)"
            )
        click.echo(_authenticity(result["authenticity"]))
    else:
        click.echo(
            f"verified {artifact} on {result.get('target') or target or 'its target'}: outputs "
            f"match within tolerance (atol {result['tolerance']['atol']:g}, "
            f"rtol {result['tolerance']['rtol']:g}, {result['samples']} samples)"
        )
    click.echo(describe_result(result))


def _authenticity(a: dict) -> str:
    """What the check proves: hashes alone only catch accidents, anyone can re-hash a manifest."""
    if a["checked"]:
        return f"authenticity: signed by the key {a['key']} ({a['key_fingerprint']})"
    if a["signed"]:
        return (
            f"authenticity NOT checked: signed by key {a['key_fingerprint']}, but no --key was "
            "given to check it against (integrity against accidental damage only)"
        )
    return (
        "authenticity NOT checked: the bundle is unsigned, so the hashes only show it was not "
        "damaged by accident (anyone can re-hash a manifest); sign with package --sign KEY"
    )
