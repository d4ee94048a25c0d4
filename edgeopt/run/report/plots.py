"""The run report's own figures: the Pareto front, the chosen artifact's lineage as a graph,
and the release comparison's latency ratios. Names live in legends or on category axes, never
as free text beside markers, so they cannot overlap however close the points are."""

from __future__ import annotations

import math

from edgeopt.bench.report.plots import BASELINE_COLOR, base_layout, esc, latency_axis
from edgeopt.core import fmt
from edgeopt.run.report.context import quality_of


def _verdict(row: dict) -> str:
    v = row.get("verdict") or {}
    if v.get("passed"):
        return "meets every budget"
    if v.get("error"):
        return f"error: {v['error']}"
    return "fails " + ", ".join(d["budget"] for d in v.get("failed", []))


def candidate_hover(row: dict) -> str:
    m = row["metrics"]
    q, qname = quality_of(m)
    lines = [
        f"<b>{esc(row['name'])}</b> ({esc(row.get('file') or '-')})",
        f"p50 {fmt.latency_ci(m.get('p50_ms'), m.get('ci_p50'))}",
        f"vs baseline {fmt.ratio(m.get('ratio'), m.get('ratio_ci'))}",
        f"{qname} {fmt.percent(q) if q is not None and qname != 'mean cosine to the reference' else fmt.number(q)}",
    ]
    if m.get("top1_drop") is not None:
        lines.append(f"drop {fmt.points(100.0 * m['top1_drop'])}")
    lines += [f"size {fmt.size(m.get('size_bytes'))}", esc(_verdict(row))]
    return "<br>".join(lines)


def pareto(rows: list[dict], chosen: str | None, colors: dict[str, str], baseline: dict | None):
    """Quality against p50 latency, one legend entry per candidate (marker area ~ size on
    disk, bars: 95% CI of the median), the front as a dashed line, the chosen one a star."""
    import plotly.graph_objects as go

    pts = [
        r
        for r in rows
        if (r.get("metrics") or {}).get("p50_ms") and quality_of(r["metrics"])[0] is not None
    ]
    if not pts:
        return None
    qname = quality_of(pts[0]["metrics"])[1]
    as_pct = qname != "mean cosine to the reference"
    scale = 100.0 if as_pct else 1.0
    biggest = max((r["metrics"].get("size_bytes") or 1) for r in pts)
    fig = go.Figure()
    front = sorted((r for r in pts if r.get("pareto")), key=lambda r: r["metrics"]["p50_ms"])
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[r["metrics"]["p50_ms"] for r in front],
                y=[scale * quality_of(r["metrics"])[0] for r in front],
                mode="lines",
                line={"color": "#999", "dash": "dash", "width": 1.5},
                name="Pareto front",
                hoverinfo="skip",
            )
        )
    for r in pts:
        m = r["metrics"]
        ci = m.get("ci_p50") or [m["p50_ms"], m["p50_ms"]]
        is_chosen = r["name"] == chosen
        fig.add_trace(
            go.Scatter(
                x=[m["p50_ms"]],
                y=[scale * quality_of(m)[0]],
                mode="markers",
                name=esc(r["name"]) + (" (chosen)" if is_chosen else ""),
                marker={
                    "color": colors.get(r["name"]),
                    "size": 12 + 22 * math.sqrt((m.get("size_bytes") or 1) / biggest),
                    "symbol": "star" if is_chosen else "circle",
                    "opacity": 0.85,
                    "line": {"color": "black", "width": 2 if is_chosen else 0.5},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [max(ci[1] - m["p50_ms"], 0.0)],
                    "arrayminus": [max(m["p50_ms"] - ci[0], 0.0)],
                    "color": colors.get(r["name"]),
                    "thickness": 1.5,
                },
                hovertext=[candidate_hover(r)],
                hoverinfo="text",
            )
        )
    xs = [r["metrics"]["p50_ms"] for r in pts]
    if baseline and (baseline.get("latency") or {}).get("p50"):
        acc = baseline.get("accuracy") or {}
        bq = acc.get("top1") if as_pct else None
        if bq is not None or not as_pct:
            bq = bq if bq is not None else 1.0
            xs.append(baseline["latency"]["p50"])
            fig.add_trace(
                go.Scatter(
                    x=[baseline["latency"]["p50"]],
                    y=[scale * bq],
                    mode="markers",
                    name="baseline (plain export)",
                    marker={"color": BASELINE_COLOR, "size": 12, "symbol": "x"},
                    hovertext=[
                        f"<b>baseline</b> {esc(baseline['name'])}<br>p50 "
                        f"{fmt.latency_ci(baseline['latency']['p50'], baseline['latency'].get('ci_p50'))}"
                        + (f"<br>top-1 {fmt.percent(bq)}" if as_pct else "")
                    ],
                    hoverinfo="text",
                )
            )
    base_layout(fig, height=460)
    latency_axis(fig, xs, "p50 latency per inference, lower is better")
    fig.update_yaxes(title=qname + (", %" if as_pct else ""), ticksuffix="%" if as_pct else "")
    return fig


