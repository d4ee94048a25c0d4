"""A quick interleaved latency check of a quantized child against its float parent.

Local stand-in for the benchmark harness (edgeopt.benchmarks) until they are merged: it only
answers "is the child faster on this runtime?", so it times batch-1 runs, alternating the two
sessions so that machine noise hits both alike.
"""

from __future__ import annotations

import time

import numpy as np

from edgeopt.runtimes.base import Session


def quick_latency_ratio(
    parent_session: Session,
    child_session: Session,
    inputs: list[np.ndarray],
    seconds: float = 1.0,
    warmup: int = 3,
    min_runs: int = 10,
) -> dict:
    """Median latency of each session, run alternately for about `seconds` in total.

    speedup > 1 means the child is faster than the parent.
    """
    for _ in range(warmup):
        parent_session.run(inputs)
        child_session.run(inputs)
    times: tuple[list[float], list[float]] = ([], [])
    t_end = time.perf_counter() + seconds
    while len(times[0]) < min_runs or time.perf_counter() < t_end:
        for k, sess in enumerate((parent_session, child_session)):
            t0 = time.perf_counter()
            sess.run(inputs)
            times[k].append(time.perf_counter() - t0)
        if len(times[0]) >= 5000:
            break
    p, c = (float(np.median(t)) * 1e3 for t in times)
    return {
        "parent_ms": round(p, 4),
        "child_ms": round(c, 4),
        "speedup": round(p / c, 3) if c > 0 else None,
        "runs_each": len(times[0]),
        "batch": int(len(inputs[0])) if inputs and np.ndim(inputs[0]) else 1,
        "parent_session": parent_session.describe(),
        "child_session": child_session.describe(),
    }
