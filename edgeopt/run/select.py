"""Choosing among measured candidates: budgets verdicts, the Pareto front, the fastest passing one."""

from __future__ import annotations

import math

from edgeopt.core import fmt
from edgeopt.metrics.quality import QUALITY_KEYS, QualityReport


def metrics_of(a: dict) -> dict:
    """The figures a candidate is compared on (None where not measured)."""
    lat = a.get("latency") or {}
    acc = a.get("accuracy") or {}
    vs = acc.get("vs_reference") or {}
    report = QualityReport(acc["quality"]) if acc.get("quality") else None
    quality = {
        spec.metric: report.value(key)
        for key, spec in QUALITY_KEYS.items()
        if report is not None and report.value(key) is not None
    }
    return {
        "quality": quality,
        "p50_ms": lat.get("p50"),
        "p90_ms": lat.get("p90"),
        "ci_p50": lat.get("ci_p50"),
        "top1": acc.get("top1"),
        "agreement": vs.get("top1_agreement"),
        "top1_drop": vs.get("top1_drop"),
        "size_bytes": (a.get("size") or {}).get("total_bytes"),
        "peak_mb": (a.get("memory") or {}).get("peak_rss_mb"),
        "ratio": (a.get("ratio") or {}).get("estimate"),
        "ratio_ci": (a.get("ratio") or {}).get("ci"),
    }


def quality(m: dict) -> float | None:
    """Higher is better: accuracy against labels, else agreement with the reference, else the
    mean cosine to it (embeddings and other outputs)."""
    if m["top1"] is not None:
        return m["top1"]
    q = m.get("quality") or {}
    return m["agreement"] if m["agreement"] is not None else q.get("cosine_mean")


def pareto_front(rows: list[dict]) -> list[str]:
    """Names of candidates no other beats on latency, quality and size at once."""
    pts = []
    for r in rows:
        m = r["metrics"]
        q = quality(m)
        if m["p50_ms"] is None or q is None or m["size_bytes"] is None:
            continue
        pts.append((r["name"], m["p50_ms"], -q, m["size_bytes"]))
    front = []
    for name, *p in pts:
        dominated = any(
            all(o <= s for o, s in zip(other, p)) and any(o < s for o, s in zip(other, p))
            for n2, *other in pts
            if n2 != name
        )
        if not dominated:
            front.append(name)
    return front


def verdicts(results: dict) -> dict[str, dict]:
    """Per artifact name: passed (bool) and the failed/inconclusive budget decisions."""
    out: dict[str, dict] = {}
    gate = results.get("gate") or {}
    for a in results["artifacts"]:
        if a.get("role") == "baseline":
            continue
        ds = [d for d in gate.get("decisions", []) if d["artifact"] == a["name"]]
        failed = [d for d in ds if d["status"] == "fail"]
        error = a.get("error")
        out[a["name"]] = {
            "passed": not failed and not error and a.get("latency") is not None,
            "failed": failed,
            "decisions": ds,
            "error": error,
        }
    return out


def choose(rows: list[dict]) -> tuple[dict | None, str]:
    """The fastest candidate meeting every budget, or why none does."""
    ok = [r for r in rows if r["verdict"]["passed"] and r["metrics"]["p50_ms"] is not None]
    if ok:
        fastest = min(ok, key=lambda r: r["metrics"]["p50_ms"])
        tied = [r for r in ok if _overlap(r["metrics"], fastest["metrics"])]
        best = min(
            tied, key=lambda r: (r["metrics"]["size_bytes"] or 0, -(quality(r["metrics"]) or 0))
        )
        if best is fastest:
            return best, f"fastest of {len(ok)} candidate(s) meeting every budget"
        return best, (
            f"chosen over {fastest['name']} (median {fmt.latency_ms(fastest['metrics']['p50_ms'])} "
            f"vs {fmt.latency_ms(best['metrics']['p50_ms'])}): their latency intervals overlap, so the "
            f"smaller, more accurate one of {len(tied)} tied candidate(s) meeting every budget"
        )
    if not rows:
        return None, "no candidate was built"
    reasons = []
    for r in rows:
        v = r["verdict"]
        if v["error"]:
            reasons.append(f"{r['name']}: {v['error']}")
        elif v["failed"]:
            d = v["failed"][0]
            reasons.append(
                f"{r['name']}: {d['budget']} = {_fmt(d['value'])} (limit {_fmt(d['limit'])})"
            )
        else:
            reasons.append(f"{r['name']}: not measured")
    return None, "no candidate meets every budget: " + "; ".join(reasons)


def _overlap(a: dict, b: dict) -> bool:
    """Whether two candidates' 95% intervals of the median latency overlap."""
    ca, cb = a.get("ci_p50"), b.get("ci_p50")
    if not ca or not cb or None in (*ca, *cb):
        return a is b
    return ca[0] <= cb[1] and cb[0] <= ca[1]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.4g}"
    return str(v)
