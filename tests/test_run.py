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
        fastest = min(passing, key=lambda r: r["metrics"]["p50_ms"])
        if chosen is not fastest:  # a tie on latency goes to the smaller, more accurate one
            lo, hi = chosen["metrics"]["ci_p50"]
            flo, fhi = fastest["metrics"]["ci_p50"]
            assert lo <= fhi and flo <= hi and "intervals overlap" in t["reason"]
            assert m["size_bytes"] <= fastest["metrics"]["size_bytes"]
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


AUTO = """
name = "mlp-auto"
[model]
source = "builtin:tabular-mlp"
[bench]
max_time = 1.0
threads = 1
[candidates.cpu]
routes = "auto"
[search]
probe_seconds = 1.5
measure_top = 3
[budgets]
agreement_min = 0.99
"""


def test_auto_routes_probe_drop_with_reasons_and_choose(tmp_path):
    recipe = tmp_path / "auto.toml"
    recipe.write_text(AUTO)
    env = {"EDGEOPT_CACHE": str(tmp_path / "cache")}
    r = run_cli("run", recipe, "-o", tmp_path / "runs", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    t = _summary(run_dir)["targets"]["cpu"]
    routes = {x["name"]: x for x in t["routes"]}
    # every runtime's routes were tried: ORT (with dynamic int8, MatMul-only model), OpenVINO,
    # LiteRT (fp32, dynamic-range and full int8)
    for name in (
        "onnx-fp32",
        "onnx-int8-dynamic",
        "openvino-int8-static-f32",
        "openvino-int8-dynamic-f32",
        "tflite-int8-static",
    ):
        assert name in routes, sorted(routes)
    assert {x["status"] for x in routes.values()} <= {"measured", "dropped", "failed"}
    assert all(x["reason"] for x in routes.values())
    measured = [x for x in routes.values() if x["status"] == "measured"]
    assert 1 <= len(measured) <= 3
    assert {c["name"] for c in t["candidates"]} == {x["name"] for x in measured}
    # full int8 of this MLP's raw wide-range inputs loses answers: measured, then dropped
    static = routes["tflite-int8-static"]
    assert static["status"] == "dropped" and "misses the budget" in static["reason"]
    chosen = next(c for c in t["candidates"] if c["name"] == t["chosen"])
    assert chosen["verdict"]["passed"] and chosen["metrics"]["agreement"] >= 0.99
