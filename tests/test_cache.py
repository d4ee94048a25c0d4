"""The artifact cache can be trusted: a hit is checked against the sha256 stored with it, run
folders hold private copies (never hard links into the cache), keys cover every setting and
tool version, and `optimize cache info|verify|clean` look after it."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli

RECIPE = """
name = "cache-test"
[model]
source = "builtin:tabular-mlp"
[bench]
max_time = 0.5
threads = 1
[candidates.cpu]
format = ["onnx"]
precision = ["fp32", "int8"]
"""


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def _entry_files(entry: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(entry.iterdir()) if p.is_file()}


def _break_onnx(path: Path) -> None:
    """What the report did: `onnx.save` a model with every initializer zeroed over the file."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    for t in m.graph.initializer:
        t.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(t)), t.name))
    onnx.save(m, str(path))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run once; break the run folder's baseline in place and flip bytes in the chosen
    candidate's cache entry; run again. Everything the tests look at is recorded on the way."""
    root = tmp_path_factory.mktemp("cache")
    recipe = root / "recipe.toml"
    recipe.write_text(RECIPE)
    env = {"EDGEOPT_CACHE": str(root / "cache")}
    first = run_cli("run", recipe, "-o", root / "runs", cwd=root, env=env)
    assert first.returncode == 0, first.stderr
    run1 = next((root / "runs").iterdir())
    s1 = _summary(run1)
    store = root / "cache" / "artifacts"
    base_entry = store / s1["targets"]["cpu"]["baseline"]["steps"][0]["key"]
    before = _entry_files(base_entry)

    baseline = Path(s1["targets"]["cpu"]["baseline"]["path"])
    baseline = baseline if baseline.is_absolute() else root / baseline
    _break_onnx(baseline)
    after_edit = _entry_files(base_entry)

    t = s1["targets"]["cpu"]
    chosen = next(c for c in t["candidates"] if c["name"] == t["chosen"])
    corrupt_key = chosen["steps"][-1]["key"]
    victim = store / corrupt_key / chosen["file"]
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[100:108] = bytes(b ^ 0xFF for b in data[100:108])
    victim.write_bytes(bytes(data))

    second = run_cli("run", recipe, "-o", root / "runs", cwd=root, env=env)
    run2 = next(d for d in (root / "runs").iterdir() if d != run1)
    return {
        "root": root,
        "env": env,
        "store": store,
        "baseline": baseline,
        "base_entry": base_entry,
        "before": before,
        "after_edit": after_edit,
        "s1": s1,
        "corrupt_key": corrupt_key,
        "chosen": chosen,
        "second": second,
        "s2": _summary(run2),
    }


def test_editing_a_run_folder_model_leaves_the_cache_alone(runs):
    """The report: the run folder's baseline edited in place changed the cached copy with it."""
    assert runs["after_edit"] == runs["before"]  # bytes of every file of the entry
    cached = runs["base_entry"] / runs["baseline"].name
    assert os.stat(cached).st_ino != os.stat(runs["baseline"]).st_ino
    assert not os.stat(cached).st_mode & 0o222  # stored read-only


def test_a_corrupt_entry_is_named_rebuilt_and_the_rerun_chooses_well(runs):
    second, s1, s2 = runs["second"], runs["s1"], runs["s2"]
    assert second.returncode == 0, second.stderr
    assert f"cache entry {runs['store'] / runs['corrupt_key']} is corrupt" in second.stderr
    steps = [st for c in s2["targets"]["cpu"]["candidates"] for st in c["steps"]]
    assert {st["cache"] for st in steps if st["key"] == runs["corrupt_key"]} == {"built"}
    assert s2["cache_stats"]["misses"] == 1  # the broken one only: the baseline's entry held
    assert s2["targets"]["cpu"]["baseline"]["steps"][0]["cache"] == "hit"
    top1 = {c["name"]: c["metrics"]["top1"] for c in s1["targets"]["cpu"]["candidates"]}
    t2 = s2["targets"]["cpu"]
    assert t2["chosen"]
    for c in t2["candidates"]:
        assert c["metrics"]["top1"] == pytest.approx(top1[c["name"]])
        assert c["metrics"]["top1_drop"] <= 0.03  # measured against an intact baseline
    chosen = next(c for c in t2["candidates"] if c["name"] == t2["chosen"])
    assert chosen["metrics"]["top1"] > 0.9


def _copy_store(runs, name: str) -> Path:
    """A private copy of the cache (a `--cache DIR` base) so tests do not disturb each other."""
    base = runs["root"] / name
    shutil.copytree(runs["root"] / "cache", base)
    return base


