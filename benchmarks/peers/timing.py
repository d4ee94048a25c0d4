"""Every row's budgeted metric, and all rows timed interleaved in one process."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import numpy as np

from peers.problems import Problem
from peers.runners import Row, first_line, torch_row
from peers.settings import TIMING_SAMPLES

# budget key -> (metric, direction), as edgeopt/metrics/quality.py defines them
BUDGET_METRICS = {
    "accuracy_drop_max_points": ("accuracy_drop_points", "max"),
    "agreement_min": ("agreement", "min"),
    "cosine_mean_min": ("cosine_mean", "min"),
}


def evaluate(rows: list[Row], p: Problem) -> np.ndarray:
    """Every row's budgeted metric on the evaluation split, at batch 1, against torch fp32."""
    n = len(p.evaluation[0])
    samples = [[a[i : i + 1] for a in p.evaluation] for i in range(n)]
    ref = np.concatenate([torch_row(Row("ref", ""), p.module).run(s) for s in samples])
    key, limit = p.budget
    for row in rows:
        if row.error:
            continue
        try:
            got = np.concatenate([row.run(s) for s in samples]).reshape(ref.shape)
        except Exception as e:
            row.error = f"evaluation failed: {first_line(e)}"
            continue
        row.metrics = quality(p, ref, got)
        metric, direction = BUDGET_METRICS[key]
        value = row.metrics[metric]
        row.meets = bool(value <= limit + 1e-9 if direction == "max" else value >= limit - 1e-12)
    return ref


def quality(p: Problem, ref: np.ndarray, got: np.ndarray) -> dict:
    r, g = (
        ref.reshape(len(ref), -1).astype(np.float64),
        got.reshape(len(got), -1).astype(np.float64),
    )
    cos = (r * g).sum(1) / np.maximum(np.linalg.norm(r, axis=1) * np.linalg.norm(g, axis=1), 1e-30)
    out = {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()), "samples": len(r)}
    if p.kind == "classification":
        rt, gt = ref.argmax(-1), got.argmax(-1)
        out["agreement"] = float((rt == gt).mean())
        out["accuracy"] = float((gt == p.labels).mean())
        out["reference_accuracy"] = float((rt == p.labels).mean())
        out["accuracy_drop_points"] = 100.0 * (out["reference_accuracy"] - out["accuracy"])
    return out


QUIET_CORES = 0.25  # other processes used less CPU than this during a block: a quiet block


class CpuMeter:
    """How many cores other processes kept busy since start(): every CPU's busy time
    (/proc/stat) minus this process's and its waited-for children's (os.times)."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start()

    def _read(self) -> tuple[float, float, float]:
        try:
            v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / self.hz  # all but idle, iowait
        except (OSError, ValueError, IndexError):
            busy = float("nan")
        t = os.times()
        return busy, t.user + t.system + t.children_user + t.children_system, time.perf_counter()

    def start(self) -> None:
        self.begin = self._read()

    def others(self) -> float:
        (b0, o0, w0), (b1, o1, w1) = self.begin, self._read()
        return max(0.0, ((b1 - b0) - (o1 - o0)) / max(w1 - w0, 1e-9))


def time_rows(rows: list[Row], p: Problem, rounds: int, block_s: float, seed: int = 0) -> None:
    """Interleaved: warm-up, then `rounds` rounds; in each every row runs one block (about
    block_s seconds, its run count set by the warm-up, cut at 2 x block_s) in a shuffled order.
    Per row: median over all runs, the IQR, the median of each round, and the medians over
    quiet and busy blocks (the CPU other processes used during each block: on this shared
    machine the runtimes do not slow down alike when a core is taken)."""
    live = [r for r in rows if not r.error]
    k = min(TIMING_SAMPLES, len(p.evaluation[0]))
    feeds = {
        id(r): [r.prepare([a[i : i + 1] for a in p.evaluation]) for i in range(k)] for r in live
    }
    runs: dict[int, list[float]] = {}
    for r in live:  # warm-up: at least 20 runs and 0.5 s
        f, t_end, n, ts = feeds[id(r)], time.perf_counter() + 0.5, 0, []
        while n < 20 or time.perf_counter() < t_end:
            t0 = time.perf_counter_ns()
            r.call(f[n % k])
            ts.append((time.perf_counter_ns() - t0) / 1e6)
            n += 1
        med = float(np.median(ts[len(ts) // 2 :]))
        runs[id(r)] = [max(3, min(20000, round(block_s * 1000 / max(med, 1e-3))))]
        r.timing = {"samples": [], "round_medians": [], "others_cores": []}
        r.timing["block"] = runs[id(r)][0]
    rng = np.random.default_rng(seed)
    meter = CpuMeter()
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for j in rng.permutation(len(live)):
                r = live[j]
                f, ts, t_end = feeds[id(r)], [], time.perf_counter() + 2 * block_s
                meter.start()
                for i in range(r.timing["block"]):
                    t0 = time.perf_counter_ns()
                    r.call(f[i % k])
                    ts.append((time.perf_counter_ns() - t0) / 1e6)
                    if i >= 2 and time.perf_counter() > t_end:  # a row slowed down: keep the
                        break  # rounds balanced (at least 3 runs per block)
                r.timing["others_cores"].append(round(meter.others(), 3))
                r.timing["samples"].extend(ts)
                r.timing["round_medians"].append(float(np.median(ts)))
    finally:
        gc.enable()
    for r in live:
        s, rm = r.timing.pop("samples"), r.timing["round_medians"]
        q1, q3 = np.percentile(s, [25, 75])
        quiet = [m for m, c in zip(rm, r.timing["others_cores"]) if c < QUIET_CORES]
        busy = [m for m, c in zip(rm, r.timing["others_cores"]) if c >= QUIET_CORES]
        r.timing.update(
            median_ms=float(np.median(s)),
            iqr_ms=[float(q1), float(q3)],
            round_spread_ms=[float(min(rm)), float(max(rm))],
            runs=len(s),
            quiet_blocks=len(quiet),
            quiet_median_ms=float(np.median(quiet)) if len(quiet) >= 3 else None,
            busy_median_ms=float(np.median(busy)) if len(busy) >= 3 else None,
        )


def ratios(rows: list[Row]) -> Row | None:
    """Each row's median over the best in-budget peer's, and the range of per-round ratios;
    the same over quiet blocks only (against the best in-budget peer of the quiet blocks)."""
    ok = [r for r in rows if r.peer and r.meets and r.timing.get("median_ms")]
    best = min(ok, key=lambda r: r.timing["median_ms"]) if ok else None
    quiet = [r for r in ok if r.timing.get("quiet_median_ms")]
    qbest = min(quiet, key=lambda r: r.timing["quiet_median_ms"]) if quiet else None
    for r in rows:
        if qbest is not None and r.timing.get("quiet_median_ms"):
            r.timing["quiet_best_peer"] = qbest.name
            r.timing["quiet_ratio_to_best_peer"] = (
                r.timing["quiet_median_ms"] / qbest.timing["quiet_median_ms"]
            )
    for r in rows:
        if best is None or not r.timing.get("median_ms"):
            continue
        per_round = [a / b for a, b in zip(r.timing["round_medians"], best.timing["round_medians"])]
        r.timing["ratio_to_best_peer"] = r.timing["median_ms"] / best.timing["median_ms"]
        r.timing["ratio_round_median"] = float(np.median(per_round))
        r.timing["ratio_round_range"] = [min(per_round), max(per_round)]
    return best
