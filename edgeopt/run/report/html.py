"""The run report page: a context built from run.json (and the bench results and sidecars kept
in the run folder), rendered by templates/run.html.j2 with Plotly figures inlined."""

from __future__ import annotations

from edgeopt.bench.report import plots as bench_plots
from edgeopt.bench.report.html import latency_entries
from edgeopt.bench.report.templating import figure_html, render
from edgeopt.core import fmt
from edgeopt.run.report import context as ctx
from edgeopt.run.report import plots

PACKAGES = ("edgeopt.run.report",)


def verdict_text(row: dict) -> tuple[str, str]:
    """(css class, text) of a candidate's budgets verdict."""
    v = row.get("verdict") or {}
    if v.get("passed"):
        return "pass", "PASS"
    if v.get("error"):
        return "fail", f"ERROR: {v['error']}"
    return "fail", "FAIL: " + ", ".join(d["budget"] for d in v.get("failed", []))


def candidate_cells(row: dict) -> dict:
    """Every figure of a candidate as shown in the page (tests compare these to run.json)."""
    m = row.get("metrics") or {}
    drop = m.get("top1_drop")
    return {
        "p50": fmt.latency_ci(m.get("p50_ms"), m.get("ci_p50")),
        "ratio": fmt.ratio(m.get("ratio"), m.get("ratio_ci")),
        "top1": fmt.percent(m.get("top1")),
        "drop": fmt.points(100.0 * drop) if drop is not None else fmt.DASH,
        "size": fmt.size(m.get("size_bytes")),
        "peak": fmt.megabytes(m.get("peak_mb")),
    }


def _decisions(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        for d in (r.get("verdict") or {}).get("decisions", []):
            u = d["unit"]
            out.append(
                {
                    "candidate": r["name"],
                    "budget": d["budget"],
                    "measured": fmt.with_unit(d.get("value"), u),
                    "ci": fmt.ci_with_unit(d.get("ci"), u)
                    if d.get("ci") and d["ci"][0] != d["ci"][1]
                    else "",
                    "limit": ("<= " if d["direction"] == "max" else ">= ")
                    + fmt.with_unit(d["limit"], u),
                    "status": d["status"],
                    "inconclusive": d["outcome"] == "inconclusive",
                }
            )
    return out


def _per_class(results: dict | None, row: dict | None, color: str | None):
    art, base = ctx.artifact_of(results, row or {}), ctx.baseline_of(results)
    pc = ((art or {}).get("accuracy") or {}).get("per_class")
    if not pc:
        return None
    bpc = ((base or {}).get("accuracy") or {}).get("per_class") or {}
    classes = list(pc)
    series = []
    if bpc:
        series.append(
            {
                "name": "baseline (plain export)",
                "values": [bpc.get(c) for c in classes],
                "color": bench_plots.BASELINE_COLOR,
            }
        )
    series.append(
        {"name": f"{row['name']} (chosen)", "values": [pc[c] for c in classes], "color": color}
    )
    return bench_plots.per_class(classes, series)


def target_context(summary: dict, name: str, t: dict) -> dict:
    rows = t.get("candidates", [])
    chosen = ctx.chosen_row(t)
    colors = bench_plots.colors([r["name"] for r in rows])
    results = ctx.target_results(summary, name)
    labels = {}
    for r in rows:
        a = ctx.artifact_of(results, r)
        if a:
            labels[a["name"]] = r["name"]
    base = ctx.baseline_of(results)
    if base:
        labels[base["name"]] = "baseline (plain export)"
    figs = dict.fromkeys(("pareto", "latency", "per_class", "lineage"))  # absent plots: None
    pareto = plots.pareto(rows, t.get("chosen"), colors, base)
    if pareto is not None:
        figs["pareto"] = figure_html(pareto, f"pareto-{name}")
    if results:
        entries = latency_entries(results, labels, colors)
        if entries:
            figs["latency"] = figure_html(bench_plots.latency_box(entries), f"latency-{name}")
    per_class = _per_class(results, chosen, colors.get(t.get("chosen") or ""))
    if per_class is not None:
        figs["per_class"] = figure_html(per_class, f"per-class-{name}")
    side = ctx.sidecar(summary, chosen)
    tools = {k: v for k, v in ((side or {}).get("tools") or {}).items() if v}
    lineage = plots.lineage(t.get("chosen_lineage") or [], tools)
    if lineage is not None:
        figs["lineage"] = figure_html(lineage, f"lineage-{name}")
    return {
        "name": name,
        "chosen": chosen,
        "chosen_cells": candidate_cells(chosen) if chosen else None,
        "reason": t.get("reason", ""),
        "rows": [
            {
                "row": r,
                "cells": candidate_cells(r),
                "verdict": verdict_text(r),
                "color": colors[r["name"]],
            }
            for r in rows
        ],
        "figs": figs,
        "steps": [
            {**s, "params_text": fmt.value(s["params"])}
            for s in plots.lineage_steps(t.get("chosen_lineage") or [])
        ],
        "tools": tools,
        "decisions": _decisions(rows),
        "warnings": t.get("warnings", []),
    }


def header_context(summary: dict) -> dict:
    rec = summary["recipe"]
    data = rec.get("data")
    data_items = list(data.items()) if isinstance(data, dict) else [("data", data)]
    cs, ts = summary.get("cache_stats") or {}, summary.get("timings_s") or {}
    return {
        "recipe": rec.get("name"),
        "model": rec.get("model"),
        "data": [(k, fmt.value(v)) for k, v in data_items if v],
        "created": (summary.get("created") or "")[:19].replace("T", " "),
        "cache": f"{fmt.count(cs.get('hits', 0))} hit(s), {fmt.count(cs.get('misses', 0))} built",
        "timings": f"build {fmt.seconds(ts.get('build'))}, total {fmt.seconds(ts.get('total'))}",
        "passed": summary.get("passed"),
    }


def render_run_html(summary: dict) -> str:
    return render(
        "run.html.j2",
        PACKAGES,
        head=header_context(summary),
        targets=[target_context(summary, n, t) for n, t in summary["targets"].items()],
    )
