"""Latency measured on a device over SSH: a real OpenSSH server on 127.0.0.1 (Debian's
openssh-server, started here with its own host key, user key and config, stopped after) whose
"device" is this machine, running the venv's Python. Through the real `optimize` executable:
registry, host-key checks, bench/gate/recipes timed on the device, and the failure cases."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import run_cli

SSHD = Path("/usr/sbin/sshd")
SYSTEM_PYTHON = Path("/usr/bin/python3")

pytestmark = pytest.mark.skipif(
    not (SSHD.exists() and shutil.which("ssh")) and not os.environ.get("CI"),
    reason="needs openssh-server (make sysdeps installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """sshd -D on 127.0.0.1 at a free port, keys and config in a temp folder."""
    root = tmp_path_factory.mktemp("sshd")
    _keygen(root / "host_key")
    _keygen(root / "user_key")
    _keygen(root / "stranger_key")  # never authorized
    shutil.copy(root / "user_key.pub", root / "authorized_keys")
    port = _free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
        "Subsystem sftp internal-sftp\n"
    )
    if os.geteuid() == 0:  # sshd's privilege-separation folder (what its service unit makes)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    proc = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(root / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "sshd.log", "w"),
    )
    deadline = time.time() + 15
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert proc.poll() is None, (root / "sshd.log").read_text()
        time.sleep(0.1)
    yield {"root": root, "port": port, "user": _user(), "key": root / "user_key"}
    proc.terminate()
    proc.wait(timeout=10)


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _add(sshd, devices: Path, name: str, *extra, port=None, python=sys.executable, accept=True):
    work = devices.parent / f"work-{name}"
    args = ["devices", "add", name, "--ssh", f"{sshd['user']}@127.0.0.1:{port or sshd['port']}"]
    args += ["--python", python, "--workdir", str(work), "--devices", devices, *extra]
    if "--identity" not in extra:
        args += ["--identity", sshd["key"]]
    return run_cli(*args, *(["--accept-host-key"] if accept else []))


@pytest.fixture(scope="module")
def device(sshd, tmp_path_factory):
    """A registered device `local` (host key accepted) and its device file."""
    devices = tmp_path_factory.mktemp("devices") / "devices.toml"
    r = _add(sshd, devices, "local")
    assert r.returncode == 0, r.stderr
    return devices


def test_add_list_check_remove(sshd, device, tmp_path):
    listed = run_cli("devices", "list", "--devices", device, check=True)
    assert f"local: {sshd['user']}@127.0.0.1:{sshd['port']}" in listed.stdout
    assert (device.parent / "known_hosts").read_text().startswith(f"[127.0.0.1]:{sshd['port']} ")
    r = run_cli("devices", "check", "local", "--devices", device, "--json", check=True)
    info = json.loads(r.stdout)
    import onnxruntime

    assert info["arch"] == platform.machine()
    assert info["python"] == platform.python_version()
    assert info["runtimes"]["onnxruntime"] == onnxruntime.__version__
    assert info["free_bytes"] > 0 and info["missing"] == []
    other = tmp_path / "d.toml"
    assert _add(sshd, other, "gone").returncode == 0
    r = run_cli("devices", "remove", "gone", "--devices", other, check=True)
    assert "removed device gone" in r.stdout
    assert "gone" not in run_cli("devices", "list", "--devices", other).stdout


def test_unknown_host_key_is_refused(sshd, tmp_path):
    devices = tmp_path / "devices.toml"
    assert _add(sshd, devices, "fresh", accept=False).returncode == 0  # registered, not trusted
    r = run_cli("devices", "check", "fresh", "--devices", devices)
    assert r.returncode == 1
    assert "host key of device fresh" in r.stderr and "not known" in r.stderr
    assert "--accept-host-key" in r.stderr  # the fix line names the way to trust it
    assert not (tmp_path / "known_hosts").exists()  # nothing was recorded silently
    r = run_cli("devices", "check", "fresh", "--devices", devices, "--accept-host-key")
    assert r.returncode == 0, r.stderr
    assert "accepted host key" in r.stdout


def test_unreachable_port(sshd, tmp_path):
    devices = tmp_path / "devices.toml"
    port = _free_port()  # nothing listens there
    assert _add(sshd, devices, "off", port=port, accept=False).returncode == 0
    r = run_cli("devices", "check", "off", "--devices", devices)
    assert r.returncode == 1
    assert "device off" in r.stderr and "unreachable" in r.stderr
    assert "fix:" in r.stderr and "Traceback" not in r.stderr


def test_refused_key(sshd, tmp_path):
    devices = tmp_path / "devices.toml"
    stranger = ("--identity", str(sshd["root"] / "stranger_key"))
    assert _add(sshd, devices, "locked", *stranger).returncode == 0
    r = run_cli("devices", "check", "locked", "--devices", devices)
    assert r.returncode == 1
    assert "refused the login" in r.stderr and "ssh-copy-id" in r.stderr


def _budgets(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bench_and_gate_on_device(device, exported, tmp_path):
    onnx = exported("tabular-mlp", "onnx")
    ir = exported("tabular-mlp", "openvino")
    r = run_cli(
        "bench", ir, "--baseline", onnx, "--device", "local", "--devices", device,
        "--max-time", "1", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["device"]["device"] == "local" and res["device"]["kind"] == "device"
    runtimes = {a["timed_on"]["runtime"] for a in res["artifacts"]}
    assert runtimes == {"onnxruntime", "openvino"}
    for a in res["artifacts"]:
        assert a["timed_on"]["arch"] == platform.machine()
        assert a["timed_on"]["runtime_version"]
        assert a["timed_on"]["parity"]["passed"] is True  # same outputs on the device
        assert a["latency"]["samples"] >= 50 and len(a["latency"]["samples_ms"]) >= 50
    assert res["artifacts"][1]["ratio"]["blocks"] >= 3  # paired interleaved blocks
    assert "latency timed on device local" in r.stderr
    work = device.parent / "work-local"
    assert work.is_dir() and not any(work.iterdir())  # its run folder was removed
    # the gate decides on the device's figures: a generous budget passes, an absurd one fails
    ok = _budgets(tmp_path / "ok.toml", "latency_p50_ms = 1000.0\n")
    r = run_cli("gate", onnx, "--budgets", ok, "--device", "local", "--devices", device,
                "--max-time", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "PASS" in r.stdout and "gate PASSED" in r.stdout
    tight = _budgets(tmp_path / "tight.toml", "latency_p50_ms = 0.00001\n")
    r = run_cli("gate", onnx, "--budgets", tight, "--device", "local", "--devices", device,
                "--max-time", "1")  # fmt: skip
    assert r.returncode == 1
    assert "FAIL" in r.stderr and "latency_p50_ms" in r.stderr


def test_missing_runtime_names_the_pip_line(sshd, exported, tmp_path):
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import onnxruntime"], capture_output=True)
    if not SYSTEM_PYTHON.exists() or probe.returncode == 0:
        pytest.skip("needs a Python without onnxruntime at /usr/bin/python3")
    devices = tmp_path / "devices.toml"
    assert _add(sshd, devices, "bare", python=str(SYSTEM_PYTHON)).returncode == 0
    r = run_cli("devices", "check", "bare", "--devices", devices)
    assert "onnxruntime: missing" in r.stdout
    assert f"{SYSTEM_PYTHON} -m pip install" in r.stdout
    onnx = exported("tabular-mlp", "onnx")
    r = run_cli("bench", onnx, "--device", "bare", "--devices", devices, "--max-time", "1")
    assert r.returncode == 1
    assert "device bare lacks" in r.stderr and "onnxruntime" in r.stderr
    assert f"{SYSTEM_PYTHON} -m pip install" in r.stderr and "'onnxruntime>=" in r.stderr


RECIPE = """
name = "arm-on-device"
[model]
source = "builtin:tabular-mlp"
[bench]
max_time = 1.0
threads = 1
[candidates.arm]
format = ["tflite"]
{device}
[budgets.targets.arm]
latency_p50_ms = 1000.0
"""


def test_recipe_times_arm_on_the_device_and_gates_it(device, tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE.format(device=""))
    env = {"EDGEOPT_CACHE": str(tmp_path / "cache")}
    r = run_cli("run", recipe, "-o", tmp_path / "runs", "--devices", device, env=env)
    assert r.returncode == 2  # host-timed arm latency is never gated: refused before any build
    assert "[candidates.arm] device" in r.stderr and not (tmp_path / "runs").exists()
    recipe.write_text(RECIPE.format(device='device = "local"'))
    r = run_cli("run", recipe, "-o", tmp_path / "runs", "--devices", device, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    arm = json.loads((run_dir / "run.json").read_text())["targets"]["arm"]
    assert arm["timed_on"]["kind"] == "device" and arm["timed_on"]["device"] == "local"
    (row,) = arm["candidates"]
    gated = {d["budget"]: d["status"] for d in row["verdict"]["decisions"]}
    assert gated.get("latency_p50_ms") == "pass"
    assert arm["chosen"] == row["name"]


def _timer_process(work: Path, timeout: float = 60) -> int:
    """The pid of the timing script that `optimize bench` started on the device (this host)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in Path("/proc").iterdir():
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
                if b"timer.py" in cmd and Path(os.readlink(p / "cwd")).parent == work:
                    return int(p.name)
            except (OSError, ValueError):
                continue
        time.sleep(0.2)
    raise AssertionError("the timing script never started on the device")


