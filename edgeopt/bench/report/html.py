"""The bench report page: a Jinja2 template with Plotly figures, self-contained (plotly.js is
inlined, no CDN), every value from the user escaped."""

from __future__ import annotations

from edgeopt.bench.gate import describe_decision
from edgeopt.bench.report import plots
from edgeopt.bench.report.markdown import render_markdown
from edgeopt.bench.report.templating import figure_html, render
from edgeopt.bench.report.text import COLUMNS, cell, rows
from edgeopt.core import fmt


def latency_entries(results: dict, labels: dict[str, str] | None = None, colors=None) -> list:
    """Inputs of plots.latency_box from a results dict; `labels` renames artifacts (the run
    report shows recipe candidate names), `colors` maps those labels to colors."""
    out = []
    for a in results["artifacts"]:
        lat = a.get("latency") or {}
        if not lat.get("samples_ms"):
            continue
        label = (labels or {}).get(a["name"], a["name"])
        out.append(
            {
                "label": label,
                "samples_ms": lat["samples_ms"],
                "ci_p50": lat.get("ci_p50"),
                "color": (colors or {}).get(label)
                or (plots.BASELINE_COLOR if a.get("role") == "baseline" else None),
            }
        )
    if not colors:
        palette = plots.colors([e["label"] for e in out])
        for e in out:
            e["color"] = e["color"] or palette[e["label"]]
    return out


def _machine_line(results: dict) -> str:
    m, s = results.get("machine") or {}, results.get("settings") or {}
    load = m.get("load_start") or [None]
    return (
        f"{m.get('cpu', '?')}, {m.get('usable_cores', '?')} usable core(s), 1-min load "
        f"{fmt.number(load[0])}; batch {s.get('batch', '?')}, threads "
        f"{s.get('threads') or 'runtime default'}; 95% confidence intervals"
    )


def render_html(results: dict) -> str:
    g = results.get("gate")
    title = (
        "edgeopt gate: " + ("passed" if g and g["passed"] else "failed")
        if g
        else "edgeopt benchmark"
    )
    table = [
        {
            "artifact": r["artifact"],
            "error": r["error"],
            "cells": [cell(k, r[k]) for k, _ in COLUMNS],
        }
        for r in rows(results)
    ]
    entries = latency_entries(results)
    pts = [
        {
            "label": a["name"],
            "p50_ms": a["latency"]["p50"],
            "top1": a["accuracy"]["top1"],
            "color": next((e["color"] for e in entries if e["label"] == a["name"]), None),
        }
        for a in results["artifacts"]
        if (a.get("latency") or {}).get("p50") and "top1" in (a.get("accuracy") or {})
    ]
    return render(
        "bench.html.j2",
        title=title,
        machine=_machine_line(results),
        headers=[h for _, h in COLUMNS],
        rows=table,
        gate_passed=bool(g and g["passed"]),
        decisions=[
            {"status": d["status"], "text": describe_decision(d)}
            for d in (g or {}).get("decisions", [])
        ],
        latency_plot=figure_html(plots.latency_box(entries), "latency") if entries else None,
        accuracy_plot=figure_html(plots.accuracy_latency(pts), "accuracy") if pts else None,
        warnings=results.get("warnings", []),
        markdown=render_markdown(results),
    )
