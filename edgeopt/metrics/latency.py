"""Latency measurement: warm-up until stable, interleaved blocks, adaptive stopping.

`measure_latency` is the core every step can call (bench, gate, quantize and prune's quick
comparisons). Artifacts run round-robin in short blocks, in a new (seeded) order every round:
drift hits all of them alike, and so does a neighbour's leftover (a runtime whose threads
still spin or whose caches are still warm after its block), which a fixed or alternating
order would charge to the same artifact every round. Per-block pairs with the baseline give
a ratio whose CI ignores that drift (see stats.block_ratio).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgeopt.metrics import stats
from edgeopt.runtimes.base import Session


@dataclass
class LatencyConfig:
    max_time: float = 20.0  # seconds of interleaved measurement, all artifacts together
    min_samples: int = 50  # per artifact, before any stop
    min_blocks: int = 20  # per artifact, before any stop
    min_time: float = 1.0  # seconds before any stop (capped by max_time); limits optional stopping
    ci_target: float = 0.02  # relative CI half-width that counts as "narrow"
    percentile: float = 50.0  # whose CI must be narrow
    block_ms: float = 3.0  # target duration of one block of one artifact
    warmup_max_s: float = 2.0  # per artifact
    max_samples: int = 50000  # per artifact; a time bound usually ends first
    check_every_s: float = 0.25  # how often the stopping rule is evaluated


@dataclass
class Timed:
    """One artifact under measurement: its session, its input batches and what was measured."""

    name: str
    session: Session
    batches: list[list[np.ndarray]]
    samples: list[float] = field(default_factory=list)  # ms, in measurement order
    blocks: list[tuple[int, int]] = field(default_factory=list)  # sample ranges, one per round
    warmup: dict = field(default_factory=dict)
    block_size: int = 10
    _next: int = 0

    def run_once(self) -> float:
        """Run the next distinct batch (cycling) and return its latency in ms."""
        batch = self.batches[self._next]
        self._next = (self._next + 1) % len(self.batches)
        t0 = time.perf_counter_ns()
        self.session.run(batch)
        return (time.perf_counter_ns() - t0) / 1e6

    def block_samples(self, k: int) -> list[float]:
        a, b = self.blocks[k]
        return self.samples[a:b]

    def summary(self) -> dict:
        return stats.summarize(self.samples)


def warm_up(t: Timed, cfg: LatencyConfig) -> None:
    """Run until the median of consecutive chunks changes by under 5% (bounded by time)."""
    t0 = time.perf_counter()
    chunk = 5
    prev = None
    runs = 0
    stable = False
    medians = []
    while time.perf_counter() - t0 < cfg.warmup_max_s:
        m = float(np.median([t.run_once() for _ in range(chunk)]))
        runs += chunk
        medians.append(m)
        if prev is not None and abs(m - prev) <= 0.05 * prev and runs >= 10:
            stable = True
            break
        prev = m
        chunk = min(chunk * 2, 200)
    med = medians[-1] if medians else 1.0
    t.block_size = int(min(500, max(5, round(cfg.block_ms / max(med, 1e-3)))))
    t.warmup = {
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 3),
        "stable": stable,
        "median_ms": med,
    }


def default_stop(runs: list[Timed], baseline: int | None, cfg: LatencyConfig) -> bool:
    """Narrow enough: every artifact's percentile CI, and every ratio CI, within ci_target."""
    for t in runs:
        est = stats.percentile(t.samples, cfg.percentile)
        lo, hi = stats.percentile_ci(t.samples, cfg.percentile)
        if stats.rel_half_width(lo, hi, est) > cfg.ci_target:
            return False
    if baseline is not None:
        for i, _ in enumerate(runs):
            if i == baseline:
                continue
            r = ratio_vs(runs, baseline, i)
            lo, hi = r["ci"]
            if stats.rel_half_width(lo, hi, r["estimate"]) > cfg.ci_target:
                return False
    return True


def ratio_vs(runs: list[Timed], baseline: int, i: int) -> dict:
    base, cand = runs[baseline], runs[i]
    k = min(len(base.blocks), len(cand.blocks))
    return stats.block_ratio(
        [base.block_samples(j) for j in range(k)], [cand.block_samples(j) for j in range(k)]
    )


def measure_latency(
    runs: list[Timed],
    cfg: LatencyConfig | None = None,
    baseline: int | None = None,
    stop_when: Callable[[list[Timed]], bool] | None = None,
    on_progress: Callable[[float, list[Timed]], None] | None = None,
) -> dict:
    """Warm up each artifact, then measure them interleaved until `stop_when` or the time bound.

    `stop_when(runs)` is asked at most every cfg.check_every_s once every artifact has
    min_samples and min_blocks; by default it asks for narrow CIs (default_stop).
    Returns how the measurement ended: {"stopped": "converged"|"time"|"samples", "seconds"}.
    """
    cfg = cfg or LatencyConfig()
    for t in runs:
        warm_up(t, cfg)
    stop = stop_when or (lambda rs: default_stop(rs, baseline, cfg))
    shuffle = random.Random(0)  # reproducible orders
    t0 = time.perf_counter()
    last_check = t0
    rnd = 0
    reason = "time"
    while True:
        order = list(runs)
        shuffle.shuffle(order)
        for t in order:
            start = len(t.samples)
            t.samples.extend(t.run_once() for _ in range(t.block_size))
            t.blocks.append((start, len(t.samples)))
        rnd += 1
        now = time.perf_counter()
        if now - t0 >= cfg.max_time:
            break
        if any(len(t.samples) >= cfg.max_samples for t in runs):
            reason = "samples"
            break
        enough = now - t0 >= min(cfg.min_time, cfg.max_time) and all(
            len(t.samples) >= cfg.min_samples and len(t.blocks) >= cfg.min_blocks for t in runs
        )
        if enough and now - last_check >= cfg.check_every_s:
            last_check = now
            if on_progress:
                on_progress(now - t0, runs)
            if stop(runs):
                reason = "converged"
                break
    return {"stopped": reason, "seconds": round(time.perf_counter() - t0, 3), "rounds": rnd}


