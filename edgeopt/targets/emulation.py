"""Run ARM artifacts on aarch64 for real, under qemu-user, with an aarch64 Python and runtimes.

The environment comes from the package registries alone and is prepared once into a cache:
- Debian's arm64 packages of python3.11 (and libstdc++) fetched with apt-get under a private
  apt configuration (APT::Architecture=arm64, its own lists and status file, so the host's
  dpkg state is never touched) and unpacked with `dpkg -x` into a sysroot;
- PyPI's manylinux aarch64 wheels of numpy, onnxruntime and ai-edge-litert (the same versions
  as on the host, so differences come from the CPU, not the release) unpacked into a site folder.
qemu-aarch64-static runs it with `-L sysroot` (binfmt is not assumed to be registered).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from edgeopt.core.files import human_bytes
from edgeopt.core.progress import info
from edgeopt.core.spec import TensorSpec
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.runtimes.base import Session, SessionOptions

DEBIAN_PYTHON = "python3.11"
DEBIAN_PACKAGES = (DEBIAN_PYTHON, "libstdc++6")
WHEEL_PYTHON = "3.11"
WHEEL_PACKAGES = ("numpy", "onnxruntime", "ai-edge-litert")
# manylinux tags an arm64 Debian 12 (glibc 2.36) accepts; pip wants them listed
PLATFORMS = ["manylinux2014_aarch64"] + [f"manylinux_2_{v}_aarch64" for v in range(17, 37)]
RUNNER = Path(__file__).with_name("arm_runner.py")
# The emulated core. qemu 7.2's default `max` model (SVE2, i8mm, ...) made LiteRT/XNNPACK's
# int8 kernels return wrong answers for digits-cnn (every sample -> class 4), and the
# cortex-a53/a72 models stop with SIGILL in the aarch64 wheels; neoverse-n1 (ARMv8.2 with
# dotprod, as in Graviton2 and many edge SoCs) reproduces the x86 outputs exactly.
QEMU_CPU = "neoverse-n1"

# qemu-user 7.2 passes the host's x86 /proc/cpuinfo through, and ONNX Runtime's cpuinfo
# library crashes (SIGSEGV) parsing it as ARM. qemu looks absolute paths up under -L first,
# so a sysroot/proc/cpuinfo describing one Neoverse-N1 core is what the emulated process reads.
FAKE_CPUINFO = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

"""


