"""`optimize devices add|list|check|remove`: the boards `bench/gate --device` and a recipe's
`[candidates.arm] device = NAME` time on, reached over SSH (logic in edgeopt.devices)."""

from __future__ import annotations

import json

import click

from edgeopt.cli.app import main

devices_option = click.option(
    "--devices",
    "devices_file",
    type=click.Path(dir_okay=False),
    help="Device list (default: $EDGEOPT_DEVICES, else $XDG_CONFIG_HOME/edgeopt/devices.toml).",
)


def _registry(devices_file):
    from edgeopt.devices import Registry

    return Registry(devices_file)


@main.group("devices")
def devices_cmd() -> None:
    """Boards reached over SSH (the system's OpenSSH client, BatchMode, host keys checked):
    latency measured on them with `optimize bench/gate ... --device NAME`."""


@devices_cmd.command("add")
@click.argument("name")
@click.option("--ssh", "ssh", required=True, help="USER@HOST[:PORT] of the board.")
@click.option("--identity", type=click.Path(dir_okay=False), help="Private key to log in with.")
@click.option("--python", help="Python on the board that runs the timing (default: python3).")
@click.option("--arch", type=click.Choice(["aarch64", "x86_64"]), help="Expected architecture.")
@click.option("--workdir", help="Work folder on the board (default: edgeopt-work in the home).")
@click.option(
    "--accept-host-key",
    is_flag=True,
    help="Record the board's current host key (ssh-keyscan) in edgeopt's known_hosts. Without "
    "it the key must already be known: a first contact is refused, never silently trusted.",
)
@click.option("--force", is_flag=True, help="Replace a device of the same name.")
@devices_option
def add_cmd(name, ssh, identity, python, arch, workdir, accept_host_key, force, devices_file):
    """Register device NAME. Nothing is installed on the board; `check` says what it lacks."""
    from edgeopt.devices import make_device
    from edgeopt.devices.ssh import accept_host_key as keyscan

    reg = _registry(devices_file)
    device = make_device(name, ssh, identity, python, arch, workdir)
    if device.name in reg.load() and not force:
        reg.add(device)  # raises: already exists
    if accept_host_key:
        for fp in keyscan(device, reg.known_hosts):
            click.echo(f"accepted host key {fp}")
        click.echo(f"(recorded in {reg.known_hosts}; compare with ssh-keygen -lf on the board)")
    reg.add(device, force=True)
    click.echo(f"added device {device.name} ({device.ssh}) to {reg.path}")


@devices_cmd.command("list")
@devices_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(devices_file, as_json) -> None:
    """The registered devices."""
    reg = _registry(devices_file)
    devices = reg.load()
    if as_json:
        click.echo(json.dumps({n: d.to_toml() for n, d in devices.items()}, indent=2))
        return
    if not devices:
        click.echo(f"no devices in {reg.path} (optimize devices add NAME --ssh USER@HOST)")
        return
    for n, d in sorted(devices.items()):
        extra = ", ".join(x for x in (d.arch, f"python {d.python}", f"workdir {d.workdir}") if x)
        click.echo(f"{n}: {d.ssh} ({extra})")


@devices_cmd.command("check")
@click.argument("name")
@devices_option
@click.option(
    "--accept-host-key",
    is_flag=True,
    help="Record the board's current host key first (after comparing its fingerprint).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(name, devices_file, accept_host_key, as_json) -> None:
    """Connect to NAME and report its arch, Python, runtimes and free disk, and the pip line
    for what is missing. Exit 1 when unreachable or when numpy or every runtime is missing."""
    import sys

    from edgeopt.core.fmt import size
    from edgeopt.devices.check import check_device
    from edgeopt.devices.ssh import accept_host_key as keyscan

    reg = _registry(devices_file)
    device = reg.get(name)
    if accept_host_key:
        for fp in keyscan(device, reg.known_hosts):
            click.echo(f"accepted host key {fp}", err=as_json)
    r = check_device(device, reg.known_hosts)
    if as_json:
        click.echo(json.dumps(r, indent=2))
    else:
        click.echo(f"device {name} ({r['ssh']}): reachable, host key verified")
        click.echo(f"  arch: {r['arch']}" + ("" if r["arch_matches"] else " (NOT as registered)"))
        click.echo(f"  python: {r['python']}; numpy: {r['numpy'] or 'MISSING'}")
        for rt in ("onnxruntime", "openvino", "litert"):
            click.echo(f"  {rt}: {r['runtimes'].get(rt) or 'missing'}")
        click.echo(f"  free disk in {r['workdir']}: {size(r['free_bytes'])}")
        if r["missing"]:
            click.echo(f"  missing: {', '.join(r['missing'])}")
            click.echo(f"  install: {r['pip']}")
    usable = r["numpy"] and r["runtimes"] and r["arch_matches"]
    sys.exit(0 if usable else 1)


@devices_cmd.command("remove")
@click.argument("name")
@devices_option
def remove_cmd(name, devices_file) -> None:
    """Forget NAME (its work folder on the board is left alone)."""
    d = _registry(devices_file).remove(name)
    click.echo(f"removed device {name} ({d.ssh})")
