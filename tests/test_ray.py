"""`optimize run --executor ray`: candidate builds as Ray tasks on a local Ray runtime
(127.0.0.1, 2 CPUs, started by the CLI), against the local executor on the same recipe with
separate caches: the same artifacts (sha256), the same choice, and run.json says where each
candidate was built."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .conftest import run_cli

ray = pytest.importorskip("ray", reason="the ray extra: pip install 'edgeopt[ray]'")

# 6 candidates; the size budget leaves the int8 ones, which share one file whatever threads
# they carry, so the choice's sha256 does not depend on which of them times fastest
RECIPE = """
name = "ray-vs-local"
[model]
source = "builtin:tabular-mlp"
[bench]
max_time = 0.5
[candidates.cpu]
format = ["onnx"]
precision = ["fp32", "int8"]
threads = [1, 2, 3]
[budgets]
size_mb_max = 0.02
"""


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _run(root: Path, executor: str) -> dict:
    env = {"EDGEOPT_CACHE": str(root / f"cache-{executor}"), "RAY_ADDRESS": ""}
    out = root / f"runs-{executor}"
    extra = ["--ray-cpus", "2"] if executor == "ray" else []
    r = run_cli("run", root / "recipe.toml", "-o", out, "--executor", executor, *extra, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (run_dir,) = out.iterdir()
    return json.loads((run_dir / "run.json").read_text())


def test_ray_and_local_choose_the_same_artifacts(tmp_path):
    (tmp_path / "recipe.toml").write_text(RECIPE)
    local, distributed = _run(tmp_path, "local"), _run(tmp_path, "ray")
    lt, rt = local["targets"]["cpu"], distributed["targets"]["cpu"]
    assert len(rt["candidates"]) == 6
    assert [c["name"] for c in lt["candidates"]] == [c["name"] for c in rt["candidates"]]
    for a, b in zip(lt["candidates"], rt["candidates"]):
        assert _sha(a["path"]) == _sha(b["path"]), a["name"]  # built alike, in another cache
    chosen = {t["chosen"]: t for t in (lt, rt)}
    assert None not in chosen
    by = [{c["name"]: c for c in t["candidates"]}[t["chosen"]] for t in (lt, rt)]
    assert _sha(by[0]["path"]) == _sha(by[1]["path"])
    # where each candidate was built: a Ray node of this machine, in a worker process
    assert distributed["executor"]["executor"] == "ray" and distributed["executor"]["cpus"] == 2
    node = distributed["executor"]["driver_node_id"]
    for c in rt["candidates"]:
        where = rt["built_on"][c["name"]]
        assert where["executor"] == "ray" and where["node_id"] == node and where["host"]
    assert local["executor"] == {"executor": "local"}
    assert all(w["executor"] == "local" for w in lt["built_on"].values())
    # nothing built twice: the shared export and quantize steps were built once each
    assert distributed["cache_stats"]["misses"] == local["cache_stats"]["misses"]
