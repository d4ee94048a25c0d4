"""Gate decisions from confidence intervals: pass, fail or inconclusive, per budget.

A budget fails only when the whole 95% interval lies beyond the limit, passes when the whole
interval lies within it, and is inconclusive otherwise. Inconclusive budgets make the runner
take more samples up to the time bound; what remains inconclusive then follows
--on-inconclusive (default "fail": a gate that cannot show a budget is met does not pass it).
Accuracy, size and memory are measured once on fixed data, so their interval is the value.
"""

from __future__ import annotations

from edgeopt.bench.budgets import BUDGET_KEYS, Budgets
from edgeopt.core import fmt
from edgeopt.metrics.quality import QUALITY_KEYS, QualityReport

LATENCY_KEYS = (
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_ratio_max",
    "throughput_min",
)
MB = 1024.0 * 1024.0


def decide(direction: str, lo: float, hi: float, limit: float) -> str:
    if direction == "max":
        if hi <= limit:
            return "pass"
        if lo > limit:
            return "fail"
    else:
        if lo >= limit:
            return "pass"
        if hi < limit:
            return "fail"
    return "inconclusive"


def measured(key: str, a: dict) -> tuple[float, float, float, str] | str:
    """(value, ci_low, ci_high, note) of budget `key` for artifact result `a`, or why not."""
    lat = a.get("latency") or {}
    if key.startswith("latency_p") and key.endswith("_ms"):
        p = key[len("latency_") : -len("_ms")]
        if not lat.get("samples"):
            return "no latency samples"
        lo, hi = lat[f"ci_{p}"]
        return lat[p], lo, hi, ""
    if key == "latency_ratio_max":
        r = a.get("ratio")
        note = "same-run baseline, interleaved"
        if r is None and a.get("stored_ratio"):
            r = a["stored_ratio"]
            note = "stored baseline from another run: less reliable than a same-run baseline"
        if r is None:
            return "no baseline measured"
        return r["estimate"], r["ci"][0], r["ci"][1], note
    if key == "throughput_min":
        t = a.get("throughput")
        if not t:
            return "no throughput measured"
        return t["samples_per_s"], t["ci"][0], t["ci"][1], t.get("mode", "")
    acc = a.get("accuracy") or {}
    if key == "accuracy_min" and "top1" in acc:  # absolute accuracy needs no reference
        return acc["top1"], acc["top1"], acc["top1"], f"{acc.get('samples')} samples"
    if key in QUALITY_KEYS:
        return _quality(key, acc)
    if key == "size_mb_max":
        s = a.get("size") or {}
        if "total_bytes" not in s:
            return "size not measured"
        v = s["total_bytes"] / MB
        return v, v, v, ""
    if key == "peak_memory_mb_max":
        m = a.get("memory") or {}
        if "peak_rss_mb" not in m:
            return m.get("error") or "memory not measured"
        return m["peak_rss_mb"], m["peak_rss_mb"], m["peak_rss_mb"], "whole process"
    return f"unknown budget {key}"


def artifact_decisions(a: dict, limits: dict[str, float], keys=None) -> list[dict]:
    out = []
    for key, limit in limits.items():
        if keys is not None and key not in keys:
            continue
        direction, unit, what = BUDGET_KEYS[key]
        m = measured(key, a) if not a.get("error") else f"artifact failed to load: {a['error']}"
        d = {
            "artifact": a["name"],
            "budget": key,
            "limit": limit,
            "direction": direction,
            "unit": unit,
            "what": what,
        }
        if isinstance(m, str):
            d.update(value=None, ci=None, outcome="fail", note=f"not measured: {m}")
        else:
            v, lo, hi, note = m
            d.update(value=v, ci=[lo, hi], outcome=decide(direction, lo, hi, limit), note=note)
        out.append(d)
    return out


def latency_conclusive(a: dict, limits: dict[str, float]) -> bool:
    """Used while sampling: are all latency-type budgets of this artifact decided yet?"""
    return all(d["outcome"] != "inconclusive" for d in artifact_decisions(a, limits, LATENCY_KEYS))


def evaluate_gate(results: dict, budgets: Budgets, on_inconclusive: str = "fail") -> dict:
    """Decisions for every candidate and budget; `passed` applies the inconclusive policy."""
    decisions = []
    for a in results["artifacts"]:
        if a.get("role") == "baseline" and len(results["artifacts"]) > 1:
            continue
        decisions.extend(artifact_decisions(a, budgets.for_target(a.get("target"))))
    for d in decisions:
        d["status"] = on_inconclusive if d["outcome"] == "inconclusive" else d["outcome"]
    failed = [d for d in decisions if d["status"] == "fail"]
    return {
        "budgets": budgets.to_dict(),
        "on_inconclusive": on_inconclusive,
        "decisions": decisions,
        "passed": not failed,
        "failed": len(failed),
        "inconclusive": sum(d["outcome"] == "inconclusive" for d in decisions),
    }


def fmt_value(v: float | None, unit: str = "") -> str:
    """A budget figure in its unit, as people read it (edgeopt.core.fmt)."""
    return fmt.with_unit(v, unit)


def describe_decision(d: dict) -> str:
    """One line: artifact, budget, measured value with interval, limit, outcome."""
    u = d["unit"]
    cmp = "<=" if d["direction"] == "max" else ">="
    if d["value"] is None:
        meas = d["note"]
    else:
        lo, hi = d["ci"]
        ci = "" if lo == hi else f" (95% CI {fmt_value(lo, u)} .. {fmt_value(hi, u)})"
        meas = f"{fmt_value(d['value'], u)}{ci}"
    tag = d["status"].upper() + (" (inconclusive)" if d["outcome"] == "inconclusive" else "")
    return f"{tag}: {d['artifact']} {d['budget']}: measured {meas}, limit {cmp} {fmt_value(d['limit'], u)}"


def _quality(key: str, acc: dict) -> tuple[float, float, float, str] | str:
    """A quality budget's value: measured on fixed data, so its interval is the value."""
    spec = QUALITY_KEYS[key]
    if not acc.get("quality"):
        why = "labelled evaluation data" if spec.needs_labels else "a reference"
        return acc.get("error") or f"no {spec.metric}: needs {why} (pass --baseline or --reference)"
    report = QualityReport(acc["quality"])
    v = report.value(key)
    if v is None:
        kinds = sorted({o["kind"] for o in acc["quality"].values()})
        return f"{spec.metric} does not apply to {'/'.join(kinds)} outputs"
    worst = [n for n, o in acc["quality"].items() if o.get(spec.metric) == v]
    note = f"{spec.unit}; output {worst[0]}" if len(acc["quality"]) > 1 and worst else spec.unit
    return v, v, v, note
