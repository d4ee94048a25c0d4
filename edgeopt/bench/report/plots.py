"""Plotly figures shared by the bench and run reports: latency distributions, accuracy against
latency, accuracy per class. Labels never sit on the plot area where they could collide: names
go on a category axis or in the legend, and figures go in the hover text."""

from __future__ import annotations

import html
import math

import numpy as np

from edgeopt.core import fmt

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]
BASELINE_COLOR = "#555555"
FONT = {"family": "Helvetica, Arial, sans-serif", "size": 13}


def colors(names: list[str]) -> dict[str, str]:
    """One color per name, stable across the plots of a page."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def esc(text) -> str:
    """Hover and legend text is HTML-like in Plotly: user strings are escaped."""
    return html.escape(str(text))


def base_layout(fig, title: str | None = None, height: int = 420, **extra) -> None:
    fig.update_layout(
        template="plotly_white",
        font=FONT,
        height=height,
        margin={"l": 10, "r": 10, "t": 60 if title else 36, "b": 10},  # the tool bar sits above
        title={"text": title, "x": 0} if title else None,
        hoverlabel={"align": "left"},
        **extra,
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)


def log_axis(values: list[float]) -> bool:
    """A log axis when the figures span more than a decade, so small ones are not squashed."""
    vals = [v for v in values if v and v > 0]
    return bool(vals) and max(vals) / min(vals) > 10


def latency_axis(fig, values: list[float], title: str, axis: str = "x") -> None:
    """A latency axis in ms: log when the values span a decade, with 1-2-5 ticks labelled in
    readable units (`50 us`, `0.2 ms` would read `200 us`) instead of Plotly's minor digits."""
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    vals = [v for v in values if v and v > 0]
    if not log_axis(vals):
        update(title=f"{title}, ms")
        return
    lo, hi = min(vals), max(vals)
    ticks = [
        m * 10.0**k
        for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
        if lo / 1.5 <= m * 10.0**k <= hi * 1.5
    ]
    update(
        title=f"{title} (log scale)",
        type="log",
        tickvals=ticks,
        ticktext=[fmt.latency_ms(t) for t in ticks],
    )


def latency_box(entries: list[dict]):
    """Horizontal boxes per artifact from its samples: whiskers p1-p99, box p25-p75, line p50,
    and the 95% CI of the median as a black bar. `entries`: label, samples_ms, ci_p50, color."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ends = []
    for e in entries:
        q = np.percentile(np.asarray(e["samples_ms"], dtype=float), [1, 25, 50, 75, 99])
        ends += [float(q[0]), float(q[-1])]
        ci = e.get("ci_p50")
        if not ci or any(c is None for c in ci):  # too few samples for an interval
            ci = [q[2], q[2]]
        label = esc(e["label"])
        fig.add_trace(
            go.Box(
                y=[label],
                q1=[q[1]],
                median=[q[2]],
                q3=[q[3]],
                lowerfence=[q[0]],
                upperfence=[q[4]],
                orientation="h",
                name=label,
                marker_color=e.get("color") or BASELINE_COLOR,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        hover = (
            f"<b>{label}</b><br>p50 {fmt.latency_ci(q[2], ci)} (95% CI)<br>"
            f"p25-p75 {fmt.latency_ms(q[1])} - {fmt.latency_ms(q[3])}<br>"
            f"p1-p99 {fmt.latency_ms(q[0])} - {fmt.latency_ms(q[4])}<br>"
            f"{fmt.count(len(e['samples_ms']))} samples"
        )
        fig.add_trace(
            go.Scatter(
                x=[float(q[2])],
                y=[label],
                mode="markers",
                marker={"color": "black", "size": 7, "symbol": "line-ns-open"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [float(ci[1] - q[2])],
                    "arrayminus": [float(q[2] - ci[0])],
                    "color": "black",
                    "thickness": 2.5,
                    "width": 6,
                },
                showlegend=False,
                hovertext=[hover],
                hoverinfo="text",
            )
        )
    base_layout(fig, height=110 + 46 * len(entries))
    latency_axis(fig, ends, "latency per inference")
    fig.update_yaxes(autorange="reversed")
    return fig


def per_class(classes: list[str], series: list[dict]):
    """Grouped bars of accuracy per class (in %): `series` items name, values (fractions),
    color. Used for the chosen candidate against the baseline."""
    import plotly.graph_objects as go

    fig = go.Figure()
    lows = []
    for s in series:
        ys = [None if v is None else 100.0 * v for v in s["values"]]
        lows += [y for y in ys if y is not None]
        fig.add_trace(
            go.Bar(
                x=[esc(c) for c in classes],
                y=ys,
                name=esc(s["name"]),
                marker_color=s.get("color"),
                hovertext=[
                    f"{esc(s['name'])}<br>class {esc(c)}: {fmt.percent(v)}"
                    for c, v in zip(classes, s["values"])
                ],
                hoverinfo="text",
            )
        )
    floor = max(0.0, (min(lows) if lows else 0.0) - 2.0)
    base_layout(
        fig,
        height=360,
        barmode="group",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    fig.update_yaxes(title="top-1 accuracy, %", range=[floor, 100.5], ticksuffix="%")
    fig.update_xaxes(title="class", type="category")
    return fig


def accuracy_latency(points: list[dict]):
    """Top-1 accuracy against p50 latency, one legend entry per artifact (bench report)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for p in points:
        label = esc(p["label"])
        fig.add_trace(
            go.Scatter(
                x=[p["p50_ms"]],
                y=[100.0 * p["top1"]],
                mode="markers",
                name=label,
                marker={"size": 12, "color": p.get("color")},
                hovertext=[
                    f"<b>{label}</b><br>p50 {fmt.latency_ms(p['p50_ms'])}<br>"
                    f"top-1 {fmt.percent(p['top1'])}"
                ],
                hoverinfo="text",
            )
        )
    base_layout(fig, height=380, legend={"title": {"text": "artifact"}})
    latency_axis(fig, [p["p50_ms"] for p in points], "p50 latency, lower is better")
    fig.update_yaxes(title="top-1 accuracy, %", ticksuffix="%")
    return fig
