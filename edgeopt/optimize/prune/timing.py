"""A small interleaved latency helper for prune's sweep (the bench harness will replace it).

Candidates are timed round-robin in one loop, in a shuffled order each round, so a noisy or
shared CPU slows all of them alike and the ratios stay meaningful.
"""

from __future__ import annotations

import random
import time

import numpy as np

from edgeopt.runtimes.base import Session


def interleaved_latency(
    sessions: dict[str, Session],
    inputs: list[np.ndarray],
    rounds: int = 200,
    warmup: int = 10,
    seed: int = 0,
) -> dict[str, dict]:
    """Per session: median, p10, p90 (ms) and the raw samples, measured interleaved."""
    for sess in sessions.values():
        for _ in range(warmup):
            sess.run(inputs)
    samples: dict[str, list[float]] = {k: [] for k in sessions}
    order = list(sessions)
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            sessions[name].run(inputs)
            samples[name].append((time.perf_counter() - t0) * 1e3)
    out = {}
    for name, s in samples.items():
        a = np.asarray(s)
        out[name] = {
            "median_ms": float(np.median(a)),
            "p10_ms": float(np.percentile(a, 10)),
            "p90_ms": float(np.percentile(a, 90)),
            "samples": [round(x, 4) for x in s],
        }
    return out