def lineage_steps(chain: list[dict]) -> list[dict]:
    """Source first: one entry per step with a title, a file line and parameters as text."""
    out = []
    for c in reversed(chain):
        if "source" in c:
            out.append({"title": "source", "file": c["source"], "detail": "", "params": {}})
        elif "note" in c:
            out.append(
                {"title": "unknown", "file": c.get("file", "?"), "detail": c["note"], "params": {}}
            )
        else:
            params = {
                k: v for k, v in (c.get("params") or {}).items() if v not in (None, [], {}, "")
            }
            out.append(
                {
                    "title": c.get("step") or "?",
                    "file": c.get("file") or "?",
                    "detail": f"{c.get('format')}, {c.get('precision')}",
                    "params": params,
                }
            )
    return out


def lineage(chain: list[dict], tools: dict | None = None):
    """The chain from the source model to the chosen artifact, top to bottom, as a graph: one
    node per step, its file beside it, parameters (and tool versions) on hover."""
    import plotly.graph_objects as go

    steps = lineage_steps(chain)
    if not steps:
        return None
    n = len(steps)
    ys = list(range(n, 0, -1))
    texts, hovers = [], []
    for i, s in enumerate(steps):
        detail = f" ({esc(s['detail'])})" if s["detail"] else ""
        texts.append(f"<b>{esc(s['title'])}</b>  {esc(s['file'])}{detail}")
        hover = [f"<b>{esc(s['title'])}</b>"] + [
            f"{esc(k)} = {esc(fmt.value(v))}" for k, v in s["params"].items()
        ]
        if i == n - 1 and tools:
            hover.append("tools: " + esc(", ".join(f"{k} {v}" for k, v in tools.items() if v)))
        hovers.append("<br>".join(hover))
    fig = go.Figure(
        go.Scatter(
            x=[0] * n,
            y=ys,
            mode="markers+text",
            text=texts,
            textposition="middle right",
            marker={
                "size": 18,
                "color": ["#9e9e9e"] + ["#1f77b4"] * (n - 2) + ["#2ca02c"]
                if n > 1
                else ["#2ca02c"],
                "line": {"color": "black", "width": 1},
            },
            hovertext=hovers,
            hoverinfo="text",
            showlegend=False,
            cliponaxis=False,
        )
    )
    for y in ys[:-1]:
        fig.add_annotation(
            x=0,
            y=y - 1 + 0.22,
            ax=0,
            ay=y - 0.22,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowsize=1.2,
            arrowwidth=1.5,
            arrowcolor="#555",
            text="",
        )
    base_layout(fig, height=60 + 64 * n)
    fig.update_xaxes(visible=False, range=[-0.04, 1])
    fig.update_yaxes(visible=False, range=[0.5, n + 0.5])
    return fig


def ratio_forest(items: list[dict], threshold: float):
    """Comparison: latency of each candidate in the new run relative to the old one (ratio and
    95% CI), a line at 1 and at the slowdown threshold; flagged ones in red."""
    import plotly.graph_objects as go

    items = [i for i in items if i.get("ratio") is not None and math.isfinite(i["ratio"])]
    if not items:
        return None
    fig = go.Figure()
    for it in items:
        lo, hi = it.get("ci") or (it["ratio"], it["ratio"])
        hi = hi if math.isfinite(hi) else it["ratio"] * 4
        color = "#b3261e" if it.get("flag") else ("#1b7f2a" if hi < 1 else "#555")
        fig.add_trace(
            go.Scatter(
                x=[it["ratio"]],
                y=[esc(it["label"])],
                mode="markers",
                marker={"size": 11, "color": color, "symbol": "diamond"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [max(hi - it["ratio"], 0)],
                    "arrayminus": [max(it["ratio"] - lo, 0)],
                    "color": color,
                    "thickness": 2,
                },
                hovertext=[
                    f"<b>{esc(it['label'])}</b><br>new/old p50 {fmt.ratio(it['ratio'], it.get('ci'))}<br>{esc(it.get('verdict', ''))}"
                ],
                hoverinfo="text",
                showlegend=False,
            )
        )
    fig.add_vline(x=1.0, line={"color": "#888", "width": 1})
    fig.add_vline(x=threshold, line={"color": "#b3261e", "width": 1, "dash": "dot"})
    base_layout(fig, height=90 + 42 * len(items))
    fig.update_xaxes(
        title=f"p50 latency, new run / old run (dotted: slowdown flagged above {fmt.ratio(threshold)})",
        type="log",
    )
    fig.update_yaxes(autorange="reversed")
    return fig
