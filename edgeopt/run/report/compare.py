"""Two runs of one recipe side by side (a release and its candidate): per target, the chosen
artifacts, the latency ratio new/old with its 95% CI, accuracy and size changes, what changed in
the lineage, and flags for regressions.

Latency across two runs cannot be interleaved, so the ratio is computed two ways:
- direct: the new p50 over the old p50, a bootstrap CI from both runs' samples; machine drift
  between the runs is not cancelled;
- baseline-normalised: when both runs timed the very same baseline file (same sha256), each
  candidate's same-run ratio to it is compared, which cancels a busier or slower machine.
The normalised ratio decides the flags when it exists, the direct one otherwise.
"""

from __future__ import annotations

import math

from edgeopt.errors import UsageError
from edgeopt.metrics import stats
from edgeopt.run.report import context as ctx

SLOWDOWN = 1.05  # flag when the whole CI of new/old lies above this
MAX_DROP_POINTS = 0.5  # flag when top-1 falls by more than this many points
Z95 = 1.959964


def _se(ci) -> float | None:
    """Standard error in log space of a 95% CI, None when the CI is missing or unbounded."""
    if not ci or ci[0] is None or ci[1] is None or ci[0] <= 0 or not math.isfinite(ci[1]):
        return None
    return (math.log(ci[1]) - math.log(ci[0])) / (2 * Z95)


def _log_ci(num: tuple, den: tuple) -> tuple[float, list[float]]:
    """num/den of two independent estimates (value, 95% CI), with a CI from log-space errors."""
    (rn, cn), (rd, cd) = num, den
    if not rn or not rd or rn <= 0 or rd <= 0:
        return math.nan, [0.0, math.inf]
    est = rn / rd
    sn, sd = _se(cn), _se(cd)
    if sn is None or sd is None:
        return est, [0.0, math.inf]
    half = Z95 * math.hypot(sn, sd)
    return est, [est * math.exp(-half), est * math.exp(half)]


def _samples(results: dict | None, row: dict) -> list | None:
    a = ctx.artifact_of(results, row)
    return ((a or {}).get("latency") or {}).get("samples_ms")


def latency_change(old_row, new_row, old_res, new_res, same_baseline: bool) -> dict:
    mo, mn = old_row["metrics"], new_row["metrics"]
    so, sn = _samples(old_res, old_row), _samples(new_res, new_row)
    if so and sn:
        d = stats.independent_ratio(so, sn)
        direct = {
            "ratio": d["estimate"],
            "ci": d["ci"],
            "method": "bootstrap of both runs' samples",
        }
    else:
        r, ci = _log_ci((mn.get("p50_ms"), mn.get("ci_p50")), (mo.get("p50_ms"), mo.get("ci_p50")))
        direct = {"ratio": r, "ci": ci, "method": "from the p50 intervals in run.json"}
    out = {"direct": direct, "normalised": None}
    if same_baseline and mo.get("ratio") and mn.get("ratio"):
        r, ci = _log_ci((mn["ratio"], mn.get("ratio_ci")), (mo["ratio"], mo.get("ratio_ci")))
        out["normalised"] = {
            "ratio": r,
            "ci": ci,
            "method": "each run's same-run ratio to the same baseline",
        }
    out["decisive"] = out["normalised"] or direct
    return out


def _pair(old_row, new_row, old_res, new_res, same_baseline, slowdown, max_drop) -> dict:
    lat = latency_change(old_row, new_row, old_res, new_res, same_baseline)
    dec = lat["decisive"]
    lo, hi = dec["ci"]
    flags = []
    if not math.isnan(dec["ratio"]) and lo > slowdown:
        flags.append("slower")
    mo, mn = old_row["metrics"], new_row["metrics"]
    acc = None
    if mo.get("top1") is not None and mn.get("top1") is not None:
        acc = 100.0 * (mn["top1"] - mo["top1"])
        if acc < -max_drop:
            flags.append("less accurate")
    so, sn = mo.get("size_bytes"), mn.get("size_bytes")
    faster = hi < 1.0 / slowdown
    return {
        "old": old_row,
        "new": new_row,
        "latency": lat,
        "accuracy_points": acc,
        "size_old": so,
        "size_new": sn,
        "flags": flags,
        "faster": faster,
        "verdict": ", ".join(flags).upper()
        if flags
        else ("faster" if faster else "no significant change"),
    }


def _baseline_sha(summary: dict, target: str) -> str | None:
    side = ctx.sidecar(summary, summary["targets"][target].get("baseline"))
    return (side or {}).get("sha256")


