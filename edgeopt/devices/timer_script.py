"""edgeopt's timing script: shipped to a device next to the bundles it times, run there alone.

It needs Python 3.8+, numpy and the runtime a bundle's manifest names: nothing from edgeopt.

  python timer.py --probe DIST...   one JSON line: arch, Python, free disk, DIST versions
  python timer.py plan.json         unpack and verify each bundle, check its outputs on the
                                    bundled samples, then time them all interleaved

Timing is the local harness's (edgeopt/metrics/latency.py): warm-up until the median of
consecutive chunks settles, then round-robin blocks in a new (seeded) order each round. The
host keeps the statistics and the stopping rule: once every artifact has enough samples, the
script sends the new raw samples (a `check` line) every check_every_s and waits for `go` or
`stop` on stdin, so the host decides exactly as it does for local runs (budgets included).
Every line on stdout is one JSON object; the last is `done` or `error`.
"""

import hashlib
import importlib.util
import json
import os
import platform
import random
import shutil
import sys
import tarfile
import time
from pathlib import Path


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(kind, message, **extra):
    emit({"event": "error", "kind": kind, "message": message, **extra})
    sys.exit(3)


def probe(dists):
    from importlib import metadata

    versions = {}
    for d in dists:
        try:
            versions[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            versions[d] = None
    emit(
        {
            "event": "probe",
            "arch": platform.machine(),
            "python": platform.python_version(),
            "executable": sys.executable,
            "system": platform.platform(),
            "cpus": os.cpu_count(),
            "free_bytes": shutil.disk_usage(".").free,
            "packages": versions,
        }
    )


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_name(name):
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def unpack(entry):
    """The bundle as shipped (tar sha256), unpacked, every listed file checked on arrival."""
    tar_path = Path(entry["file"])
    if sha256(tar_path) != entry["sha256"]:
        fail("transfer", f"{entry['name']}: the bundle's sha256 differs from the one sent")
    dest = Path(entry["dir"])
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
        for m in members:
            if not (m.isfile() or m.isdir()) or not safe_name(m.name):
                fail("bundle", f"{entry['name']}: refusing tar member {m.name!r}")
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, members, **safe)
    tar_path.unlink()
    manifest = json.loads((dest / "manifest.json").read_text())
    files = manifest.get("files") or {}
    for name, meta in files.items():
        p = dest / name
        if not safe_name(name) or not p.is_file() or p.is_symlink():
            fail("bundle", f"{entry['name']}: {name!r} is missing or unsafe")
        if p.stat().st_size != meta["bytes"] or sha256(p) != meta["sha256"]:
            fail("bundle", f"{entry['name']}: {name} differs from its sha256 in the manifest")
    return dest, manifest