def cache_root() -> Path:
    """$EDGEOPT_CACHE/arm, else ~/.cache/edgeopt/arm."""
    base = os.environ.get("EDGEOPT_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "edgeopt") / "arm"


def wheel_pins() -> list[str]:
    """The host's own versions: the emulated run then differs only by CPU architecture."""
    pins = []
    for pkg in WHEEL_PACKAGES:
        try:
            pins.append(f"{pkg}=={metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pins.append(pkg)
    return pins


def find_qemu() -> str | None:
    return shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")


@dataclass
class ArmEnv:
    """One prepared environment; `env.json` is written last, so its presence means complete."""

    root: Path

    @property
    def sysroot(self) -> Path:
        return self.root / "sysroot"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def python(self) -> Path:
        return self.sysroot / "usr" / "bin" / DEBIAN_PYTHON

    @property
    def stamp(self) -> Path:
        return self.root / "env.json"

    def ready(self) -> bool:
        return self.stamp.exists() and self.python.exists()

    def describe(self) -> dict:
        return json.loads(self.stamp.read_text()) if self.stamp.exists() else {}

    def command(self, *args: str) -> list[str]:
        qemu = find_qemu()
        if not qemu:
            raise EdgeoptError(
                "qemu-aarch64-static is not installed", "apt-get install -y qemu-user-static"
            )
        return [qemu, "-cpu", QEMU_CPU, "-L", str(self.sysroot), str(self.python), *args]

    def environ(self) -> dict:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return {
            **keep,
            "PYTHONPATH": str(self.site),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
        }


def arm_env(root: Path | None = None) -> ArmEnv:
    return ArmEnv(root or cache_root())


def require_env(root: Path | None = None) -> ArmEnv:
    env = arm_env(root)
    if not env.ready():
        raise UsageError(
            f"the aarch64 emulation environment is not prepared ({env.root})",
            "run `optimize targets setup arm` once first",
        )
    if not find_qemu():
        raise UsageError(
            "qemu-aarch64-static is not installed", "apt-get install -y qemu-user-static"
        )
    return env


def _run(cmd: list[str], what: str, env: dict | None = None, timeout: int = 900) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise EdgeoptError(
            f"{what} failed (exit {proc.returncode}): {tail}",
            "check network access to the package registries, then rerun",
        )
    return proc.stdout


def disk_usage(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _debian_sysroot(work: Path, sysroot: Path) -> int:
    """Fetch arm64 .debs with a private apt state and unpack them; returns bytes downloaded."""
    if not shutil.which("apt-get") or not shutil.which("dpkg"):
        raise EdgeoptError(
            "apt-get and dpkg are needed to fetch Debian's arm64 Python",
            "run the set-up on a Debian-based machine",
        )
    apt = work / "apt"
    for d in ("lists/partial", "cache/archives/partial", "etc/preferences.d", "etc/apt.conf.d"):
        (apt / d).mkdir(parents=True, exist_ok=True)
    (apt / "status").touch()
    conf = apt / "apt.conf"
    conf.write_text(f"""Dir::State "{apt}";
Dir::State::Lists "{apt}/lists";
Dir::State::status "{apt}/status";
Dir::Cache "{apt}/cache";
Dir::Etc::Preferences "{apt}/etc/preferences";
Dir::Etc::PreferencesParts "{apt}/etc/preferences.d";
Dir::Etc::Parts "{apt}/etc/apt.conf.d";
APT::Architecture "arm64";
APT::Architectures {{ "arm64"; }};
APT::Install-Recommends "false";
APT::Sandbox::User "root";
""")
    env = {**os.environ, "APT_CONFIG": str(conf), "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-q"], "apt-get update (arm64 lists)", env)
    _run(
        ["apt-get", "install", "-y", "-q", "--download-only", *DEBIAN_PACKAGES],
        "apt-get download of arm64 packages",
        env,
    )
    debs = sorted((apt / "cache" / "archives").glob("*.deb"))
    if not debs:
        raise EdgeoptError("apt-get fetched no arm64 packages", "check /etc/apt/sources.list*")
    sysroot.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        _run(["dpkg", "-x", str(deb), str(sysroot)], f"dpkg -x {deb.name}")
    for junk in ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info"):
        shutil.rmtree(sysroot / junk, ignore_errors=True)
    (sysroot / "proc").mkdir(exist_ok=True)
    (sysroot / "proc" / "cpuinfo").write_text(FAKE_CPUINFO)
    cpu = sysroot / "sys" / "devices" / "system" / "cpu"
    cpu.mkdir(parents=True, exist_ok=True)
    for name in ("possible", "present", "online"):
        (cpu / name).write_text("0\n")
    return sum(d.stat().st_size for d in debs)


def _wheels(work: Path, site: Path) -> tuple[int, list[str]]:
    """pip download aarch64 wheels (binary only) and unzip them into one site folder."""
    dest = work / "wheels"
    plats = [a for p in PLATFORMS for a in ("--platform", p)]
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--dest",
            str(dest),
            *plats,
            "--only-binary=:all:",
            "--python-version",
            WHEEL_PYTHON,
            "--implementation",
            "cp",
            *wheel_pins(),
        ],
        "pip download of aarch64 wheels",
    )
    wheels = sorted(dest.glob("*.whl"))
    site.mkdir(parents=True, exist_ok=True)
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            z.extractall(site)
    return sum(w.stat().st_size for w in wheels), [w.name for w in wheels]


