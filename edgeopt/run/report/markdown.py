"""The run's Markdown summary (CI step summaries, pull requests): the same figures as the page."""

from __future__ import annotations

from edgeopt.run.report.html import candidate_cells, verdict_text


def md_cell(text) -> str:
    """A table cell: pipes and newlines would break the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_run_markdown(summary: dict) -> str:
    lines = [f"# edgeopt run: {md_cell(summary['recipe']['name'])}", ""]
    for target, t in summary["targets"].items():
        lines += [
            f"## {target}: {'chose `' + t['chosen'] + '`' if t['chosen'] else 'nothing chosen'}",
            "",
            t["reason"],
            "",
            "| candidate | p50 [95% CI] | vs baseline [95% CI] | top-1 | drop | size | Pareto | budgets |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in t.get("candidates", []):
            c = candidate_cells(r)
            name = f"**{md_cell(r['name'])}**" if r["name"] == t["chosen"] else md_cell(r["name"])
            lines.append(
                f"| {name} | {c['p50']} | {c['ratio']} | {c['top1']} | {c['drop']} | {c['size']} "
                f"| {'yes' if r.get('pareto') else ''} | {md_cell(verdict_text(r)[1])} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"
