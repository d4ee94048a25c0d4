"""A self-contained HTML page with inline SVG plots (no plotting library needed)."""

from __future__ import annotations

import html
import math

import numpy as np

from edgeopt.bench.report.markdown import render_markdown
from edgeopt.bench.report.text import COLUMNS, cell, rows

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _distribution_svg(results: dict, w: int = 720, row_h: int = 46) -> str:
    """Per artifact: a strip of quantile ticks (p1..p99), box p25-p75, p50 CI and p90 marks."""
    arts = [a for a in results["artifacts"] if (a.get("latency") or {}).get("samples_ms")]
    if not arts:
        return ""
    qs = {
        a["name"]: np.percentile(a["latency"]["samples_ms"], [1, 5, 25, 50, 75, 90, 95, 99])
        for a in arts
    }
    lo = min(q[0] for q in qs.values())
    hi = max(q[-1] for q in qs.values())
    span = (hi - lo) or 1.0
    left, right = 200, 20
    x = lambda v: left + (v - lo) / span * (w - left - right)  # noqa: E731
    h = row_h * len(arts) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-size="11" '
        'font-family="sans-serif">'
    ]
    for i, a in enumerate(arts):
        y = 10 + i * row_h + row_h / 2
        c = COLORS[i % len(COLORS)]
        q = qs[a["name"]]
        parts.append(f'<text x="4" y="{y + 4:.1f}">{html.escape(a["name"][:30])}</text>')
        parts.append(
            f'<line x1="{x(q[0]):.1f}" x2="{x(q[-1]):.1f}" y1="{y}" y2="{y}" stroke="{c}"/>'
        )
        parts.append(
            f'<rect x="{x(q[2]):.1f}" y="{y - 10}" width="{max(x(q[4]) - x(q[2]), 1):.1f}" '
            f'height="20" fill="{c}" fill-opacity="0.3" stroke="{c}"/>'
        )
        ci = a["latency"].get("ci_p50") or [q[3], q[3]]
        if ci[1] is not None and math.isfinite(ci[1]):
            parts.append(
                f'<rect x="{x(ci[0]):.1f}" y="{y - 13}" width="{max(x(ci[1]) - x(ci[0]), 1.5):.1f}" '
                f'height="26" fill="{c}" fill-opacity="0.8"><title>p50 95% CI</title></rect>'
            )
        parts.append(
            f'<line x1="{x(q[5]):.1f}" x2="{x(q[5]):.1f}" y1="{y - 12}" y2="{y + 12}" '
            f'stroke="black" stroke-dasharray="2,2"><title>p90 {q[5]:.4g} ms</title></line>'
        )
    for k in range(5):
        v = lo + span * k / 4
        parts.append(f'<text x="{x(v):.1f}" y="{h - 8}" text-anchor="middle">{v:.3g} ms</text>')
    parts.append("</svg>")
    return "".join(parts)


def _accuracy_svg(results: dict, w: int = 480, h: int = 320) -> str:
    pts = [
        (a["name"], a["latency"]["p50"], a["accuracy"]["top1"])
        for a in results["artifacts"]
        if (a.get("latency") or {}).get("p50") and "top1" in (a.get("accuracy") or {})
    ]
    if not pts:
        return ""
    xs = [p[1] for p in pts]
    ys = [p[2] for p in pts]
    x0, x1 = min(xs) * 0.9, max(xs) * 1.1
    y0, y1 = min(ys) - 0.02, min(1.0, max(ys) + 0.02)
    m = 50
    X = lambda v: m + (v - x0) / ((x1 - x0) or 1) * (w - 2 * m)  # noqa: E731
    Y = lambda v: h - m - (v - y0) / ((y1 - y0) or 1) * (h - 2 * m)  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-size="11" '
        'font-family="sans-serif">',
        f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
        f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
        f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle">p50 latency (ms)</text>',
        f'<text x="12" y="{h / 2}" transform="rotate(-90 12 {h / 2})" text-anchor="middle">top-1 accuracy</text>',
        f'<text x="{m}" y="{h - m + 14}">{x0:.3g}</text>',
        f'<text x="{w - m}" y="{h - m + 14}" text-anchor="end">{x1:.3g}</text>',
        f'<text x="{m - 4}" y="{h - m}" text-anchor="end">{y0:.3f}</text>',
        f'<text x="{m - 4}" y="{m + 4}" text-anchor="end">{y1:.3f}</text>',
    ]
    for i, (name, lx, ay) in enumerate(pts):
        c = COLORS[i % len(COLORS)]
        parts.append(
            f'<circle cx="{X(lx):.1f}" cy="{Y(ay):.1f}" r="5" fill="{c}">'
            f"<title>{html.escape(name)}: {lx:.4g} ms, {ay:.4f}</title></circle>"
        )
        parts.append(
            f'<text x="{X(lx) + 7:.1f}" y="{Y(ay) - 6:.1f}">{html.escape(name[:24])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(results: dict) -> str:
    g = results.get("gate")
    title = (
        "edgeopt gate: " + ("passed" if g and g["passed"] else "failed")
        if g
        else "edgeopt benchmark"
    )
    table = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for _, h in COLUMNS) + "</tr>"]
    for r in rows(results):
        if r["error"]:
            table.append(
                f"<tr><td>{html.escape(r['artifact'])}</td><td colspan='{len(COLUMNS) - 1}'>"
                f"load failed: {html.escape(r['error'])}</td></tr>"
            )
        else:
            table.append(
                "<tr>"
                + "".join(f"<td>{html.escape(cell(k, r[k]))}</td>" for k, _ in COLUMNS)
                + "</tr>"
            )
    table.append("</table>")
    md = html.escape(render_markdown(results))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}pre{{background:#f6f6f6;padding:1em}}</style>
</head><body><h1>{html.escape(title)}</h1>
{"".join(table)}
<h2>Latency distribution</h2>
<p>Line: p1-p99; box: p25-p75; dark bar: 95% CI of p50; dashed: p90.</p>
{_distribution_svg(results)}
<h2>Accuracy against latency</h2>
{_accuracy_svg(results) or "<p>No labelled evaluation data.</p>"}
<h2>Summary</h2><pre>{md}</pre>
</body></html>
"""
