"""Jinja2 rendering for every HTML report: one autoescaping environment, the number formatters
of core.fmt as filters, and Plotly figures embedded with their JavaScript inlined once per page
(the page opens offline, from a mail attachment or a CI artifact, with no CDN)."""

from __future__ import annotations

import functools

from edgeopt.core import fmt

FILTERS = {
    "num": fmt.number,
    "sig": fmt.sig,
    "count": fmt.count,
    "ms": fmt.latency_ms,
    "ms_ci": fmt.latency_ci,
    "ratio": fmt.ratio,
    "pct": fmt.percent,
    "pts": fmt.points,
    "size": fmt.size,
    "mb": fmt.megabytes,
    "secs": fmt.seconds,
    "unit": fmt.with_unit,
    "unit_ci": fmt.ci_with_unit,
    "value": fmt.value,
}
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"scale": 2}}


@functools.cache
def environment(*packages: str):
    """An environment reading `templates/` of each package in order (the first wins), so the
    run report can extend the bench report's base page."""
    import jinja2

    loaders = [jinja2.PackageLoader(p, "templates") for p in (*packages, "edgeopt.bench.report")]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,  # every value from a user (model names, paths, recipes) is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


@functools.cache
def plotly_js() -> str:
    """plotly.js itself (about 4.8 MB), inlined once in the page's head."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_html(fig, div_id: str) -> str:
    """A figure as a <div> + <script> (the library is in the head); `div_id` is stable so tests
    and links can find it."""
    from markupsafe import Markup

    html = fig.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG, div_id=div_id)
    return Markup(html)  # noqa: S704 - plotly escapes `<` and `/` inside its JSON


def render(template: str, packages: tuple[str, ...] = (), **context) -> str:
    from markupsafe import Markup

    env = environment(*packages)
    return env.get_template(template).render(plotly_js=Markup(plotly_js()), **context)
