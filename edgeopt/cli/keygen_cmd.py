"""`optimize keygen -o release.key`: an Ed25519 key pair for signing bundles."""

from __future__ import annotations

from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import force_option, path_option


@main.command("keygen")
@path_option(
    "-o", "--output", help="Private key file; the public key goes to KEY.pub.", required=True
)
@force_option
def keygen_cmd(output: Path, force: bool) -> None:
    """Make a key pair for `optimize package --sign KEY` and `optimize verify --key KEY.pub`.

    The private key (PEM PKCS8, unencrypted, mode 0600) stays on the machine that builds
    releases; KEY.pub is what devices and verifiers pin."""
    from edgeopt.package.signing import generate_keypair

    public, fingerprint = generate_keypair(output, force)
    click.echo(f"wrote {output} (private, mode 0600) and {public} (public key {fingerprint})")
    click.echo(f"sign with: optimize package ARTIFACT -o B.tar.gz --sign {output}")
    click.echo(f"verify with: optimize verify B.tar.gz --key {public}")
