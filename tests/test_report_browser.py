"""The run report as a new user sees it: loaded by headless Chromium, every plot rendered with
no script error and no two labels overlapping, and the figures in the page equal to run.json.

Chromium is Debian's `chromium` package (`make sysdeps` installs it). When it is missing the
test installs it with apt as root, and otherwise fails saying how: it never skips silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import run_cli
from .report_helpers import assert_cells_match_run, page_cells, tiny_run

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "install it: sudo apt-get update && sudo apt-get install -y chromium (make sysdeps)"

# runs in the page once Plotly has drawn: counts drawn plots, lists pairs of overlapping labels
CHECK = """
<script>
window.addEventListener("load", () => setTimeout(() => {
  const overlaps = [];
  const plots = document.querySelectorAll(".js-plotly-plot");
  plots.forEach((plot) => {
    const boxes = [];
    plot.querySelectorAll("svg.main-svg text").forEach((t) => {
      if (!t.textContent.trim() || t.closest(".hoverlayer")) return;
      const style = getComputedStyle(t);
      if (style.display === "none" || style.visibility === "hidden" || style.opacity === "0") return;
      const r = t.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) boxes.push([t.textContent.trim(), r]);
    });
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 1 && h > 1) overlaps.push(plot.id + ": " + a + " / " + b);
    }
  });
  document.body.setAttribute("data-plots", String(document.querySelectorAll(".js-plotly-plot .main-svg").length ? plots.length : 0));
  document.body.setAttribute("data-overlaps", JSON.stringify(overlaps));
}, 1500));
</script>
"""


def chromium() -> str:
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],
            check=False,
            env=env,
            capture_output=True,
        )
        if shutil.which("chromium"):
            return shutil.which("chromium")
    pytest.fail(f"headless Chromium is needed to check the report: {INSTALL_HINT}")


def load_in_browser(page: Path, tmp_path: Path) -> tuple[str, str, dict]:
    """(DOM after scripts ran, console log, body attributes set by CHECK)."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    proc = subprocess.run(
        [
            chromium(),
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,3000",
            "--virtual-time-budget=20000",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    start = dom.index("<body")
    tag = dom[start : dom.index(">", start)]
    attrs = {}
    for key in ("data-plots", "data-overlaps"):
        marker = f'{key}="'
        assert marker in tag, f"the page's check never ran: {proc.stderr[-2000:]}"
        raw = tag.split(marker, 1)[1].split('"', 1)[0]
        attrs[key] = raw.replace("&quot;", '"').replace("&amp;", "&")
    return dom, proc.stderr, attrs


def check_report(run_dir: Path, tmp_path: Path, plots_per_target: int) -> None:
    summary = json.loads((run_dir / "run.json").read_text())
    dom, log, attrs = load_in_browser(run_dir / "report.html", tmp_path)
    console = [ln for ln in log.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not [ln for ln in console if "Uncaught" in ln or "Error" in ln], console
    assert int(attrs["data-plots"]) == plots_per_target * len(summary["targets"]), attrs
    assert json.loads(attrs["data-overlaps"]) == [], attrs["data-overlaps"]
    assert assert_cells_match_run(page_cells(dom).cells, summary) > 0
    assert dom.count('class="main-svg"') >= plots_per_target  # plotly drew SVG in the page


def test_tiny_run_report_in_chromium(tmp_path):
    _, run_dir = tiny_run(tmp_path / "run")
    check_report(run_dir, tmp_path, plots_per_target=4)


@pytest.mark.slow
def test_demo_report_in_chromium(tmp_path):
    """The demo (`optimize run` with no recipe, about 1-2 minutes): two targets, 12 candidates."""
    proc = run_cli("run", "-o", tmp_path / "runs", cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = next((tmp_path / "runs").iterdir())
    check_report(run_dir, tmp_path, plots_per_target=4)
