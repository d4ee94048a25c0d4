"""Proof that `optimize gate` is trustworthy on this machine (not a unit test: noise-sensitive).

1. False alarms: digits-cnn ONNX gated against itself (two sessions, same file) with
   latency_ratio_max = 1.05, N times: expect 0 failures.
2. Sensitivity: the same model with a deliberately heavier graph (extra input-dependent
   MatMuls, ~25% slower; measured first with a long interleaved run) gated against the
   original: expect >= 19/20 caught.
3. Gate time: wall time of each `optimize gate` process, median.

Every gate runs the real executable with the default policy (--on-inconclusive fail).
Usage: python benchmarks/gate_reliability.py [--runs 20] [--max-time 5] [--width 380 --depth 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))


def optimize_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "optimize"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "edgeopt"]


def gate(
    cand: Path, base: Path, budgets: Path, max_time: float, report: Path
) -> tuple[int, float, dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            *optimize_cmd(),
            "gate",
            str(cand),
            "--baseline",
            str(base),
            "--budgets",
            str(budgets),
            "--max-time",
            str(max_time),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - t0
    res = (
        json.loads((report / "results.json").read_text())
        if (report / "results.json").exists()
        else {}
    )
    d = (res.get("gate") or {}).get("decisions") or [{}]
    return proc.returncode, wall, d[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--max-time", type=float, default=5.0)
    ap.add_argument("--width", type=int, default=380)
    ap.add_argument("--depth", type=int, default=3)
    args = ap.parse_args()

    from heavier import make_heavier

    from edgeopt.data import load_dataset
    from edgeopt.metrics.latency import compare_latency
    from edgeopt.models.source import load_source
    from edgeopt.optimize.export import ExportConfig, export_model

    tmp = Path(tempfile.mkdtemp(prefix="gate-reliability-"))
    model = tmp / "digits-cnn.onnx"
    export_model(load_source("builtin:digits-cnn"), ExportConfig(to="onnx", output=model))
    heavy = tmp / "digits-cnn-heavier.onnx"
    make_heavier(str(model), str(heavy), args.width, args.depth)
    budgets = tmp / "budgets.toml"
    budgets.write_text("latency_ratio_max = 1.05\n")

    x = load_dataset("sklearn:digits").inputs[0].reshape(-1, 1, 8, 8)
    ref = compare_latency([str(model), str(heavy)], arrays=[[x], [x]], max_time=20.0)
    true = ref[1]["ratio"]
    print(
        f"heavier graph, long interleaved run: ratio {true['estimate']:.3f} "
        f"(95% CI {true['ci'][0]:.3f}..{true['ci'][1]:.3f})",
        flush=True,
    )

    out = {"self": [], "slow": []}
    for i in range(args.runs):  # alternate the two experiments so load changes hit both
        for kind, cand in (("self", model), ("slow", heavy)):
            rc, wall, d = gate(cand, model, budgets, args.max_time, tmp / f"rep-{kind}-{i}")
            out[kind].append(
                {
                    "rc": rc,
                    "wall_s": wall,
                    "outcome": d.get("outcome"),
                    "ratio": d.get("value"),
                    "ci": d.get("ci"),
                }
            )
            ci = d.get("ci") or [float("nan")] * 2
            print(
                f"{kind:4s} {i + 1:2d}: exit {rc} {d.get('outcome')} ratio {d.get('value') or 0:.3f} "
                f"CI {ci[0]:.3f}..{ci[1]:.3f} wall {wall:.1f}s load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    fa = sum(r["rc"] != 0 for r in out["self"])
    fa_inc = sum(r["outcome"] == "inconclusive" for r in out["self"])
    caught = sum(r["rc"] == 1 and r["outcome"] == "fail" for r in out["slow"])
    walls = [r["wall_s"] for r in out["self"] + out["slow"]]
    print(
        f"\nfalse alarms (self vs self, 5% budget): {fa}/{args.runs} "
        f"(of which inconclusive->fail by policy: {fa_inc})"
    )
    print(
        f"slowdown caught (true ratio {true['estimate']:.3f}): {caught}/{args.runs} "
        f"(conclusive fail; inconclusive: {sum(r['outcome'] == 'inconclusive' for r in out['slow'])})"
    )
    print(
        f"gate wall time per run: median {statistics.median(walls):.1f}s "
        f"(min {min(walls):.1f}, max {max(walls):.1f}), --max-time {args.max_time}"
    )
    print(f"machine load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
