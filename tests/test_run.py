"""optimize run: a recipe with two targets and several candidates, budgets, cache, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run_cli

RECIPE = """
name = "mlp-test"
[model]
source = "builtin:tabular-mlp"
[bench]
max_time = 1.0
threads = 1
[candidates.cpu]
format = ["onnx", "openvino"]
precision = ["fp32", "int8"]
[candidates.arm]
format = ["tflite"]
[budgets]
accuracy_drop_max_points = 3.0
size_mb_max = 0.03
"""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    recipe = root / "recipe.toml"
    recipe.write_text(RECIPE)
    env = {"EDGEOPT_CACHE": str(root / "cache"), "MLFLOW_ALLOW_FILE_STORE": "true"}
    first = run_cli("run", recipe, "-o", root / "runs", "--track", "mlflow", cwd=root, env=env)
    second = run_cli("run", recipe, "-o", root / "runs", cwd=root, env=env)
    dirs = sorted((root / "runs").iterdir())
    return root, first, second, dirs


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def test_chosen_artifacts_meet_the_budgets(two_runs):
    root, first, _, dirs = two_runs
    assert first.returncode in (0, 1), first.stderr
    s = _summary(dirs[0])
    assert set(s["targets"]) == {"cpu", "arm"}
    assert len(s["targets"]["cpu"]["candidates"]) == 4
    # the recipe is pinned so that both targets have an int8 candidate within the budgets:
    # a run that chooses nothing is a failure, not an accepted outcome
    assert all(t["chosen"] for t in s["targets"].values()), {
        k: t["reason"] for k, t in s["targets"].items()
    }
    for t in s["targets"].values():
        rows = t["candidates"]
        passing = [r for r in rows if r["verdict"]["passed"]]
        if t["chosen"] is None:
            assert not passing and "no candidate meets" in t["reason"]
            continue
        chosen = next(r for r in rows if r["name"] == t["chosen"])
        m = chosen["metrics"]
        assert m["top1_drop"] <= 0.03
        assert m["size_bytes"] / 2**20 <= 0.03
        assert m["p50_ms"] == min(r["metrics"]["p50_ms"] for r in passing)
        assert Path(chosen["path"]).exists()
        assert t["chosen_lineage"][0]["step"] == "compile"
        assert t["chosen_lineage"][-1]["source"] == "builtin:tabular-mlp"
    assert first.returncode == (0 if all(t["chosen"] for t in s["targets"].values()) else 1)


def test_rerun_reuses_the_cache(two_runs):
    _, first, second, dirs = two_runs
    assert len(dirs) == 2  # a new folder per run: nothing overwritten
    a, b = _summary(dirs[0]), _summary(dirs[1])
    assert a["cache_stats"]["misses"] > 0
    assert (
        b["cache_stats"]["misses"] == 0 and b["cache_stats"]["hits"] >= a["cache_stats"]["misses"]
    )
    for t in b["targets"].values():
        for r in t["candidates"]:
            assert all(step["cache"] == "hit" for step in r["steps"])


def test_run_folder_holds_everything(two_runs):
    root, first, _, dirs = two_runs
    d = dirs[0]
    for name in (
        "recipe.toml",
        "run.json",
        "report.html",
        "summary.md",
        "reports/cpu/results.json",
        "reports/cpu/junit.xml",
        "reports/arm/report.html",
    ):
        assert (d / name).exists(), name
    html = (d / "report.html").read_text()
    assert "<svg" in html and "Pareto" in html and "Lineage" in html
    assert "report:" in first.stdout
    # --track mlflow wrote a local MLflow store with one nested run per candidate
    metas = list((root / "mlruns").rglob("meta.yaml"))
    assert len(metas) >= 1 + 5


@pytest.mark.parametrize(
    "body,phrase",
    [
        (
            '[model]\nsource="builtin:tabular-mlp"\n[candidates.cpu]\nformat=["onnx"]\ncolour=1\n',
            "unknown key 'colour'",
        ),
        (
            '[model]\nsource="builtin:tabular-mlp"\n[candidates.moon]\nformat=["onnx"]\n',
            "unknown target 'moon'",
        ),
        (
            '[model]\nsource="builtin:tabular-mlp"\n[candidates.arm]\nformat=["openvino"]\n',
            "cannot take openvino",
        ),
        (
            '[model]\nsource="builtin:tabular-mlp"\n[candidates.cpu]\nformat=["onnx"]\nsparsity=[1.5]\n',
            "outside [0, 1)",
        ),
        (
            '[model]\nsource="builtin:tabular-mlp"\n[candidates.cpu]\nformat=["onnx"]\n[budgets]\nspeed=1\n',
            "unknown budget key 'speed'",
        ),
        ("[model\n", "not valid TOML"),
    ],
)
def test_bad_recipes(tmp_path, body, phrase):
    recipe = tmp_path / "r.toml"
    recipe.write_text(body)
    r = run_cli("run", recipe, "-o", tmp_path / "runs")
    assert r.returncode == 2 and phrase in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()
