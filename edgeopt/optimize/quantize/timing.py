"""A quick latency check of a quantized child against its float parent.

It answers one question, "is the child faster on this runtime?", with the benchmark harness's
interleaved comparison (edgeopt.metrics.latency), kept short.
"""

from __future__ import annotations

import numpy as np

from edgeopt.metrics.latency import compare_latency
from edgeopt.runtimes.base import Session


def quick_latency_ratio(
    parent_session: Session, child_session: Session, inputs: list[np.ndarray], seconds: float = 1.0
) -> dict:
    """Median latency of parent and child measured interleaved; speedup > 1: child is faster."""
    batch = int(len(inputs[0])) if inputs and np.ndim(inputs[0]) else 1
    parent, child = compare_latency(
        [parent_session, child_session],
        baseline=0,
        arrays=[inputs, inputs],
        max_time=seconds,
        batch=batch,
    )
    ratio = child["ratio"] or {}
    est = ratio.get("estimate")
    lo, hi = ratio.get("ci", [None, None])
    p50_parent, p50_child = parent["summary"]["p50"], child["summary"]["p50"]
    return {
        "parent_ms": round(p50_parent, 4),
        "child_ms": round(p50_child, 4),
        # the ratio of the two medians printed beside it (the paired estimate can disagree
        # with them on a noisy machine; it stays recorded with its CI)
        "speedup": round(p50_parent / p50_child, 3) if p50_child else None,
        "speedup_paired": round(1 / est, 3) if est else None,
        "speedup_ci": [round(1 / hi, 3) if hi else None, round(1 / lo, 3) if lo else None],
        "runs_each": child["summary"]["samples"],
        "batch": batch,
        "parent_session": parent["session"],
        "child_session": child["session"],
    }
