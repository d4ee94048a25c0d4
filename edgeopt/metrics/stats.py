"""Statistics for latency: percentiles with distribution-free CIs, robust paired ratios.

Latency samples are skewed and heavy-tailed, so nothing here assumes normality of the samples:
- percentile CIs use order statistics (exact binomial ranks), valid for any distribution;
- a candidate/baseline ratio comes from interleaved blocks: each block pair gives one
  log-ratio of block medians (drift hits both alike and cancels), and the blocks' 20%-trimmed
  mean gets a Tukey-McLaughlin t interval (robust to a block hit by a noisy neighbour, and
  honest for few blocks, where a bootstrap would be too narrow).
"""

from __future__ import annotations

import math

import numpy as np

CONF = 0.95
TRIM = 0.2


def percentile(samples, q: float) -> float:
    a = np.asarray(samples, dtype=np.float64)
    return float(np.percentile(a, q)) if a.size else math.nan


def percentile_ci(samples, q: float, conf: float = CONF) -> tuple[float, float]:
    """Distribution-free CI of the q-th percentile from order statistics.

    The number of samples below the true percentile is Binomial(n, q/100); the ranks that
    cover it with probability `conf` give the bounds. With too few samples a side is
    unbounded (0 or inf), which a gate reads as "not enough evidence".
    """
    from scipy.stats import binom

    a = np.sort(np.asarray(samples, dtype=np.float64))
    n = a.size
    if n == 0:
        return 0.0, math.inf
    p = q / 100.0
    alpha = 1.0 - conf
    lo_rank = int(binom.ppf(alpha / 2, n, p))  # 1-based rank of the lower bound
    hi_rank = int(binom.ppf(1 - alpha / 2, n, p)) + 1
    lo = float(a[lo_rank - 1]) if lo_rank >= 1 else 0.0
    hi = float(a[hi_rank - 1]) if hi_rank <= n else math.inf
    return lo, hi


def rel_half_width(lo: float, hi: float, est: float) -> float:
    """Half the CI's width relative to the estimate (inf when unbounded)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or est <= 0:
        return math.inf
    return (hi - lo) / 2.0 / est


def t_ppf(p: float, df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(p, df))


def mean_ci(values, conf: float = CONF) -> tuple[float, float, float]:
    """Mean and its t interval (for throughput windows)."""
    a = np.asarray(values, dtype=np.float64)
    n = a.size
    if n == 0:
        return math.nan, 0.0, math.inf
    m = float(a.mean())
    if n < 2:
        return m, 0.0, math.inf
    half = t_ppf(0.5 + conf / 2, n - 1) * float(a.std(ddof=1)) / math.sqrt(n)
    return m, m - half, m + half


def trimmed_mean_ci(values, trim: float = TRIM, conf: float = CONF) -> tuple[float, float, float]:
    """Trimmed mean and its Tukey-McLaughlin CI (winsorized variance, t with n-2g-1 df)."""
    a = np.sort(np.asarray(values, dtype=np.float64))
    n = a.size
    if n == 0:
        return math.nan, -math.inf, math.inf
    g = int(math.floor(trim * n))
    kept = a[g : n - g]
    est = float(kept.mean())
    h = n - 2 * g
    if h < 2:
        return est, -math.inf, math.inf
    w = a.copy()
    w[:g] = a[g]
    w[n - g :] = a[n - g - 1]
    se = float(w.std(ddof=1)) / ((1 - 2 * g / n) * math.sqrt(n))
    half = t_ppf(0.5 + conf / 2, h - 1) * se
    return est, est - half, est + half


def block_ratio(baseline_blocks: list, candidate_blocks: list, conf: float = CONF) -> dict:
    """Candidate/baseline latency ratio from paired interleaved blocks.

    Each pair (same round) gives log(median(candidate) / median(baseline)); the ratio is
    exp of their trimmed mean, with its CI. Fewer than 3 pairs give an unbounded CI.
    """
    logs = [
        math.log(float(np.median(c)) / float(np.median(b)))
        for b, c in zip(baseline_blocks, candidate_blocks)
        if len(b) and len(c) and np.median(b) > 0 and np.median(c) > 0
    ]
    if len(logs) < 3:
        est = math.exp(float(np.mean(logs))) if logs else math.nan
        return {
            "estimate": est,
            "ci": [0.0, math.inf],
            "blocks": len(logs),
            "method": "paired-blocks",
        }
    est, lo, hi = trimmed_mean_ci(logs, TRIM, conf)
    return {
        "estimate": math.exp(est),
        "ci": [math.exp(lo), math.exp(hi)],
        "blocks": len(logs),
        "method": "paired-blocks: trimmed mean (20%) of per-block log median ratios, t interval",
    }


def independent_ratio(
    baseline, candidate, q: float = 50.0, conf: float = CONF, n_boot: int = 1000, seed: int = 0
) -> dict:
    """Ratio of percentiles of two runs measured apart (a stored baseline): bootstrap CI.

    No pairing is possible, so drift between the runs is not cancelled: callers must say so.
    """
    rng = np.random.default_rng(seed)
    b = np.asarray(baseline, dtype=np.float64)
    c = np.asarray(candidate, dtype=np.float64)
    if b.size < 3 or c.size < 3:
        return {"estimate": math.nan, "ci": [0.0, math.inf], "method": "independent bootstrap"}
    cap = 4000  # keep the bootstrap cheap; subsample evenly (keeps the distribution)
    if b.size > cap:
        b = np.sort(b)[np.linspace(0, b.size - 1, cap).astype(int)]
    if c.size > cap:
        c = np.sort(c)[np.linspace(0, c.size - 1, cap).astype(int)]
    bb = np.percentile(b[rng.integers(0, b.size, (n_boot, b.size))], q, axis=1)
    cc = np.percentile(c[rng.integers(0, c.size, (n_boot, c.size))], q, axis=1)
    r = cc / bb
    alpha = 1 - conf
    return {
        "estimate": float(np.percentile(c, q) / np.percentile(b, q)),
        "ci": [float(np.quantile(r, alpha / 2)), float(np.quantile(r, 1 - alpha / 2))],
        "method": "independent bootstrap of percentile ratio (runs not interleaved)",
    }


def summarize(samples_ms, conf: float = CONF) -> dict:
    """Everything the report shows about one latency distribution (ms)."""
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        return {"samples": 0}
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    p50, p90, p99 = (float(v) for v in np.percentile(a, [50, 90, 99]))
    return {
        "samples": int(a.size),
        "mean": mean,
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "min": float(a.min()),
        "max": float(a.max()),
        "std": std,
        "cv": std / mean if mean > 0 else math.nan,
        "ci_p50": list(percentile_ci(a, 50, conf)),
        "ci_p90": list(percentile_ci(a, 90, conf)),
        "ci_p99": list(percentile_ci(a, 99, conf)),
        "ci_mean": list(mean_ci(a, conf)[1:]),
    }
