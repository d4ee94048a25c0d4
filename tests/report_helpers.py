"""Shared by the report tests: a tiny real run, reading figures back from the page's text, and
the significant-digit rule every person-facing number must follow."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from .conftest import run_cli

TINY = """
name = "tiny-report"
[model]
source = "{model}"
[bench]
max_time = 0.5
threads = 1
[candidates.cpu]
format = ["onnx"]
precision = ["fp32", "int8"]
[budgets]
accuracy_drop_max_points = 5.0
"""
UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
UNIT_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
DECIMAL = re.compile(r"(?<![\w.])-?\d[\d,]*\.\d+(?![\w.])")


def tiny_run(root: Path, model: str = "builtin:tabular-mlp", cache: Path | None = None):
    """One real `optimize run` of a two-candidate recipe (about 10-20 s): (process, run dir)."""
    root.mkdir(parents=True, exist_ok=True)
    recipe = root / "recipe.toml"
    recipe.write_text(TINY.format(model=model))
    env = {"EDGEOPT_CACHE": str(cache or root / "cache")}
    proc = run_cli("run", recipe, "-o", root / "runs", cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, sorted((root / "runs").iterdir())[-1]


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a run folder (run.json's paths point at the original: the copy must still
    render, since reports resolve files inside the folder they are in)."""
    shutil.copytree(src, dst)
    return dst


def slow_down(run_dir: Path, target: str, candidate: str, factor: float) -> None:
    """Make one candidate `factor` times slower in a copied run: run.json and its samples."""
    path = run_dir / "run.json"
    summary = json.loads(path.read_text())
    row = next(r for r in summary["targets"][target]["candidates"] if r["name"] == candidate)
    m = row["metrics"]
    m["p50_ms"] *= factor
    m["ci_p50"] = [x * factor for x in m["ci_p50"]]
    m["ratio"] *= factor
    m["ratio_ci"] = [x * factor for x in m["ratio_ci"]]
    path.write_text(json.dumps(summary, indent=1))
    res_path = run_dir / "reports" / target / "results.json"
    res = json.loads(res_path.read_text())
    for a in res["artifacts"]:
        if a["name"] == row["file"]:
            a["latency"]["samples_ms"] = [x * factor for x in a["latency"]["samples_ms"]]
    res_path.write_text(json.dumps(res))


def latency_ms(text: str) -> float:
    """`62.6 us [60.2, 65.5]` -> 0.0626 (the value, in ms)."""
    value, unit = text.split("[")[0].split()
    return float(value) * UNIT_MS[unit]


def size_bytes(text: str) -> float:
    value, unit = text.split()
    return float(value) * UNIT_BYTES[unit]


def ratio(text: str) -> float:
    return float(text.split("x")[0])


def percent(text: str) -> float:
    return float(text.rstrip("%")) / 100.0


def significant_digits(number: str) -> int:
    digits = number.lstrip("-").replace(",", "").replace(".", "").lstrip("0")
    return len(digits)


def too_precise(text: str) -> list[str]:
    """Decimal numbers in `text` with more than 4 significant digits (versions and paths are
    not matched: they are not lone decimals)."""
    return [n for n in DECIMAL.findall(text) if significant_digits(n) > 4]


class Cells(HTMLParser):
    """Text of every <td data-field> of every <tr data-candidate> (per table's data-target)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], dict[str, str]] = {}
        self.text: list[str] = []
        self._target = self._cand = self._field = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style", "code"):
            self._skip += 1
        if tag == "table" and "data-target" in a:
            self._target = a["data-target"]
        if tag == "tr" and "data-candidate" in a:
            self._cand = a["data-candidate"]
        if tag == "td" and "data-field" in a and self._cand:
            self._field = a["data-field"]
            self.cells.setdefault((self._target, self._cand), {})[self._field] = ""

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code"):
            self._skip -= 1
        if tag == "td":
            self._field = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._field:
            key = (self._target, self._cand)
            self.cells[key][self._field] += data.strip()


def page_cells(html: str) -> Cells:
    parser = Cells()
    parser.feed(html)
    return parser


def assert_cells_match_run(cells: dict, summary: dict) -> int:
    """Every figure shown for every candidate equals run.json's at the shown precision."""
    checked = 0
    for target, t in summary["targets"].items():
        for r in t["candidates"]:
            m = r["metrics"]
            c = cells[(target, r["name"])]
            assert abs(latency_ms(c["p50"]) - m["p50_ms"]) <= 0.005 * m["p50_ms"], (c, m)
            assert abs(ratio(c["ratio"]) - m["ratio"]) <= 0.005 + 0.005 * m["ratio"], (c, m)
            assert abs(percent(c["top1"]) - m["top1"]) <= 0.0005 + 1e-9, (c, m)
            assert abs(size_bytes(c["size"]) - m["size_bytes"]) <= 0.005 * m["size_bytes"], c
            checked += 1
    return checked
