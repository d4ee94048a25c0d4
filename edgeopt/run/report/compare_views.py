"""Views of a comparison (compare.py): an HTML page, Markdown for a pull-request comment, and
terminal lines. Every figure goes through core.fmt, so the three read the same."""

from __future__ import annotations

from edgeopt.bench.report.templating import figure_html, render
from edgeopt.core import fmt
from edgeopt.run.report import plots
from edgeopt.run.report.markdown import md_cell

PACKAGES = ("edgeopt.run.report",)


def pair_cells(p: dict) -> dict:
    """One old/new pair as people read it."""
    mo, mn = p["old"]["metrics"], p["new"]["metrics"]
    dec = p["latency"]["decisive"]
    direct = p["latency"]["direct"]
    return {
        "old_name": p["old"]["name"],
        "new_name": p["new"]["name"],
        "old_file": p["old"].get("file") or "-",
        "new_file": p["new"].get("file") or "-",
        "old_p50": fmt.latency_ci(mo.get("p50_ms"), mo.get("ci_p50")),
        "new_p50": fmt.latency_ci(mn.get("p50_ms"), mn.get("ci_p50")),
        "ratio": fmt.ratio(dec["ratio"], dec["ci"]),
        "direct": fmt.ratio(direct["ratio"], direct["ci"]),
        "method": dec["method"],
        "old_top1": fmt.percent(mo.get("top1")),
        "new_top1": fmt.percent(mn.get("top1")),
        "acc": fmt.points(p["accuracy_points"], signed=True),
        "old_size": fmt.size(p["size_old"]),
        "new_size": fmt.size(p["size_new"]),
        "size": fmt.signed_percent_change(p["size_new"], p["size_old"]),
        "old_precision": p["old"].get("precision") or "-",
        "new_precision": p["new"].get("precision") or "-",
        "verdict": p["verdict"],
        "flagged": bool(p["flags"]),
    }


def _change_rows(lineage: dict | None) -> list[dict]:
    if not lineage:
        return []
    rows = [
        {"what": "tool", "key": c["key"], "old": fmt.value(c["old"]), "new": fmt.value(c["new"])}
        for c in lineage["tools"]
    ]
    for s in lineage["steps"]:
        rows += [
            {
                "what": f"step {s['step']}",
                "key": c["key"],
                "old": fmt.value(c["old"]),
                "new": fmt.value(c["new"]),
            }
            for c in s["changes"]
        ]
    return rows


def render_compare_html(cmp: dict) -> str:
    targets = []
    for t in cmp["targets"]:
        if t.get("missing"):
            targets.append(t)
            continue
        items = [
            {
                "label": p["new"]["name"],
                "ratio": p["latency"]["decisive"]["ratio"],
                "ci": p["latency"]["decisive"]["ci"],
                "flag": bool(p["flags"]),
                "verdict": p["verdict"],
            }
            for p in t["common"]
        ]
        fig = plots.ratio_forest(items, cmp["slowdown"])
        targets.append(
            {
                **t,
                "chosen_cells": pair_cells(t["chosen"]) if t["chosen"] else None,
                "rows": [pair_cells(p) for p in t["common"]],
                "forest": figure_html(fig, f"ratios-{t['name']}") if fig is not None else None,
                "changes": _change_rows(t["lineage"]),
            }
        )
    return render(
        "compare.html.j2", PACKAGES, cmp=cmp, targets=targets, slowdown=fmt.ratio(cmp["slowdown"])
    )


def render_compare_markdown(cmp: dict) -> str:
    verdict = (
        "no regression" if cmp["passed"] else f"{len(cmp['regressions'])} regression(s) flagged"
    )
    lines = [
        f"## edgeopt: {md_cell(cmp['recipe'])}, new run against old: {verdict}",
        "",
        f"Old `{md_cell(cmp['old']['dir'])}`, new `{md_cell(cmp['new']['dir'])}`. Latency ratios are "
        f"new/old p50 with 95% CIs; flagged slower when the whole interval lies above "
        f"{fmt.ratio(cmp['slowdown'])}, less accurate below {fmt.points(-cmp['max_drop_points'])}.",
        "",
    ]
    if cmp["regressions"]:
        lines += [f"- :x: {md_cell(r)}" for r in cmp["regressions"]] + [""]
    for t in cmp["targets"]:
        if t.get("missing"):
            lines += [
                f"### {t['name']}: only in the {'new' if t['missing'] == 'old' else 'old'} run",
                "",
            ]
            continue
        lines += [f"### {t['name']}", ""]
        if t["chosen"]:
            c = pair_cells(t["chosen"])
            lines += [
                "| chosen | old | new | change |",
                "| --- | --- | --- | --- |",
                f"| candidate | {md_cell(c['old_name'])} | {md_cell(c['new_name'])} | |",
                f"| p50 [95% CI] | {c['old_p50']} | {c['new_p50']} | {c['ratio']} |",
                f"| top-1 | {c['old_top1']} | {c['new_top1']} | {c['acc']} |",
                f"| size | {c['old_size']} | {c['new_size']} | {c['size']} |",
                f"| verdict | | | **{c['verdict']}** |",
                "",
            ]
        else:
            lines += [f"Nothing chosen: old: {t['reason_old']}; new: {t['reason_new']}", ""]
        rows = [pair_cells(p) for p in t["common"]]
        if rows:
            lines += [
                "| candidate | old p50 | new p50 | new/old [95% CI] | top-1 change | size change | verdict |",
                "| --- | --- | --- | --- | --- | --- | --- |",
            ]
            for c in rows:
                v = f"**{c['verdict']}**" if c["flagged"] else c["verdict"]
                lines.append(
                    f"| {md_cell(c['new_name'])} | {c['old_p50']} | {c['new_p50']} | {c['ratio']} "
                    f"| {c['acc']} | {c['size']} | {v} |"
                )
            lines.append("")
        changes = _change_rows(t["lineage"])
        if changes:
            lines += ["Lineage changes of the chosen artifact:", ""]
            lines += [
                f"- {md_cell(r['what'])} `{md_cell(r['key'])}`: {md_cell(r['old'])} -> {md_cell(r['new'])}"
                for r in changes
            ]
            lines.append("")
    return "\n".join(lines) + "\n"


def render_compare_text(cmp: dict) -> str:
    """A few terminal lines: per target the chosen pair, then every flag."""
    lines = []
    for t in cmp["targets"]:
        if t.get("missing"):
            lines.append(
                f"{t['name']}: only in the {'new' if t['missing'] == 'old' else 'old'} run"
            )
            continue
        if not t["chosen"]:
            lines.append(f"{t['name']}: nothing to compare (a run chose nothing)")
            continue
        c = pair_cells(t["chosen"])
        lines.append(
            f"{t['name']}: {c['old_name']} -> {c['new_name']}: p50 {c['old_p50']} -> {c['new_p50']}, "
            f"new/old {c['ratio']}; top-1 {c['acc']}; size {c['size']} ({c['verdict']})"
        )
    lines += [f"REGRESSION: {r}" for r in cmp["regressions"]]
    if cmp["passed"]:
        lines.append("no regression flagged")
    return "\n".join(lines)
