"""SSH to a device with the real OpenSSH client: `ssh`/`scp` in BatchMode, host keys checked.

Why the system client: it is what device labs already configure (agents, jump hosts in
~/.ssh/config, hardware keys), and it never asks a question in BatchMode, so a CI job fails
with a message instead of hanging. A host key is trusted only when it is in edgeopt's own
known_hosts (written by `devices add --accept-host-key`, through ssh-keyscan) or in the
user's ~/.ssh/known_hosts; StrictHostKeyChecking=yes refuses everything else.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from edgeopt.devices.registry import Device
from edgeopt.errors import EdgeoptError, UsageError

CONNECT_TIMEOUT_S = 10


class DeviceError(EdgeoptError):
    """A device could not be reached, refused us, or failed while working."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise UsageError(
            f"the OpenSSH client ({name}) is not installed here",
            "install it: apt-get install openssh-client (or your OS's package)",
        )
    return path


class Transport:
    """Commands and copies to one device; every failure becomes a DeviceError naming it."""

    def __init__(self, device: Device, known_hosts: Path):
        self.device = device
        self.known_hosts = Path(known_hosts)

    def _options(self, port_flag: str) -> list[str]:
        d = self.device
        files = [str(self.known_hosts), str(Path.home() / ".ssh" / "known_hosts")]
        opts = [
            port_flag,
            str(d.port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UserKnownHostsFile=" + " ".join(files),
            "-o",
            f"ConnectTimeout={CONNECT_TIMEOUT_S}",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            "LogLevel=ERROR",
        ]
        if d.identity:
            opts += ["-i", d.identity, "-o", "IdentitiesOnly=yes"]
        return opts

    def ssh_command(self, remote: str) -> list[str]:
        """The argv that runs `remote` (a shell command line) on the device."""
        d = self.device
        return [_tool("ssh"), *self._options("-p"), f"{d.user}@{d.host}", remote]

    def run(self, remote: str, timeout: float = 120, input: str | None = None) -> str:
        """Run `remote`, return its stdout; a non-zero exit raises DeviceError."""
        try:
            proc = subprocess.run(
                self.ssh_command(remote),
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as e:
            raise self.unreachable(f"no answer within {timeout:g} s") from e
        if proc.returncode == 255:
            raise self.classify(proc.stderr)
        if proc.returncode != 0:
            raise DeviceError(
                f"device {self.device.name}: `{remote[:80]}` failed (exit {proc.returncode}): "
                + (proc.stderr.strip().splitlines() or ["no message"])[-1][:300],
                f"run optimize devices check {self.device.name}",
            )
        return proc.stdout

    def popen(self, remote: str) -> subprocess.Popen:
        """A running remote command with pipes (line protocol of the timing script)."""
        return subprocess.Popen(
            self.ssh_command(remote),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def copy(self, files: Sequence[Path], remote_dir: str, timeout: float = 600) -> None:
        """scp `files` into `remote_dir` (relative to the login's home, or absolute)."""
        d = self.device
        host = f"[{d.host}]" if ":" in d.host else d.host
        argv = [_tool("scp"), "-q", *self._options("-P"), *map(str, files)]
        argv.append(f"{d.user}@{host}:{remote_dir}/")
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as e:
            raise self.unreachable(f"copying took over {timeout:g} s") from e
        if proc.returncode != 0:
            raise self.classify(proc.stderr, copying=True)

    def unreachable(self, why: str) -> DeviceError:
        d = self.device
        return DeviceError(
            f"device {d.name} ({d.ssh}) is unreachable: {why}",
            "check that it is powered, on the network and runs sshd on that port "
            f"(ssh -p {d.port} {d.user}@{d.host})",
        )

    def classify(self, stderr: str, copying: bool = False) -> DeviceError:
        """Name what went wrong from OpenSSH's message (its exit status is always 255)."""
        d = self.device
        text = stderr.strip()
        last = (text.splitlines() or ["connection failed"])[-1][:300]
        if "IDENTIFICATION HAS CHANGED" in text:
            return DeviceError(
                f"the host key of device {d.name} ({d.address}) has CHANGED since it was accepted",
                "if the board was reinstalled, compare the new fingerprint and run "
                f"optimize devices check {d.name} --accept-host-key (it replaces the old key); "
                "otherwise someone may be intercepting the connection",
            )
        if "Host key verification failed" in text or "host key" in text.lower():
            return DeviceError(
                f"the host key of device {d.name} ({d.address}) is not known: refusing to connect",
                f"compare its fingerprint (ssh-keyscan -p {d.port} {d.host} | ssh-keygen -lf -) "
                f"with the board's, then optimize devices check {d.name} --accept-host-key "
                "(or add it to ~/.ssh/known_hosts)",
            )
        if "Permission denied" in text or "Too many authentication failures" in text:
            key = d.identity or "your default key"
            return DeviceError(
                f"device {d.name} refused the login of {d.user} with {key}: {last}",
                f"install the public key on the board (ssh-copy-id -i {key}.pub -p {d.port} "
                f"{d.user}@{d.host}) or pass --identity KEY",
            )
        markers = (
            "Connection refused",
            "timed out",
            "No route to host",
            "Could not resolve",
            "Network is unreachable",
            "Connection closed",
            "Connection reset",
            "Broken pipe",
            "not known",
        )
        if any(m in text for m in markers) or not text:
            return self.unreachable(last)
        what = "copying to" if copying else "connecting to"
        return DeviceError(
            f"{what} device {d.name} failed: {last}", f"try ssh -p {d.port} {d.user}@{d.host}"
        )


def accept_host_key(device: Device, known_hosts: Path, timeout: int = 10) -> list[str]:
    """Record the device's current host keys (ssh-keyscan) in edgeopt's known_hosts; returns
    their fingerprints, which the CLI prints so the user can compare them with the board's."""
    try:
        proc = subprocess.run(
            [_tool("ssh-keyscan"), "-T", str(timeout), "-p", str(device.port), device.host],
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        proc = None
    lines = [ln for ln in (proc.stdout if proc else "").splitlines() if ln and ln[0] != "#"]
    if not lines:
        raise DeviceError(
            f"device {device.name} ({device.address}) is unreachable: no host key from ssh-keyscan",
            "check that it is powered, on the network and runs sshd on that port",
        )
    marker = device.host if device.port == 22 else f"[{device.host}]:{device.port}"
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if known_hosts.exists():  # replace this host's old lines (a reinstalled board)
        kept = [ln for ln in known_hosts.read_text().splitlines() if ln.split(" ")[0] != marker]
    from edgeopt.core.files import atomic_write_text

    atomic_write_text(known_hosts, "\n".join(kept + lines) + "\n")
    fps = subprocess.run(
        [_tool("ssh-keygen"), "-l", "-f", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
    )
    return [ln for ln in fps.stdout.splitlines() if ln.strip()]


def quote(path: str) -> str:
    """A remote path for the remote shell; relative paths stay relative to the home folder."""
    return shlex.quote(path)
