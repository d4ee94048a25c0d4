"""`optimize devices check NAME`: what a device has, and exactly what it lacks."""

from __future__ import annotations

from pathlib import Path

from edgeopt.devices.registry import Device
from edgeopt.devices.remote import label, missing, pip_line, probe
from edgeopt.devices.ssh import Transport
from edgeopt.runtimes import RUNTIMES


def check_device(device: Device, known_hosts: Path) -> dict:
    """Connect and probe; `missing` lists numpy/runtimes not installed, `pip` installs them
    (every runtime is listed: a device needs only those of the formats it will run)."""
    found = probe(Transport(device, known_hosts))
    lack = missing(found, list(RUNTIMES))
    report = {
        **label(device, found),
        "system": found.get("system"),
        "free_bytes": found.get("free_bytes"),
        "numpy": found.get("numpy"),
        "workdir": device.workdir,
        "missing": lack,
        "pip": pip_line(device, lack) if lack else None,
        "arch_matches": device.arch is None or device.arch == found.get("arch"),
    }
    return report