def open_bundle(entry):
    """(run function, manifest, sample inputs, parity) through the bundle's own runner."""
    import numpy as np

    dest, manifest = unpack(entry)
    spec = importlib.util.spec_from_file_location(f"bundle_runner_{entry['dir']}", dest / "run.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    runner.HERE = dest.resolve()
    runtime = manifest["model"]["runtime"]
    try:
        run = runner.load(manifest)
    except ImportError as e:
        fail("missing-runtime", f"{entry['name']}: {e}", runtime=runtime)
    inputs = np.load(dest / manifest["samples"]["inputs"])
    xs = [inputs[s["name"]] for s in manifest["inputs"]]
    return run, manifest, xs, parity(run, manifest, xs, dest)


def parity(run, manifest, xs, dest):
    """The device's outputs on the bundled samples against edgeopt's, at the manifest's
    tolerance: timing a model that computes something else would be meaningless."""
    import numpy as np

    try:
        outs = run(xs)
    except Exception as e:  # e.g. a fixed-batch model given all samples at once
        return {"checked": False, "note": f"{type(e).__name__}: {str(e)[:200]}"}
    ref = np.load(dest / manifest["samples"]["reference_outputs"])
    tol = manifest["tolerance"]
    worst, ok = 0.0, True
    for s, o in zip(manifest["outputs"], outs):
        r = ref[s["name"]]
        diff = float(np.max(np.abs(np.asarray(o, np.float64) - r)))
        ok = ok and diff <= tol["atol"] + tol["rtol"] * float(np.max(np.abs(r)))
        worst = max(worst, diff)
    return {"checked": True, "passed": ok, "max_abs_diff": worst}


def batches_of(xs, batch, limit=64):
    import numpy as np

    n = len(xs[0])
    count = max(1, min(limit, n // batch if n >= batch else 1))
    out = []
    for k in range(count):
        idx = np.arange(k * batch, (k + 1) * batch) % n
        out.append([np.ascontiguousarray(a[idx]) for a in xs])
    return out


class Timed:
    def __init__(self, run, batches):
        self.run, self.batches = run, batches
        self.samples, self.blocks = [], []
        self.block_size, self.warmup, self._next, self.sent = 10, {}, 0, 0

    def run_once(self):
        batch = self.batches[self._next]
        self._next = (self._next + 1) % len(self.batches)
        t0 = time.perf_counter_ns()
        self.run(batch)
        return (time.perf_counter_ns() - t0) / 1e6


def warm_up(t, cfg):
    """As edgeopt.metrics.latency.warm_up."""
    import numpy as np

    t0 = time.perf_counter()
    chunk, prev, runs, stable, medians = 5, None, 0, False, []
    while time.perf_counter() - t0 < cfg["warmup_max_s"]:
        m = float(np.median([t.run_once() for _ in range(chunk)]))
        runs += chunk
        medians.append(m)
        if prev is not None and abs(m - prev) <= 0.05 * prev and runs >= 10:
            stable = True
            break
        prev = m
        chunk = min(chunk * 2, 200)
    med = medians[-1] if medians else 1.0
    t.block_size = int(min(500, max(5, round(cfg["block_ms"] / max(med, 1e-3)))))
    t.warmup = {
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 3),
        "stable": stable,
        "median_ms": med,
    }


def news(runs):
    """The samples and blocks not sent yet, per artifact (the host appends them)."""
    out = []
    for t in runs:
        k = t.sent
        out.append({"samples": t.samples[k:], "blocks": [b for b in t.blocks if b[0] >= k]})
        t.sent = len(t.samples)
    return out


def measure(runs, cfg):
    """As edgeopt.metrics.latency.measure_latency, with the stop decision asked of the host."""
    for k, t in enumerate(runs):
        warm_up(t, cfg)
        emit({"event": "warmup", "index": k, "warmup": t.warmup, "block_size": t.block_size})
    t0 = time.perf_counter()
    last_check, rnd, reason = t0, 0, "time"
    shuffle = random.Random(0)  # reproducible orders, as edgeopt.metrics.latency
    while True:
        order = list(runs)
        shuffle.shuffle(order)
        for t in order:
            start = len(t.samples)
            t.samples.extend(t.run_once() for _ in range(t.block_size))
            t.blocks.append((start, len(t.samples)))
        rnd += 1
        now = time.perf_counter()
        if now - t0 >= cfg["max_time"]:
            break
        if any(len(t.samples) >= cfg["max_samples"] for t in runs):
            reason = "samples"
            break
        enough = now - t0 >= min(cfg["min_time"], cfg["max_time"]) and all(
            len(t.samples) >= cfg["min_samples"] and len(t.blocks) >= cfg["min_blocks"]
            for t in runs
        )
        if enough and now - last_check >= cfg["check_every_s"]:
            last_check = now
            emit({"event": "check", "elapsed": now - t0, "artifacts": news(runs)})
            answer = sys.stdin.readline().strip()
            if answer != "go":  # "stop", or the host went away
                reason = "converged" if answer == "stop" else "host-gone"
                break
    emit(
        {
            "event": "done",
            "stopped": reason,
            "seconds": round(time.perf_counter() - t0, 3),
            "rounds": rnd,
            "artifacts": news(runs),
        }
    )


def main():
    if sys.argv[1:2] == ["--probe"]:
        probe(sys.argv[2:])
        return
    plan = json.loads(Path(sys.argv[1]).read_text())
    try:
        import numpy  # noqa: F401
    except ImportError:
        fail("missing-runtime", "numpy is not installed", runtime="numpy")
    runs, described = [], []
    for entry in plan["bundles"]:
        run, manifest, xs, checked = open_bundle(entry)
        runs.append(Timed(run, batches_of(xs, plan["batch"])))
        described.append(
            {
                "name": entry["name"],
                "runtime": manifest["model"]["runtime"],
                "parity": checked,
            }
        )
    emit({"event": "ready", "artifacts": described})
    measure(runs, plan["latency"])


if __name__ == "__main__":
    main()
