"""The run's own views: one HTML page (Pareto front, latency distributions, accuracy per class,
lineage, verdicts), a Markdown summary, and the comparison of two runs of one recipe."""

from __future__ import annotations

from pathlib import Path

from edgeopt.core.files import atomic_write_text
from edgeopt.run.report.context import load_run
from edgeopt.run.report.html import render_run_html
from edgeopt.run.report.markdown import render_run_markdown


def write_run_reports(summary: dict, run_dir: Path) -> dict[str, Path]:
    """report.html and summary.md in `run_dir` (views of run.json, regenerated at will)."""
    run_dir = Path(run_dir)
    out = {"html": run_dir / "report.html", "markdown": run_dir / "summary.md"}
    summary = {**summary, "_dir": str(summary.get("_dir") or run_dir)}
    atomic_write_text(out["html"], render_run_html(summary))
    atomic_write_text(out["markdown"], render_run_markdown(summary))
    return out


__all__ = [
    "load_run",
    "render_run_html",
    "render_run_markdown",
    "write_compare_reports",
    "write_run_reports",
]


def write_compare_reports(cmp: dict, folder: Path, stem: str) -> dict[str, Path]:
    """`<stem>.html` and `<stem>.md` in `folder`: the comparison as a page and for a PR."""
    from edgeopt.run.report.compare_views import render_compare_html, render_compare_markdown

    folder = Path(folder)
    out = {"html": folder / f"{stem}.html", "markdown": folder / f"{stem}.md"}
    atomic_write_text(out["html"], render_compare_html(cmp))
    atomic_write_text(out["markdown"], render_compare_markdown(cmp))
    return out
