"""The run's own views: one HTML page (Pareto plot, latency distributions, lineage, verdicts)
and a Markdown summary for CI."""

from __future__ import annotations

import html
import json
from pathlib import Path

from edgeopt.core.files import atomic_write_text

COLORS = [
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


def _esc(x) -> str:
    return html.escape(str(x))


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def pareto_svg(rows: list[dict], chosen: str | None, w: int = 640, h: int = 360) -> str:
    """Quality (top-1 or agreement) against p50 latency; marker area ~ size; front joined."""
    pts = [r for r in rows if r["metrics"].get("p50_ms") and _quality(r) is not None]
    if not pts:
        return "<p>No candidate was measured.</p>"
    xs = [r["metrics"]["p50_ms"] for r in pts]
    ys = [_quality(r) for r in pts]
    sizes = [r["metrics"].get("size_bytes") or 1 for r in pts]
    x0, x1 = 0.0, max(xs) * 1.15
    y0, y1 = min(ys) - 0.01, min(1.0, max(ys) + 0.005) + 0.002
    ml, mr, mt, mb = 60, 20, 20, 45

    def sx(x):
        return ml + (x - x0) / (x1 - x0) * (w - ml - mr)

    def sy(y):
        return h - mb - (y - y0) / (y1 - y0 or 1) * (h - mt - mb)

    smax = max(sizes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        f'aria-label="Pareto plot">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>',
        f'<line x1="{ml}" y1="{h - mb}" x2="{w - mr}" y2="{h - mb}" stroke="#333"/>',
        f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{h - mb}" stroke="#333"/>',
    ]
    for k in range(5):
        xv = x0 + (x1 - x0) * k / 4
        yv = y0 + (y1 - y0) * k / 4
        parts.append(
            f'<text x="{sx(xv):.1f}" y="{h - mb + 16}" font-size="11" '
            f'text-anchor="middle">{xv:.3g}</text>'
        )
        parts.append(
            f'<text x="{ml - 6}" y="{sy(yv) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{yv:.3f}</text>'
        )
    parts.append(
        f'<text x="{(ml + w - mr) / 2}" y="{h - 8}" font-size="12" '
        f'text-anchor="middle">p50 latency (ms), lower is better</text>'
    )
    parts.append(
        f'<text x="14" y="{(mt + h - mb) / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {(mt + h - mb) / 2})">top-1 accuracy</text>'
    )
    front = sorted((r for r in pts if r.get("pareto")), key=lambda r: r["metrics"]["p50_ms"])
    if len(front) > 1:
        path = " ".join(f"{sx(r['metrics']['p50_ms']):.1f},{sy(_quality(r)):.1f}" for r in front)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="#999" stroke-dasharray="4 3"/>'
        )
    for i, r in enumerate(pts):
        m = r["metrics"]
        rad = 4 + 10 * (sizes[i] / smax) ** 0.5
        color = COLORS[i % len(COLORS)]
        stroke = ' stroke="black" stroke-width="3"' if r["name"] == chosen else ""
        parts.append(
            f'<circle cx="{sx(m["p50_ms"]):.1f}" cy="{sy(_quality(r)):.1f}" r="{rad:.1f}" '
            f'fill="{color}" fill-opacity="0.75"{stroke}><title>{_esc(r["name"])}: '
            f"{m['p50_ms']:.4g} ms, {_quality(r):.4f}, {m.get('size_bytes')} bytes"
            f"</title></circle>"
        )
        parts.append(
            f'<text x="{sx(m["p50_ms"]) + rad + 3:.1f}" y="{sy(_quality(r)) + 4:.1f}" '
            f'font-size="10">{_esc(r["name"])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _quality(r: dict):
    m = r["metrics"]
    return m.get("top1") if m.get("top1") is not None else m.get("agreement")


def _table(rows: list[dict], chosen: str | None) -> str:
    head = (
        "<tr><th>candidate</th><th>precision</th><th>p50 ms [95% CI]</th><th>ratio to "
        "baseline [95% CI]</th><th>top-1</th><th>drop</th><th>size bytes</th><th>peak MB</th>"
        "<th>Pareto</th><th>budgets</th></tr>"
    )
    body = []
    for r in rows:
        m, v = r["metrics"], r["verdict"]
        ci = m.get("ci_p50") or [None, None]
        rci = m.get("ratio_ci") or [None, None]
        status = (
            "PASS"
            if v["passed"]
            else (
                "ERROR: " + v["error"]
                if v.get("error")
                else "FAIL: " + ", ".join(d["budget"] for d in v["failed"])
            )
        )
        cls = ' class="chosen"' if r["name"] == chosen else ""
        body.append(
            f"<tr{cls}><td>{_esc(r['name'])}</td><td>{_esc(r.get('precision') or '-')}</td>"
            f"<td>{_fmt(m.get('p50_ms'))} [{_fmt(ci[0])}, {_fmt(ci[1])}]</td>"
            f"<td>{_fmt(m.get('ratio'))} [{_fmt(rci[0])}, {_fmt(rci[1])}]</td>"
            f"<td>{_fmt(m.get('top1'))}</td><td>{_fmt(m.get('top1_drop'))}</td>"
            f"<td>{_fmt(m.get('size_bytes'))}</td><td>{_fmt(m.get('peak_mb'))}</td>"
            f"<td>{'yes' if r.get('pareto') else ''}</td><td>{_esc(status)}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _lineage(chain: list[dict]) -> str:
    items = []
    for c in reversed(chain):
        if "source" in c:
            items.append(f"<li>source <code>{_esc(c['source'])}</code></li>")
        else:
            params = ", ".join(
                f"{k}={v}" for k, v in (c.get("params") or {}).items() if v not in (None, [], {})
            )
            items.append(
                f"<li><b>{_esc(c.get('step'))}</b> &rarr; <code>{_esc(c.get('file'))}"
                f"</code> ({_esc(c.get('format'))}, {_esc(c.get('precision'))})"
                f"<br><small>{_esc(params)}</small></li>"
            )
    return "<ol>" + "".join(items) + "</ol>"


def _verdicts(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        for d in r["verdict"].get("decisions", []):
            ci = d.get("ci") or [None, None]
            lines.append(
                f"<tr><td>{_esc(r['name'])}</td><td>{_esc(d['budget'])}</td>"
                f"<td>{_fmt(d.get('value'))} [{_fmt(ci[0])}, {_fmt(ci[1])}]</td>"
                f"<td>{_fmt(d['limit'])}</td><td>{_esc(d['status'].upper())}"
                f"{' (inconclusive)' if d['outcome'] == 'inconclusive' else ''}</td></tr>"
            )
    if not lines:
        return "<p>No budgets were set.</p>"
    return (
        "<table><tr><th>candidate</th><th>budget</th><th>measured [95% CI]</th><th>limit</th>"
        "<th>verdict</th></tr>" + "".join(lines) + "</table>"
    )


def render_run_html(summary: dict) -> str:
    from edgeopt.bench.report.html import _distribution_svg

    sections = []
    for target, t in summary["targets"].items():
        chosen = t.get("chosen")
        rows = t.get("candidates", [])
        dist = ""
        rep = (t.get("report") or {}).get("json")
        if rep and Path(rep).exists():
            dist = _distribution_svg(json.loads(Path(rep).read_text()))
        warn = "".join(f"<li>{_esc(w)}</li>" for w in t.get("warnings", []))
        sections.append(
            f"<h2>Target {_esc(target)}</h2>"
            f"<p class='verdict'>Chosen: <b>{_esc(chosen or 'none')}</b> &mdash; {_esc(t['reason'])}</p>"
            f"<h3>Pareto front: accuracy against latency (marker area ~ size on disk)</h3>"
            f"{pareto_svg(rows, chosen)}"
            f"<h3>All candidates</h3>{_table(rows, chosen)}"
            f"<h3>Latency distributions (interleaved, same run)</h3>{dist}"
            f"<h3>Lineage of the chosen artifact</h3>{_lineage(t.get('chosen_lineage') or [])}"
            f"<h3>Gate verdicts</h3>{_verdicts(rows)}"
            + (f"<h3>Warnings</h3><ul>{warn}</ul>" if warn else "")
        )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}"
        "tr.chosen{background:#e8f5e9;font-weight:bold}.verdict{font-size:16px}"
    )
    head = (
        f"<h1>edgeopt run: {_esc(summary['recipe']['name'])}</h1>"
        f"<p>Model <code>{_esc(summary['recipe']['model'])}</code>; data "
        f"{_esc(summary['recipe']['data'])}; cache {summary['cache_stats']['hits']} hit(s), "
        f"{summary['cache_stats']['misses']} built; total {summary['timings_s']['total']} s.</p>"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>edgeopt run</title>"
        f"<style>{style}</style></head><body>{head}{''.join(sections)}</body></html>"
    )


def render_run_markdown(summary: dict) -> str:
    lines = [f"# edgeopt run: {summary['recipe']['name']}", ""]
    for target, t in summary["targets"].items():
        lines += [
            f"## {target}: {'chose `' + t['chosen'] + '`' if t['chosen'] else 'nothing chosen'}",
            "",
            t["reason"],
            "",
            "| candidate | p50 ms | ratio | top-1 | size bytes | Pareto | budgets |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in t.get("candidates", []):
            m, v = r["metrics"], r["verdict"]
            status = (
                "pass"
                if v["passed"]
                else "FAIL " + ", ".join(d["budget"] for d in v["failed"])
                if not v.get("error")
                else "error"
            )
            lines.append(
                f"| {r['name']} | {_fmt(m.get('p50_ms'))} | {_fmt(m.get('ratio'))} | "
                f"{_fmt(m.get('top1'))} | {_fmt(m.get('size_bytes'))} | "
                f"{'yes' if r.get('pareto') else ''} | {status} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def write_run_reports(summary: dict, run_dir: Path) -> dict[str, Path]:
    out = {"html": run_dir / "report.html", "markdown": run_dir / "summary.md"}
    atomic_write_text(out["html"], render_run_html(summary))
    atomic_write_text(out["markdown"], render_run_markdown(summary))
    return out