def test_verify_lists_corrupt_entries_and_repair_removes_them(runs):
    base = _copy_store(runs, "verify")
    entry = base / "artifacts" / runs["s1"]["targets"]["cpu"]["baseline"]["steps"][0]["key"]
    sidecar = next(entry.glob("*.edgeopt.json"))
    sidecar.chmod(0o644)
    with open(sidecar, "r+b") as f:  # truncated: a variant of the same hole
        f.truncate(10)
    ok = run_cli("cache", "verify", "--cache", runs["root"] / "cache")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run_cli("cache", "verify", "--cache", base)
    assert bad.returncode == 1
    assert str(entry) in bad.stdout and sidecar.name in bad.stdout
    assert "error:" in bad.stderr and "--repair" in bad.stderr and "Traceback" not in bad.stderr
    fixed = run_cli("cache", "verify", "--repair", "--cache", base)
    assert fixed.returncode == 0 and "removed" in fixed.stdout and not entry.exists()
    assert run_cli("cache", "verify", "--cache", base).returncode == 0


def test_info_and_clean(runs):
    base = _copy_store(runs, "clean")
    n = len([p for p in (base / "artifacts").iterdir() if not p.name.startswith(".")])
    info = run_cli("cache", "info", env={"EDGEOPT_CACHE": str(base)})
    assert info.returncode == 0, info.stderr
    assert str(base / "artifacts") in info.stdout and f"entries: {n}," in info.stdout
    assert "oldest:" in info.stdout and "newest:" in info.stdout
    kept = run_cli("cache", "clean", "--older-than", "1", "--cache", base)
    assert kept.returncode == 0 and "0 removed" in kept.stdout
    assert run_cli("cache", "clean", "--older-than", "-1", "--cache", base).returncode == 2
    gone = run_cli("cache", "clean", "--cache", base)
    assert gone.returncode == 0 and f"{n} removed" in gone.stdout
    assert run_cli("cache", "info", "--cache", base).stdout.count("entries: 0,") == 1
    not_a_dir = runs["root"] / "recipe.toml"
    bad = run_cli("cache", "info", "--cache", not_a_dir)
    assert bad.returncode == 2 and "fix:" in bad.stderr


def test_key_covers_defaults_and_tool_versions(monkeypatch):
    from edgeopt.artifacts import keys
    from edgeopt.artifacts.keys import cache_key
    from edgeopt.data import load_dataset
    from edgeopt.optimize.quantize import QuantizeConfig

    cfg = QuantizeConfig(calib=load_dataset("sklearn:digits", "calib"))
    params = {"mode": None, "calib": "sklearn:digits"}  # what the user typed: the same
    key = cache_key("p", "quantize", {"params": params, "config": cfg})
    assert key == cache_key("p", "quantize", {"params": params, "config": cfg})
    other_default = dataclasses.replace(cfg, samples=cfg.samples + 1)
    assert key != cache_key("p", "quantize", {"params": params, "config": other_default})
    edited = dataclasses.replace(cfg, calib=cfg.calib.take(slice(0, len(cfg.calib) - 1)))
    assert key != cache_key("p", "quantize", {"params": params, "config": edited})

    real = keys.tool_versions()
    assert {"torch", "onnx", "onnxruntime", "openvino", "nncf", "ai-edge-quantizer"} <= set(real)
    monkeypatch.setattr(keys, "tool_versions", lambda: {**real, "onnxruntime": "0.0.1"})
    assert key != cache_key("p", "quantize", {"params": params, "config": cfg})
    monkeypatch.setattr(keys, "tool_versions", lambda: {**real, "nncf": None})
    assert key != cache_key("p", "quantize", {"params": params, "config": cfg})


def _fake_build(calls: list, delay: float = 0.0):
    def build(d: Path) -> Path:
        calls.append(d)
        time.sleep(delay)
        out = d / "m.onnx"
        out.write_bytes(b"model bytes")
        Path(str(out) + ".edgeopt.json").write_text("{}")
        return out

    return build


def test_place_copies_and_never_writes_through_links(tmp_path):
    from edgeopt.artifacts.cache import ArtifactCache, place

    cache = ArtifactCache(tmp_path / "c")
    path, hit = cache.get_or_build("k1", _fake_build([]))
    assert not hit and path.read_bytes() == b"model bytes"
    dest = tmp_path / "run"
    dest.mkdir()
    os.link(path, dest / "m.onnx")  # a run folder from an older edgeopt: a hard link
    placed = place(path, dest)
    assert os.stat(placed).st_ino != os.stat(path).st_ino
    placed.write_bytes(b"edited")
    assert path.read_bytes() == b"model bytes" and cache.problem("k1") is None
    assert cache.get_or_build("k1", _fake_build([]))[1]  # still a hit


def test_concurrent_builders_of_one_key_build_once(tmp_path):
    from edgeopt.artifacts.cache import ArtifactCache

    calls: list = []
    results: list = []

    def worker() -> None:
        results.append(ArtifactCache(tmp_path / "c").get_or_build("k", _fake_build(calls, 0.3)))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and sorted(hit for _, hit in results) == [False, True, True]
    assert ArtifactCache(tmp_path / "c").verify() == (1, [])
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.startswith(".tmp-")]