def _diff(old: dict, new: dict) -> list[dict]:
    keys = list(dict.fromkeys([*old, *new]))
    return [
        {"key": k, "old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)
    ]


def lineage_changes(old_sum, new_sum, target) -> dict:
    """Tool versions and step parameters that differ between the two chosen artifacts."""
    to, tn = old_sum["targets"][target], new_sum["targets"][target]
    so, sn = ctx.sidecar(old_sum, ctx.chosen_row(to)), ctx.sidecar(new_sum, ctx.chosen_row(tn))
    tools = _diff((so or {}).get("tools") or {}, (sn or {}).get("tools") or {})
    co = list(reversed(to.get("chosen_lineage") or []))
    cn = list(reversed(tn.get("chosen_lineage") or []))
    steps = []
    for i in range(max(len(co), len(cn))):
        a = co[i] if i < len(co) else {}
        b = cn[i] if i < len(cn) else {}
        name_a = a.get("step") or ("source" if "source" in a else None)
        name_b = b.get("step") or ("source" if "source" in b else None)
        changes = _diff(a.get("params") or {}, b.get("params") or {})
        if name_a != name_b:
            changes.insert(0, {"key": "step", "old": name_a, "new": name_b})
        if a.get("source") != b.get("source"):
            changes.insert(0, {"key": "source", "old": a.get("source"), "new": b.get("source")})
        if changes:
            steps.append({"step": name_b or name_a, "changes": changes})
    return {"tools": tools, "steps": steps, "sidecars": bool(so and sn)}


def compare_runs(
    old: dict, new: dict, slowdown: float = SLOWDOWN, max_drop: float = MAX_DROP_POINTS
) -> dict:
    """Everything the comparison views show; `regressions` lists what was flagged."""
    if old["recipe"].get("name") != new["recipe"].get("name"):
        raise UsageError(
            f"these runs are of different recipes ({old['recipe'].get('name')!r} and "
            f"{new['recipe'].get('name')!r})",
            "compare two runs of the same recipe: a release and its candidate",
        )
    targets = []
    regressions = []
    for name in dict.fromkeys([*old["targets"], *new["targets"]]):
        to, tn = old["targets"].get(name), new["targets"].get(name)
        if to is None or tn is None:
            targets.append({"name": name, "missing": "old" if to is None else "new"})
            continue
        ro, rn = ctx.target_results(old, name), ctx.target_results(new, name)
        same = (_baseline_sha(old, name) or "a") == (_baseline_sha(new, name) or "b")
        co, cn = ctx.chosen_row(to), ctx.chosen_row(tn)
        chosen = _pair(co, cn, ro, rn, same, slowdown, max_drop) if co and cn else None
        by_new = {
            r["name"]: r for r in tn.get("candidates", []) if r.get("metrics", {}).get("p50_ms")
        }
        common = [
            _pair(r, by_new[r["name"]], ro, rn, same, slowdown, max_drop)
            for r in to.get("candidates", [])
            if r["name"] in by_new and r.get("metrics", {}).get("p50_ms")
        ]
        for p in ([chosen] if chosen else []) + common:
            label = ("chosen artifact " if p is chosen else "candidate ") + p["new"]["name"]
            regressions += [f"{name}: {label} is {f}" for f in p["flags"]]
        if co and not cn:
            regressions.append(f"{name}: nothing chosen in the new run ({tn.get('reason')})")
        targets.append(
            {
                "name": name,
                "missing": None,
                "same_baseline": same,
                "chosen": chosen,
                "chosen_old": co,
                "chosen_new": cn,
                "reason_old": to.get("reason", ""),
                "reason_new": tn.get("reason", ""),
                "common": common,
                "only_old": [
                    r["name"]
                    for r in to.get("candidates", [])
                    if r["name"] not in {x["name"] for x in tn.get("candidates", [])}
                ],
                "only_new": [
                    r["name"]
                    for r in tn.get("candidates", [])
                    if r["name"] not in {x["name"] for x in to.get("candidates", [])}
                ],
                "lineage": lineage_changes(old, new, name) if co and cn else None,
            }
        )
    return {
        "recipe": new["recipe"].get("name"),
        "old": {"dir": str(ctx.run_dir_of(old)), "created": old.get("created")},
        "new": {"dir": str(ctx.run_dir_of(new)), "created": new.get("created")},
        "slowdown": slowdown,
        "max_drop_points": max_drop,
        "targets": targets,
        "regressions": regressions,
        "passed": not regressions,
    }
