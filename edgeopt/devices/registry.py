"""The device list: boards reached over SSH, kept in a TOML file the user owns.

Default file: `$XDG_CONFIG_HOME/edgeopt/devices.toml` (else ~/.config/edgeopt/devices.toml);
`--devices FILE` (or $EDGEOPT_DEVICES) points elsewhere, e.g. a file checked into CI. Host
keys accepted with `--accept-host-key` go to `known_hosts` beside that file, edgeopt's own,
so the user's ~/.ssh/known_hosts is read but never written.

```toml
[devices.pi4]
ssh = "pi@10.0.0.7:22"
identity = "/home/ci/.ssh/id_ed25519"   # optional: the key to log in with
python = "python3"                     # the interpreter that runs the timing script
arch = "aarch64"                       # optional: checked against the board on connect
workdir = "edgeopt-work"               # relative to the login's home; per-run subfolders
```
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from edgeopt.core.files import atomic_write_text
from edgeopt.errors import UsageError

ARCHES = ("aarch64", "x86_64")
DEFAULT_WORKDIR = "edgeopt-work"
KNOWN_HOSTS = "known_hosts"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SSH = re.compile(
    r"(?P<user>[A-Za-z0-9._-]+)@(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:(?P<port>\d+))?"
)
FIELDS = ("ssh", "identity", "python", "arch", "workdir")


@dataclass(frozen=True)
class Device:
    name: str
    user: str
    host: str
    port: int = 22
    identity: str | None = None
    python: str = "python3"
    arch: str | None = None
    workdir: str = DEFAULT_WORKDIR

    @property
    def ssh(self) -> str:
        return f"{self.user}@{self.host}" + (f":{self.port}" if self.port != 22 else "")

    @property
    def address(self) -> str:
        """host[:port] as people (and known_hosts, with brackets) name it."""
        return self.host if self.port == 22 else f"{self.host}:{self.port}"

    def to_toml(self) -> dict:
        out = {"ssh": self.ssh, "python": self.python, "workdir": self.workdir}
        if self.identity:
            out["identity"] = self.identity
        if self.arch:
            out["arch"] = self.arch
        return out


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise UsageError(
            f"device name {name!r} is not a plain name",
            "use letters, digits, '.', '_' and '-' (starting with a letter or digit)",
        )
    return name


def parse_ssh(value: str) -> tuple[str, str, int]:
    """USER@HOST[:PORT] -> (user, host, port)."""
    m = _SSH.fullmatch(value or "")
    port = int(m["port"]) if m and m["port"] else 22
    if not m or not 0 < port < 65536:
        raise UsageError(
            f"--ssh {value!r} is not USER@HOST[:PORT]", "e.g. --ssh pi@10.0.0.7 or ci@board:2222"
        )
    return m["user"], m["host"].strip("[]"), port


def make_device(
    name: str,
    ssh: str,
    identity: str | None = None,
    python: str | None = None,
    arch: str | None = None,
    workdir: str | None = None,
) -> Device:
    """A checked Device from user input (the CLI's options or a file's entry)."""
    user, host, port = parse_ssh(ssh)
    if arch is not None and arch not in ARCHES:
        raise UsageError(f"arch {arch!r} of device {name} is unknown", f"use {' or '.join(ARCHES)}")
    if identity is not None:
        identity = str(Path(identity).expanduser().resolve())
        if not Path(identity).is_file():
            raise UsageError(f"identity file not found: {identity}", "give the private key's path")
    workdir = workdir or DEFAULT_WORKDIR
    if workdir.startswith("-") or "\n" in workdir or "'" in workdir:
        raise UsageError(f"workdir {workdir!r} of device {name} is unsafe", "use a plain path")
    return Device(check_name(name), user, host, port, identity, python or "python3", arch, workdir)


def default_path() -> Path:
    env = os.environ.get("EDGEOPT_DEVICES")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "edgeopt" / "devices.toml"


class Registry:
    """The device file: read on every use (small), written whole to a temp name then renamed."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_path()

    @property
    def known_hosts(self) -> Path:
        return self.path.with_name(KNOWN_HOSTS)

    def load(self) -> dict[str, Device]:
        if not self.path.exists():
            return {}
        try:
            doc = tomllib.loads(self.path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"device file {self.path} is not valid TOML: {e}", "fix it") from e
        table = doc.get("devices", {})
        if not isinstance(table, dict):
            raise UsageError(f"[devices] in {self.path} must be a table", "write [devices.NAME]")
        out = {}
        for name, entry in table.items():
            where = f"[devices.{name}] in {self.path}"
            if not isinstance(entry, dict) or "ssh" not in entry:
                raise UsageError(f"{where} has no ssh", 'add ssh = "USER@HOST[:PORT]"')
            unknown = sorted(set(entry) - set(FIELDS))
            if unknown:
                raise UsageError(
                    f"unknown key {unknown[0]!r} in {where}", f"keys: {', '.join(FIELDS)}"
                )
            if not all(isinstance(v, str) for v in entry.values()):
                raise UsageError(f"every value in {where} must be a string", "quote it")
            out[name] = make_device(name, **{k: entry.get(k) for k in FIELDS})
        return out

    def get(self, name: str) -> Device:
        devices = self.load()
        if name not in devices:
            known = ", ".join(sorted(devices)) or "none yet"
            raise UsageError(
                f"no device named {name!r} in {self.path} (known: {known})",
                f"add it: optimize devices add {name} --ssh USER@HOST",
            )
        return devices[name]

    def save(self, devices: dict[str, Device]) -> None:
        lines = ["# edgeopt devices (optimize devices add/remove edit this file)", ""]
        for name in sorted(devices):
            lines.append(f"[devices.{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in devices[name].to_toml().items()]
            lines.append("")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, "\n".join(lines))

    def add(self, device: Device, force: bool = False) -> None:
        devices = self.load()
        if device.name in devices and not force:
            raise UsageError(
                f"device {device.name!r} already exists in {self.path}",
                "pass --force to replace it, or remove it first",
            )
        devices[device.name] = device
        self.save(devices)

    def remove(self, name: str) -> Device:
        devices = self.load()
        device = self.get(name)
        del devices[name]
        self.save(devices)
        return device
