"""Footprint: size on disk, and peak resident memory of loading and running one artifact.

Memory is measured in a fresh child process.

Measuring in the parent would count every other artifact, dataset and runtime already loaded;
a child started for this one artifact reports its own high-water mark (VmHWM), plus its
resident memory before loading, so the model's own share is visible.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from edgeopt.artifacts.artifact import sidecar_path
from edgeopt.formats import companion_files


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _child(args: dict) -> None:
    """Entry point inside the child: import, note RSS, load, run a few batches, report peak."""
    import resource

    import numpy as np

    from edgeopt.data import random_inputs
    from edgeopt.runtimes import SessionOptions, open_session

    before = _status_mb("VmRSS")
    sess = open_session(args["path"], args.get("runtime"), SessionOptions(**args["options"]))
    if args.get("inputs"):
        with np.load(args["inputs"]) as z:
            arrays = [z[f"arr_{i}"] for i in range(len(z.files))]
    else:
        arrays = random_inputs(sess.inputs, args.get("batch", 1), seed=0)
    for _ in range(args.get("runs", 5)):
        sess.run([np.array(a) for a in arrays])
    peak = _status_mb("VmHWM")
    if peak is None:  # not Linux: ru_maxrss is KiB on Linux, bytes on macOS
        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0
    print(json.dumps({"peak_rss_mb": peak, "rss_before_load_mb": before}))


def peak_memory(
    path: str,
    runtime: str | None = None,
    options=None,
    batch: int = 1,
    timeout: float = 300,
    inputs: list | None = None,
) -> dict:
    """{"peak_rss_mb", "rss_before_load_mb", "model_mb"} or {"error": ...}.

    `options` (a SessionOptions) opens the artifact as the timing run did (threads, precision,
    performance hint, device)."""
    import dataclasses

    args = {
        "path": str(path),
        "runtime": runtime,
        "options": dataclasses.asdict(options) if options is not None else {},
        "batch": batch,
    }
    code = (
        "import json,sys; from edgeopt.bench.memory import _child; _child(json.loads(sys.argv[1]))"
    )
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        if inputs is not None:
            args["inputs"] = str(Path(tmp) / "inputs.npz")
            np.savez(args["inputs"], *inputs)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code, json.dumps(args)],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"memory probe timed out after {timeout}s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"memory probe failed: {tail[:300]}"}
    d = json.loads(lines[-1])
    if d.get("rss_before_load_mb") is not None:
        d["model_mb"] = d["peak_rss_mb"] - d["rss_before_load_mb"]
    d["method"] = "child process VmHWM (whole process: interpreter + runtime + model)"
    return d


def size_of(path: Path) -> dict:
    files = [f for f in companion_files(path) if f.exists()]
    sc = sidecar_path(path)
    gz = 0
    for f in files:
        c = gzip.compress(f.read_bytes(), compresslevel=6)
        gz += len(c)
    model = sum(f.stat().st_size for f in files)
    side = sc.stat().st_size if sc.exists() else 0
    return {
        "model_bytes": model,
        "sidecar_bytes": side,
        "total_bytes": model + side,
        "gzip_bytes": gz,
        "files": [f.name for f in files] + ([sc.name] if side else []),
    }