def inputs_for(
    session: Session, arrays: list[np.ndarray], batch: int, limit: int = 64
) -> list[list[np.ndarray]]:
    """Distinct batches of `batch` samples from the dataset arrays (cycled while timing)."""
    n = len(arrays[0])
    count = max(1, min(limit, n // batch if n >= batch else 1))
    out = []
    for k in range(count):
        idx = np.arange(k * batch, (k + 1) * batch) % n
        out.append([np.ascontiguousarray(a[idx]) for a in arrays])
    return out


def compare_latency(
    items: list,
    baseline: int | None = 0,
    arrays: list[list[np.ndarray]] | None = None,
    max_time: float = 5.0,
    batch: int = 1,
    threads: int | None = None,
    runtime: str | None = None,
    precision: str | None = None,
    ci_target: float = 0.02,
) -> list[dict]:
    """Quick interleaved latency comparison for other steps (quantize, prune).

    `items`: model paths or open Sessions; `arrays`: per item, input arrays (one per model
    input, first axis = sample), default seeded random inputs. Returns per item
    {"name", "session", "summary", "ratio"} where ratio (vs items[baseline]) has
    "estimate" and a 95% "ci".
    """
    from edgeopt.data import random_inputs
    from edgeopt.runtimes import SessionOptions, open_session

    runs = []
    for k, it in enumerate(items):
        if isinstance(it, Session):
            sess, name = it, f"{it.runtime}#{k}"
        else:
            sess = open_session(it, runtime, SessionOptions(threads=threads, precision=precision))
            name = str(it)
        data = arrays[k] if arrays else random_inputs(sess.inputs, max(batch, 16), seed=0)
        runs.append(Timed(name, sess, inputs_for(sess, data, batch)))
    cfg = LatencyConfig(max_time=max_time, ci_target=ci_target, warmup_max_s=min(1.0, max_time / 4))
    measure_latency(runs, cfg, baseline)
    out = []
    for k, t in enumerate(runs):
        ratio = ratio_vs(runs, baseline, k) if baseline is not None and k != baseline else None
        out.append(
            {
                "name": t.name,
                "session": t.session.describe(),
                "summary": t.summary(),
                "ratio": ratio,
            }
        )
    return out


def throughput_windows(
    make_session: Callable[[], Session],
    first: Session,
    batches: list[list[np.ndarray]],
    requests: int,
    seconds: float,
    window_s: float = 0.5,
) -> dict:
    """Samples/s with `requests` parallel requests (one session each, in threads).

    Runtimes release the GIL while running, so threads give real parallel requests.
    The throughput of each window is one observation; the CI is a t interval over windows.
    """
    import threading

    sessions = [first] + [make_session() for _ in range(requests - 1)]
    batch = len(batches[0][0])
    counts = [0] * requests
    stop = threading.Event()

    def worker(i: int) -> None:
        k = i
        while not stop.is_set():
            sessions[i].run(batches[k % len(batches)])
            counts[i] += 1
            k += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(requests)]
    for th in threads:
        th.start()
    windows = []
    t_end = time.perf_counter() + seconds
    prev, tprev = sum(counts), time.perf_counter()
    while time.perf_counter() < t_end:
        time.sleep(window_s)
        cur, tnow = sum(counts), time.perf_counter()
        windows.append((cur - prev) * batch / (tnow - tprev))
        prev, tprev = cur, tnow
    stop.set()
    for th in threads:
        th.join()
    for s in sessions[1:]:
        s.close()
    windows = windows[1:] if len(windows) > 2 else windows  # first window includes ramp-up
    m, lo, hi = stats.mean_ci(windows)
    return {
        "mode": "parallel",
        "requests": requests,
        "batch": batch,
        "samples_per_s": m,
        "ci": [max(lo, 0.0), hi],
        "windows": [round(w, 3) for w in windows],
    }


def sequential_throughput(summary: dict, batch: int) -> dict:
    """Samples/s of back-to-back single requests, from the mean latency and its CI."""
    mean = summary.get("mean", math.nan)
    lo, hi = summary.get("ci_mean", [0.0, math.inf])
    return {
        "mode": "sequential",
        "requests": 1,
        "batch": batch,
        "samples_per_s": batch * 1000.0 / mean if mean else math.nan,
        "ci": [
            batch * 1000.0 / hi if hi and math.isfinite(hi) else 0.0,
            batch * 1000.0 / lo if lo > 0 else math.inf,
        ],
    }
