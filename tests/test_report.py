"""Reports people read: numbers formatted once (core.fmt), the run page's figures equal to
run.json, `optimize report` re-rendering a run and comparing two runs, escaping, --quiet."""

from __future__ import annotations

import json
import math
import random

import pytest

from edgeopt.core import fmt

from .conftest import run_cli
from .report_helpers import (
    assert_cells_match_run,
    copy_run,
    page_cells,
    significant_digits,
    slow_down,
    tiny_run,
    too_precise,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("report"))


def test_formats_read_as_the_issue_asks():
    assert fmt.ratio(0.5, [0.47, 0.52]) == "0.50x [0.47, 0.52]"
    assert fmt.latency_ms(0.062573) == "62.6 us"
    assert fmt.latency_ms(1.23456) == "1.23 ms"
    assert fmt.latency_ms(2345.6) == "2.35 s"
    assert fmt.latency_ci(0.062573, [0.060229, 0.065467]) == "62.6 us [60.2, 65.5]"
    assert fmt.percent(0.9911111111111112) == "99.1%"
    assert fmt.points(0.4444444444444362) == "0.444 pts"
    assert fmt.points(-0.25, signed=True) == "-0.25 pts"
    assert fmt.size(249267) == "243 KB" and fmt.size(5 * 1024**2) == "5 MB"
    assert fmt.with_unit(1e-5, "ms") == "1e-05 ms"  # a limit reads in the unit it was written
    assert fmt.value({"a": 0.123456789, "b": [1, 2], "c": None}) == "a=0.1235, b=1, 2"
    assert fmt.sig(None) == fmt.DASH and fmt.sig(math.inf) == "inf"


def test_no_formatter_prints_more_than_four_significant_digits():
    rng = random.Random(0)
    values = [rng.uniform(-1, 1) * 10 ** rng.uniform(-7, 8) for _ in range(3000)]
    values += [9.9996, 0.99996, 99999.5, 1e-5, 123456.7]
    for v in values:
        for text in (
            fmt.number(v),
            fmt.sig(v, 9),
            fmt.latency_ms(abs(v)),
            fmt.ratio(abs(v), [abs(v) / 2, abs(v) * 2]),
            fmt.percent(v),
            fmt.points(v),
            fmt.size(abs(v)),
            fmt.seconds(abs(v)),
        ):
            mantissa = text.split("e")[0]
            for n in mantissa.replace("[", " ").replace("]", " ").split():
                n = n.strip("x%,")
                if any(ch.isdigit() for ch in n) and "." in n:
                    assert significant_digits(n) <= 4, (v, text)


def test_run_page_numbers_match_run_json(tiny):
    proc, run_dir = tiny
    summary = json.loads((run_dir / "run.json").read_text())
    html = (run_dir / "report.html").read_text()
    page = page_cells(html)
    assert assert_cells_match_run(page.cells, summary) == 2
    # self-contained: plotly.js inlined, no CDN or other network reference
    assert "Plotly.newPlot" in html and "plotly.js v" in html[:20000]
    assert "<script src" not in html and "<link" not in html
    for div in ("pareto-cpu", "latency-cpu", "per-class-cpu", "lineage-cpu"):
        assert f'id="{div}"' in html, div
    visible = " ".join(page.text)
    assert "{'" not in visible, "a Python dict repr reached the page"
    assert not too_precise(visible), too_precise(visible)
    for text in (proc.stdout, (run_dir / "summary.md").read_text()):
        assert not too_precise(text), too_precise(text)
    assert "top-1 0.9" not in proc.stdout and "%" in proc.stdout


def test_report_rerenders_from_run_json_and_escapes_user_text(tiny, tmp_path):
    _, run_dir = tiny
    copy = copy_run(run_dir, tmp_path / "moved-run")
    path = copy / "run.json"
    summary = json.loads(path.read_text())
    summary["recipe"]["model"] = "<script>alert('model')</script>"
    path.write_text(json.dumps(summary))
    (copy / "report.html").unlink()
    proc = run_cli("report", copy)
    assert proc.returncode == 0, proc.stderr
    html = (copy / "report.html").read_text()
    assert "<script>alert(" not in html and "&lt;script&gt;alert(" in html
    # rendered from the moved folder: the plots still find the samples and sidecars
    assert 'id="latency-cpu"' in html and 'id="lineage-cpu"' in html
    out = tmp_path / "views"
    out.mkdir()
    (out / "report.html").write_text("keep me")
    refused = run_cli("report", copy, "-o", out)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert run_cli("report", copy, "-o", out, "--force").returncode == 0
    assert "Plotly.newPlot" in (out / "report.html").read_text()


def test_report_refuses_what_is_not_a_run(tmp_path):
    proc = run_cli("report", tmp_path)
    assert proc.returncode == 2 and "no run.json" in proc.stderr and "fix:" in proc.stderr


def test_compare_flags_a_deliberately_slower_candidate(tiny, tmp_path):
    _, old = tiny
    summary = json.loads((old / "run.json").read_text())
    slow = next(r["name"] for r in summary["targets"]["cpu"]["candidates"])
    new = copy_run(old, tmp_path / "candidate-run")
    slow_down(new, "cpu", slow, 2.0)

    proc = run_cli("report", old, new)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"REGRESSION: cpu: candidate {slow} is slower" in proc.stdout
    flagged = [ln for ln in proc.stdout.splitlines() if ln.startswith("REGRESSION")]
    assert all(slow in ln for ln in flagged), flagged  # the untouched candidate is not flagged
    assert not too_precise(proc.stdout)

    md = run_cli("report", old, new, "--markdown").stdout
    row = next(ln for ln in md.splitlines() if ln.startswith(f"| {slow} |"))
    assert "**SLOWER**" in row and "2.00x" in row
    assert not too_precise(md)
    page = (new / f"compare-{old.name}.html").read_text()
    cells = page_cells(page).cells
    assert cells[("cpu", slow)]["verdict"] == "SLOWER"
    assert 'id="ratios-cpu"' in page

    same = run_cli("report", old, copy_run(old, tmp_path / "same-run"))
    assert same.returncode == 0 and "no regression flagged" in same.stdout


def test_compare_refuses_runs_of_different_recipes(tiny, tmp_path):
    _, old = tiny
    other = copy_run(old, tmp_path / "other")
    summary = json.loads((other / "run.json").read_text())
    summary["recipe"]["name"] = "something-else"
    (other / "run.json").write_text(json.dumps(summary))
    proc = run_cli("report", old, other)
    assert proc.returncode == 2 and "different recipes" in proc.stderr


def test_quiet_prints_no_progress(tiny):
    _, run_dir = tiny
    recipe = run_dir.parent.parent / "recipe.toml"
    env = {"EDGEOPT_CACHE": str(run_dir.parent.parent / "cache")}
    proc = run_cli("--quiet", "run", recipe, "-o", run_dir.parent, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "[edgeopt]" not in proc.stderr and "p50" in proc.stdout
    loud = run_cli("run", recipe, "-o", run_dir.parent, env={**env, "CI": "true"})
    assert "[edgeopt] cpu: build 2 candidate(s): done (2/2" in loud.stderr, loud.stderr
    assert "\x1b[" not in loud.stderr  # plain lines, no live redraws under CI
