"""Markdown summary: for a pull-request comment or $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from edgeopt.bench.gate import describe_decision, fmt_value
from edgeopt.bench.report.text import COLUMNS, cell, rows
from edgeopt.core import fmt


def _load(load) -> str:
    """The 1-minute load average of a (1, 5, 15) triple."""
    return fmt.number(load[0]) if load else "-"


def render_markdown(results: dict) -> str:
    lines = []
    g = results.get("gate")
    if g:
        verdict = "PASSED" if g["passed"] else f"FAILED ({g['failed']} budget(s) broken)"
        lines += [f"## edgeopt gate: {verdict}", ""]
    else:
        lines += ["## edgeopt benchmark", ""]
    m = results["machine"]
    s = results["settings"]
    lines.append(
        f"Machine: {m.get('cpu')}, {m.get('usable_cores')} usable core(s), 1-min load "
        f"{_load(m.get('load_start'))} -> {_load(m.get('load_end'))}; batch {s['batch']}, "
        f"threads {s['threads'] or 'runtime default'}; 95% confidence intervals."
    )
    lines.append("")
    if g:
        lines += [
            "| status | artifact | budget | measured | 95% CI | limit | note |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for d in g["decisions"]:
            u = d["unit"]
            ci = (
                "-"
                if not d["ci"] or d["ci"][0] == d["ci"][1]
                else f"{fmt_value(d['ci'][0], u)} .. {fmt_value(d['ci'][1], u)}"
            )
            status = d["status"].upper() + (
                " (inconclusive)" if d["outcome"] == "inconclusive" else ""
            )
            cmp = "<=" if d["direction"] == "max" else ">="
            lines.append(
                f"| {status} | {d['artifact']} | `{d['budget']}` | {fmt_value(d['value'], u)} "
                f"| {ci} | {cmp} {fmt_value(d['limit'], u)} | {d['note']} |"
            )
        lines += [
            "",
            f"Inconclusive budgets count as **{g['on_inconclusive']}** (`--on-inconclusive`).",
        ]
        broken = [d for d in g["decisions"] if d["status"] == "fail"]
        if broken:
            lines += ["", "Broken:"] + [f"- {describe_decision(d)}" for d in broken]
        lines.append("")
    cols = [c for c in COLUMNS if c[0] not in ("p99",)]
    lines.append("| " + " | ".join(h for _, h in cols) + " |")
    lines.append("|" + " --- |" * len(cols))
    for r in rows(results):
        if r["error"]:
            lines.append(
                f"| {r['artifact']} | load failed: {r['error']} |" + " |" * (len(cols) - 2)
            )
        else:
            lines.append("| " + " | ".join(cell(k, r[k]) for k, _ in cols) + " |")
    if results.get("stored_baseline"):
        lines += [
            "",
            f"> Stored baseline {results['stored_baseline']['path']}: "
            f"{results['stored_baseline']['note']}.",
        ]
    if results.get("warnings"):
        lines += ["", "Warnings:"] + [f"- {w}" for w in results["warnings"]]
    return "\n".join(lines) + "\n"