def setup_arm(root: Path | None = None, force: bool = False) -> dict:
    """Prepare the emulation environment once; returns what was done (time, disk, versions)."""
    env = arm_env(root)
    if env.ready() and not force:
        d = env.describe()
        d["reused"] = True
        return d
    if not find_qemu():
        raise UsageError(
            "qemu-aarch64-static is not installed",
            "apt-get update && apt-get install -y qemu-user-static",
        )
    t0 = time.perf_counter()
    env.root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{env.root.name}.", suffix=".tmp", dir=env.root.parent))
    try:
        staged = ArmEnv(work / "env")
        info("[edgeopt] fetching Debian arm64 python3.11 into a sysroot ...")
        deb_bytes = _debian_sysroot(work, staged.sysroot)
        info(f"[edgeopt] fetching aarch64 wheels: {', '.join(wheel_pins())} ...")
        whl_bytes, wheels = _wheels(work, staged.site)
        info("[edgeopt] smoke test under qemu-aarch64 ...")
        out = _run(
            staged.command(
                "-c",
                "import platform, numpy, onnxruntime, "
                "ai_edge_litert.interpreter; print(platform.machine(), "
                "platform.python_version())",
            ),
            "the aarch64 smoke test",
            staged.environ(),
            timeout=300,
        )
        machine, pyver = out.split()[:2]
        if machine != "aarch64":
            raise EdgeoptError(f"emulated Python reports {machine}, not aarch64", "check qemu")
        if env.root.exists():
            shutil.rmtree(env.root)
        os.replace(work / "env", env.root)
        report = {
            "root": str(env.root),
            "qemu": find_qemu(),
            "qemu_cpu": QEMU_CPU,
            "python": pyver,
            "debian_packages": list(DEBIAN_PACKAGES),
            "wheels": wheels,
            "downloaded_bytes": deb_bytes + whl_bytes,
            "disk_bytes": disk_usage(env.root),
            "setup_seconds": round(time.perf_counter() - t0, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        env.stamp.write_text(json.dumps(report, indent=2) + "\n")
        report["reused"] = False
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(report: dict) -> str:
    how = "already prepared" if report.get("reused") else "prepared"
    return (
        f"aarch64 environment {how} at {report['root']}: Python {report['python']}, "
        f"set-up {report['setup_seconds']}s, disk {human_bytes(report['disk_bytes'])} "
        f"(downloaded {human_bytes(report['downloaded_bytes'])})"
    )


def run_emulated(
    model: Path,
    arrays: list[np.ndarray],
    env: ArmEnv | None = None,
    threads: int = 1,
    repeats: int = 5,
) -> tuple[list[np.ndarray], dict]:
    """Run `model` on the inputs under qemu-aarch64; returns outputs and the runner's report."""
    env = env or require_env()
    with tempfile.TemporaryDirectory(prefix="edgeopt-arm-") as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **{f"input_{i}": a for i, a in enumerate(arrays)})
        proc = subprocess.run(
            env.command(
                str(RUNNER),
                str(Path(model).resolve()),
                str(src),
                str(dst),
                "--threads",
                str(threads),
                "--repeats",
                str(repeats),
            ),
            capture_output=True,
            text=True,
            env=env.environ(),
            timeout=1800,
        )
        if proc.returncode != 0 or not dst.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
            raise EdgeoptError(
                f"the aarch64 run of {Path(model).name} failed (exit {proc.returncode}): {tail}",
                "rerun `optimize targets setup arm --force` if the cache is damaged",
            )
        with np.load(dst) as d:
            outputs = [d[f"output_{i}"] for i in range(len(d.files))]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("EDGEOPT-ARM-REPORT "))
    report = json.loads(line.split(" ", 1)[1])
    lat = report["emulated_latency_ms"]
    report["emulated_latency_ms_median"] = round(float(np.median(lat)), 3) if lat else None
    report["qemu_cpu"] = QEMU_CPU
    report["note"] = "latency measured under qemu emulation: not device latency, never gated"
    return outputs, report


class EmulatedArmSession(Session):
    """A Session whose every run is one qemu-aarch64 process, so check_parity can use it."""

    runtime = "qemu-aarch64"

    def __init__(
        self,
        path: Path,
        reference: Session,
        env: ArmEnv | None = None,
        threads: int = 1,
        repeats: int = 5,
    ):
        super().__init__(SessionOptions(threads=threads))
        self.path, self.env, self.repeats = Path(path), env or require_env(), repeats
        self.inputs: list[TensorSpec] = reference.inputs
        self.outputs: list[TensorSpec] = reference.outputs
        self.report: dict = {}

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        outputs, self.report = run_emulated(
            self.path, arrays, self.env, self.options.threads or 1, self.repeats
        )
        return outputs

    @property
    def version(self) -> str:
        return self.report.get("runtime_version", "")

    def describe(self) -> dict:
        d = super().describe()
        d.update(
            {
                "device": "aarch64 (qemu-user emulation)",
                "runtime": f"{self.report.get('runtime', '?')} on aarch64",
                "python": self.report.get("python"),
            }
        )
        return d
