"""optimize gate: budgets files, CI-based decisions, exit codes, JUnit, the README's CI line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from edgeopt.bench.budgets import parse_budgets
from edgeopt.bench.gate import decide
from edgeopt.errors import UsageError

from .conftest import BIN, REPO, run_cli


def test_decide_uses_whole_interval():
    assert decide("max", 0.9, 1.04, 1.05) == "pass"
    assert decide("max", 1.06, 1.3, 1.05) == "fail"
    assert decide("max", 1.0, 1.1, 1.05) == "inconclusive"
    assert decide("min", 0.96, 0.99, 0.95) == "pass"
    assert decide("min", 0.8, 0.9, 0.95) == "fail"


def test_budgets_parse_targets_and_errors():
    b = parse_budgets("latency_p90_ms = 5\nsize_mb_max = 2\n[targets.arm]\nlatency_p90_ms = 20\n")
    assert b.for_target("arm") == {"latency_p90_ms": 20.0, "size_mb_max": 2.0}
    assert b.for_target("cpu")["latency_p90_ms"] == 5.0
    with pytest.raises(UsageError) as e:
        parse_budgets("latency_p95_ms = 3\n")
    assert "latency_p95_ms" in e.value.message and "latency_p90_ms" in e.value.hint
    with pytest.raises(UsageError) as e:
        parse_budgets('size_mb_max = "big"\n')
    assert "size_mb_max" in e.value.message and "number" in e.value.message
    with pytest.raises(UsageError) as e:
        parse_budgets("[targets.arm]\nlatncy = 1\n")
    assert "latncy" in e.value.message and "[targets.arm]" in e.value.message


def test_gate_passes_and_fails_with_named_budgets(exported, tmp_path):
    onnx = exported("digits-cnn", "onnx")
    ok = tmp_path / "ok.toml"
    ok.write_text(
        "latency_ratio_max = 2.0\naccuracy_min = 0.9\nsize_mb_max = 50\naccuracy_drop_max_points = 1.0\n"
    )
    rep = tmp_path / "rep"
    proc = run_cli(
        "gate", onnx, "--baseline", onnx, "--budgets", ok, "--max-time", "2", "--report", rep
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gate PASSED" in proc.stdout
    suite = ET.parse(rep / "junit.xml").getroot().find("testsuite")
    assert sorted(tc.get("name") for tc in suite.iter("testcase")) == sorted(
        ["latency_ratio_max", "accuracy_min", "size_mb_max", "accuracy_drop_max_points"]
    )
    res = json.loads((rep / "results.json").read_text())
    assert res["gate"]["passed"] and "memory" not in res["artifacts"][1]  # not asked for

    bad = tmp_path / "bad.toml"
    bad.write_text("latency_p90_ms = 0.00001\nsize_mb_max = 0.01\naccuracy_min = 0.5\n")
    proc = run_cli("gate", onnx, "--budgets", bad, "--max-time", "1", "--report", rep)
    assert proc.returncode == 1
    assert re.search(
        r"FAIL: digits-cnn.onnx latency_p90_ms: measured .* \(95% CI .*\), limit <= 1e-05 ms",
        proc.stderr,
    ), proc.stderr
    assert "size_mb_max" in proc.stderr and "PASS: digits-cnn.onnx accuracy_min" in proc.stdout
    suite = ET.parse(rep / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "2" and suite.get("tests") == "3"


def test_gate_input_errors(exported, tmp_path):
    onnx = exported("digits-cnn", "onnx")
    unknown = tmp_path / "u.toml"
    unknown.write_text("latency_p90 = 3\n")
    proc = run_cli("gate", onnx, "--budgets", unknown)
    assert proc.returncode == 2 and "latency_p90" in proc.stderr and "latency_p90_ms" in proc.stderr
    ratio = tmp_path / "r.toml"
    ratio.write_text("latency_ratio_max = 1.05\n")
    proc = run_cli("gate", onnx, "--budgets", ratio)
    assert proc.returncode == 2 and "baseline" in proc.stderr


def test_gate_load_failure_exits_1_others_measured(exported, tmp_path):
    good = exported("tabular-mlp", "onnx")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00" * 64)
    b = tmp_path / "b.toml"
    b.write_text("size_mb_max = 100\n")
    rep = tmp_path / "rep"
    proc = run_cli("gate", good, bad, "--budgets", b, "--max-time", "1", "--report", rep)
    assert proc.returncode == 1 and "broken.onnx failed to load" in proc.stderr
    res = json.loads((rep / "results.json").read_text())
    d = {x["artifact"]: x["status"] for x in res["gate"]["decisions"]}
    assert d == {"tabular-mlp.onnx": "pass", "broken.onnx": "fail"}


def test_gate_against_stored_baseline_says_less_reliable(exported, tmp_path):
    onnx = exported("tabular-mlp", "onnx")
    first = tmp_path / "first"
    run_cli("bench", onnx, "--max-time", "1", "--no-memory", "--report", first, check=True)
    b = tmp_path / "b.toml"
    b.write_text("latency_ratio_max = 3.0\n")
    rep = tmp_path / "second"
    proc = run_cli(
        "gate",
        onnx,
        "--baseline-results",
        first / "results.json",
        "--budgets",
        b,
        "--max-time",
        "1",
        "--report",
        rep,
    )
    assert proc.returncode == 0, proc.stderr
    assert "less reliable" in (rep / "summary.md").read_text()


def _readme_gate_line(kind: str) -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Benchmark and gate") :]
    section = section[section.index(kind) :]
    return next(
        ln.strip().removeprefix("- ").removeprefix("run: ")
        for ln in section.splitlines()
        if "optimize gate " in ln
    )


@pytest.mark.parametrize("kind", ["GitHub Actions", "GitLab CI"])
def test_readme_ci_snippet_runs_as_written(exported, tmp_path, kind):
    line = _readme_gate_line(kind)
    (tmp_path / "artifacts").mkdir()
    src = exported("digits-cnn", "onnx")
    for name in ("model.onnx", "baseline.onnx"):
        shutil.copy(src, tmp_path / "artifacts" / name)
        shutil.copy(str(src) + ".edgeopt.json", tmp_path / "artifacts" / (name + ".edgeopt.json"))
    (tmp_path / "budgets.toml").write_text(
        "latency_ratio_max = 1.5\naccuracy_drop_max_points = 0.0\n"
    )
    summary = tmp_path / "step_summary.md"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    proc = subprocess.run(
        ["bash", "-ec", line + '\ncat gate-report/summary.md >> "$GITHUB_STEP_SUMMARY"'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "edgeopt gate: PASSED" in summary.read_text()
    assert (tmp_path / "gate-report" / "junit.xml").exists()
