"""Latency measured on a device: probe it, ship one bundle per artifact with the timing
script, run the interleaved measurement there and feed its raw samples back into the same
`metrics.latency.Timed` objects the local harness fills, so every statistic, ratio, stopping
rule and gate decision is computed here by the same code as a local run.

`RemoteTimer.measure` has the shape of `metrics.latency.measure_latency` (plus the artifact
paths); the bench runner calls one or the other.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

from edgeopt.core.files import sha256_file
from edgeopt.core.progress import info
from edgeopt.devices.registry import Device, Registry
from edgeopt.devices.ssh import DeviceError, Transport, quote
from edgeopt.metrics import latency as lat
from edgeopt.runtimes import RUNTIMES, runtimes_for

TIMER = Path(__file__).with_name("timer_script.py")
# distributions that also provide a runtime on boards (the bundle runner accepts them)
ALTERNATIVES = {"litert": ("tflite-runtime",)}


def _dists(runtime: str) -> tuple[str, ...]:
    return (RUNTIMES[runtime].package, *ALTERNATIVES.get(runtime, ()))


def pip_line(device: Device, runtimes: list[str]) -> str:
    """The command that installs what the timing script needs on the device."""
    reqs = []
    for r in runtimes:
        spec = RUNTIMES.get(r)
        if spec is None:
            reqs.append(r)
        else:
            low = spec.min_bundle_version
            reqs.append(f"'{spec.package}>={low}'" if low else spec.package)
    return f"{device.python} -m pip install {' '.join(reqs)}"


def probe(transport: Transport) -> dict:
    """Arch, Python, free disk in the work folder and every runtime's version, in one call."""
    d = transport.device
    dists = sorted({x for r in RUNTIMES for x in _dists(r)} | {"numpy"})
    cmd = (
        f"mkdir -p {quote(d.workdir)} && cd {quote(d.workdir)} && "
        f"{{ command -v {quote(d.python)} >/dev/null || exit 127; }} && "
        f"{quote(d.python)} - --probe {' '.join(dists)}"
    )
    try:
        out = transport.run(cmd, timeout=60, input=TIMER.read_text())
    except DeviceError as e:
        if "exit 127" in e.message:
            raise DeviceError(
                f"device {d.name} has no Python at {d.python!r}",
                f"install python3 there, or optimize devices add {d.name} --python PATH --force",
            ) from e
        raise
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        raise DeviceError(f"device {d.name}: the probe printed nothing", "check its Python")
    found = json.loads(lines[-1])
    found["runtimes"] = {
        r: next((found["packages"].get(x) for x in _dists(r) if found["packages"].get(x)), None)
        for r in RUNTIMES
    }
    found["numpy"] = found["packages"].get("numpy")
    return found


def missing(found: dict, runtimes: list[str]) -> list[str]:
    """What of numpy and `runtimes` the device lacks, in install order."""
    out = [] if found.get("numpy") else ["numpy"]
    return out + [r for r in runtimes if not found["runtimes"].get(r)]


def label(device: Device, found: dict) -> dict:
    """How a device-timed figure is labelled in results, reports and run.json."""
    return {
        "kind": "device",
        "device": device.name,
        "ssh": device.ssh,
        "arch": found.get("arch"),
        "python": found.get("python"),
        "cpus": found.get("cpus"),
        "runtimes": {k: v for k, v in found.get("runtimes", {}).items() if v},
        "emulated": False,
    }


