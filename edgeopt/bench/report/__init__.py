"""Views of a results dict: terminal table, JSON, Markdown, JUnit XML, HTML with SVG plots."""

from __future__ import annotations

from pathlib import Path

from edgeopt.bench.report.html import render_html
from edgeopt.bench.report.junit import render_junit
from edgeopt.bench.report.markdown import render_markdown
from edgeopt.bench.report.text import render_json, render_table


def write_reports(results: dict, folder: str | Path) -> dict[str, Path]:
    """Write results.json, summary.md, junit.xml and report.html into `folder`."""
    from edgeopt.core.files import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {
        "json": folder / "results.json",
        "markdown": folder / "summary.md",
        "junit": folder / "junit.xml",
        "html": folder / "report.html",
    }
    atomic_write_text(out["json"], render_json(results))
    atomic_write_text(out["markdown"], render_markdown(results))
    atomic_write_text(out["junit"], render_junit(results))
    atomic_write_text(out["html"], render_html(results))
    return out


__all__ = [
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_table",
    "write_reports",
]