@pytest.mark.slow
@pytest.mark.parametrize("min_samples, kept", [("50", True), ("10000000", False)])
def test_device_dropping_mid_run(sshd, exported, tmp_path, min_samples, kept):
    """The SSH session serving the timing script is killed: figures with enough samples are
    kept, the others named; the run fails and its work folder stays for inspection."""
    import signal

    devices = tmp_path / "devices.toml"
    assert _add(sshd, devices, "flaky").returncode == 0
    onnx, ir = exported("tabular-mlp", "onnx"), exported("tabular-mlp", "openvino")
    args = ["bench", ir, "--baseline", onnx, "--device", "flaky", "--devices", devices,
            "--max-time", "60", "--ci-width", "0.000001", "--min-samples", min_samples,
            "--no-accuracy", "--json"]  # fmt: skip
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "optimize"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid = _timer_process(tmp_path / "work-flaky")
    time.sleep(8)  # past both warm-ups, into the interleaved rounds
    session = int(Path(f"/proc/{pid}/status").read_text().split("PPid:")[1].split()[0])
    os.kill(session, signal.SIGKILL)  # the sshd process of that connection: the link drops
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "device dropped mid-run" in err
    res = json.loads(out)
    assert res["measurement"]["stopped"] in ("device-lost", "failed")
    for a in res["artifacts"]:
        if kept:
            assert a["latency"]["samples"] >= 50 and not a.get("error")
        else:
            assert "not measured: device flaky dropped mid-run" in a["error"]
            assert a["name"] in err
    assert any((tmp_path / "work-flaky").iterdir())  # left for inspection, not cleaned