class RemoteTimer:
    """Times artifacts on one registered device (see the module doc)."""

    def __init__(self, device: Device, known_hosts: Path):
        self.device = device
        self.transport = Transport(device, known_hosts)
        self.labels: list[dict] = []
        self.lost: dict[int, str] = {}
        self.found: dict = {}

    @classmethod
    def named(cls, name: str, devices_file: str | Path | None = None) -> RemoteTimer:
        reg = Registry(devices_file)
        return cls(reg.get(name), reg.known_hosts)

    def preflight(self, paths: list[Path]) -> dict:
        """Reachable, the declared arch, numpy and every needed runtime: else one clear error."""
        d = self.device
        found = probe(self.transport)
        if d.arch and found["arch"] != d.arch:
            raise DeviceError(
                f"device {d.name} is {found['arch']}, not {d.arch} as registered",
                f"optimize devices add {d.name} --ssh {d.ssh} --arch {found['arch']} --force",
            )
        need = sorted({runtimes_for(p)[0] for p in paths if runtimes_for(p)})
        lack = missing(found, need)
        if lack:
            raise DeviceError(
                f"device {d.name} lacks {', '.join(lack)} (needed to time "
                f"{', '.join(Path(p).name for p in paths)})",
                f"install it on the device: {pip_line(d, lack)}",
            )
        self.found = found
        return found

    def measure(
        self,
        runs: list[lat.Timed],
        paths: list[Path],
        cfg,
        baseline: int | None = None,
        stop_when=None,
        on_progress=None,
    ) -> dict:
        """Ship, time, collect; `cfg` is the BenchConfig (batch, latency settings). Artifacts
        left without samples (a device that dropped) are named in `self.lost`."""
        lcfg = cfg.latency
        stop = stop_when or (lambda rs: lat.default_stop(rs, baseline, lcfg))
        found = self.preflight(paths)
        base = label(self.device, found)
        self.labels = [
            {
                **base,
                "runtime": (r := runtimes_for(p)[0]),
                "runtime_version": base["runtimes"].get(r),
            }
            for p in paths
        ]
        remote_dir = f"{self.device.workdir}/run-{uuid.uuid4().hex[:12]}"
        with tempfile.TemporaryDirectory(prefix="edgeopt-ship-") as tmp:
            files = self._bundles(paths, Path(tmp), cfg.batch, lcfg, runs)
            self.transport.run(f"mkdir -p {quote(remote_dir)}", timeout=60)
            info(f"[edgeopt] {self.device.name}: shipping {len(paths)} bundle(s) to {remote_dir}")
            self.transport.copy(files, remote_dir)
        measurement = self._stream(runs, remote_dir, stop, on_progress, lcfg)
        if measurement["stopped"] in ("device-lost", "failed"):
            measurement["left_on_device"] = remote_dir
        else:
            self.transport.run(f"rm -rf {quote(remote_dir)}", timeout=60)
        measurement["timed_on"] = base
        return measurement

    def _bundles(self, paths, tmp: Path, batch: int, lcfg, runs) -> list[Path]:
        from edgeopt.package import PackageConfig, build_bundle

        entries = []
        for k, p in enumerate(paths):
            out = build_bundle(
                Path(p), PackageConfig(output=tmp / f"b{k}.tar.gz", samples=max(16, 4 * batch))
            )
            entries.append(
                {"name": runs[k].name, "file": out.name, "dir": f"b{k}", "sha256": sha256_file(out)}
            )
        keys = ("max_time", "min_samples", "min_blocks", "min_time", "block_ms",
                "warmup_max_s", "max_samples", "check_every_s")  # fmt: skip
        plan = {"bundles": entries, "batch": batch, "latency": {k: getattr(lcfg, k) for k in keys}}
        (tmp / "plan.json").write_text(json.dumps(plan, indent=1))
        shutil.copy2(TIMER, tmp / "timer.py")
        return [tmp / "timer.py", tmp / "plan.json"] + [tmp / e["file"] for e in entries]

    def _stream(self, runs, remote_dir, stop, on_progress, lcfg) -> dict:
        d = self.device
        proc = self.transport.popen(
            f"cd {quote(remote_dir)} && exec {quote(d.python)} timer.py plan.json"
        )
        err: list[str] = []
        drain = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        drain.start()
        t0, result = time.perf_counter(), None
        try:
            for line in proc.stdout:
                if not line.startswith("{"):
                    continue
                msg = json.loads(line)
                ev = msg["event"]
                if ev == "error":
                    self._raise(msg)
                if ev == "ready":
                    for lab, a in zip(self.labels, msg["artifacts"]):
                        lab["parity"] = a["parity"]
                elif ev == "warmup":
                    t = runs[msg["index"]]
                    t.warmup, t.block_size = msg["warmup"], msg["block_size"]
                elif ev in ("check", "done"):
                    for t, a in zip(runs, msg["artifacts"]):
                        t.samples.extend(a["samples"])
                        t.blocks.extend(tuple(b) for b in a["blocks"])
                    if ev == "done":
                        result = {k: msg[k] for k in ("stopped", "seconds", "rounds")}
                        break
                    if on_progress:
                        on_progress(msg["elapsed"], runs)
                    proc.stdin.write("stop\n" if stop(runs) else "go\n")
                    proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the link went: handled below as a lost device
        finally:
            _close(proc)
            drain.join(timeout=5)
        if result is not None and proc.returncode == 0:
            return result
        return self._lost(runs, proc.returncode, err, t0, lcfg)

    def _raise(self, msg: dict) -> None:
        d = self.device
        if msg.get("kind") == "missing-runtime":
            raise DeviceError(
                f"device {d.name} cannot load {msg.get('runtime')}: {msg['message']}",
                f"install it on the device: {pip_line(d, [msg.get('runtime')])}",
            )
        raise DeviceError(
            f"device {d.name} refused a bundle: {msg['message']}",
            "the copy was damaged in transit or on the device's disk; run the command again",
        )

    def _lost(self, runs, rc, err, t0, lcfg) -> dict:
        """Keep what was measured (enough samples for its statistics); name the rest."""
        why = (
            self.transport.classify("".join(err)).message
            if rc == 255
            else f"the timing script stopped (exit {rc}): "
            + ((err or ["no message"])[-1].strip()[:300])
        )
        info(f"[edgeopt] {self.device.name}: lost mid-run: {why}")
        for k, t in enumerate(runs):
            if len(t.samples) < lcfg.min_samples:
                t.samples.clear()
                t.blocks.clear()
                self.lost[k] = f"not measured: device {self.device.name} dropped mid-run ({why})"
        return {
            "stopped": "device-lost" if rc == 255 else "failed",
            "seconds": round(time.perf_counter() - t0, 3),
            "rounds": max((len(t.blocks) for t in runs), default=0),
            "lost": why,
        }


def _close(proc) -> None:
    try:
        if proc.stdin and not proc.stdin.closed:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=30)
    except Exception:
        proc.kill()
        proc.wait()
