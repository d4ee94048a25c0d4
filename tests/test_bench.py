"""optimize bench: statistics on synthetic samples, then the real CLI on exported built-ins."""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from edgeopt.metrics import stats

from .conftest import run_cli


# --- statistics (deterministic, synthetic) ---------------------------------------------------
def test_percentile_ci_covers_true_percentiles_of_skewed_samples():
    rng = np.random.default_rng(0)
    covered = {50: 0, 90: 0}
    for _ in range(200):
        x = rng.lognormal(0.0, 0.5, 400)
        for q in covered:
            lo, hi = stats.percentile_ci(x, q)
            true = math.exp(0.5 * {50: 0.0, 90: 1.2815515655446004}[q])
            covered[q] += lo <= true <= hi
    # a 95% interval: coverage near 190/200; far below means the ranks are wrong
    assert all(180 <= c <= 200 for c in covered.values()), covered


def test_percentile_ci_unbounded_with_too_few_samples():
    lo, hi = stats.percentile_ci([1.0, 2.0, 3.0], 99)
    assert hi == math.inf and lo <= 3.0
    s = stats.summarize(np.arange(1, 101, dtype=float))
    assert s["p50"] == pytest.approx(50.5) and s["min"] == 1 and s["max"] == 100
    assert s["ci_p50"][0] < 50.5 < s["ci_p50"][1]
    assert s["cv"] == pytest.approx(s["std"] / s["mean"])


def _blocks(rng, n_blocks, ratio, drift=True, burst=False):
    base, cand = [], []
    for k in range(n_blocks):
        level = 1.0 + (0.8 * math.sin(k / 5) if drift else 0.0)  # shared slow drift up to 80%
        b = level * rng.lognormal(0, 0.1, 30)
        c = level * ratio * rng.lognormal(0, 0.1, 30)
        if burst and k % 7 == 0:
            c = c * 3  # a neighbour hit one block only
        base.append(b)
        cand.append(c)
    return base, cand


def test_block_ratio_cancels_shared_drift_and_finds_true_ratio():
    rng = np.random.default_rng(1)
    base, cand = _blocks(rng, 40, 1.25)
    r = stats.block_ratio(base, cand)
    assert r["ci"][0] <= 1.25 <= r["ci"][1]
    assert r["ci"][0] > 1.05  # a 25% slowdown is clearly beyond a 5% budget
    # same artifact twice: the interval holds 1 and lies wholly below 1.05
    base, cand = _blocks(rng, 40, 1.0, burst=True)
    r = stats.block_ratio(base, cand)
    assert r["ci"][0] <= 1.0 <= r["ci"][1] < 1.05


def test_block_ratio_needs_blocks_and_trimmed_mean_ci():
    assert stats.block_ratio([[1.0]], [[1.0]])["ci"][1] == math.inf
    est, lo, hi = stats.trimmed_mean_ci(np.r_[np.zeros(19), 100.0])  # one outlier trimmed away
    assert est == 0.0 and lo <= 0.0 <= hi
    m, lo, hi = stats.mean_ci([1.0, 2.0, 3.0, 4.0])
    assert lo < m == 2.5 < hi


def test_independent_ratio_bootstrap():
    rng = np.random.default_rng(2)
    r = stats.independent_ratio(rng.lognormal(0, 0.1, 500), 1.5 * rng.lognormal(0, 0.1, 500))
    assert r["ci"][0] < 1.5 < r["ci"][1] and r["ci"][0] > 1.3


class _Recorder:
    """A stand-in session for the scheduler test only (no runtime is claimed to be tested):
    it records the order in which the interleaved blocks ran."""

    def __init__(self, name: str, log: list[str]):
        self.name, self.log = name, log

    def run(self, batch):
        self.log.append(self.name)


def test_interleaved_blocks_change_neighbours_every_round():
    """A fixed or alternating order makes an artifact follow the same neighbour every round,
    so a runtime that keeps spinning after its block always slows the same artifact."""
    from edgeopt.metrics.latency import LatencyConfig, Timed, measure_latency

    log: list[str] = []
    names = "abcde"
    runs = [Timed(n, _Recorder(n, log), [[np.zeros(1)]], block_size=5) for n in names]
    cfg = LatencyConfig(max_time=0.05, min_time=0.05, warmup_max_s=0.0)
    res = measure_latency(runs, cfg, stop_when=lambda rs: False)
    assert res["rounds"] >= 20
    order = log[::5]  # one entry per block of 5 runs (no warm-up runs with warmup_max_s=0)
    blocks = [order[i * len(names) : (i + 1) * len(names)] for i in range(res["rounds"])]
    assert all(sorted(b) == list(names) for b in blocks)  # each artifact once per round
    before_c = {b[b.index("c") - 1] if b.index("c") else None for b in blocks}
    assert len(before_c) >= 4  # c followed several different artifacts (or came first)


# --- the CLI on real exported models ---------------------------------------------------------
def test_bench_end_to_end_reports(exported, tmp_path):
    onnx = exported("digits-cnn", "onnx")
    ir = exported("digits-cnn", "openvino")
    rep = tmp_path / "rep"
    proc = run_cli(
        "bench",
        onnx,
        ir,
        "--baseline",
        onnx,
        "--max-time",
        "1.5",
        "--report",
        rep,
        "--precision",
        "f32",
    )
    assert proc.returncode == 0, proc.stderr
    assert "p50 ms" in proc.stdout and "digits-cnn.xml" in proc.stdout
    res = json.loads((rep / "results.json").read_text())
    assert res["schema_version"] == 1 and res["machine"]["cores"] >= 1
    arts = {a["name"]: a for a in res["artifacts"]}
    assert set(arts) == {"digits-cnn.onnx (baseline)", "digits-cnn.onnx", "digits-cnn.xml"}
    cand = arts["digits-cnn.xml"]
    lat = cand["latency"]
    assert len(lat["samples_ms"]) == lat["samples"] >= 50
    assert (
        lat["ci_p50"][0] <= lat["p50"] <= lat["ci_p50"][1]
        and lat["min"] <= lat["p90"] <= lat["max"]
    )
    assert cand["session"]["runtime"] == "openvino" and cand["session"]["precision"] == "f32"
    assert cand["ratio"]["ci"][0] <= cand["ratio"]["estimate"] <= cand["ratio"]["ci"][1]
    assert cand["accuracy"]["top1"] > 0.95 and "top5" in cand["accuracy"]
    assert cand["accuracy"]["vs_reference"]["top1_agreement"] > 0.95
    assert cand["data"]["spec"] == "sklearn:digits"
    assert (
        cand["size"]["total_bytes"] > cand["size"]["model_bytes"] > cand["size"]["gzip_bytes"] > 0
    )
    assert cand["memory"]["peak_rss_mb"] > 10
    assert (
        cand["load_s"] > 0
        and cand["first_inference_ms"] > 0
        and cand["throughput"]["samples_per_s"] > 0
    )
    md = (rep / "summary.md").read_text()
    assert "digits-cnn.xml" in md and "| artifact |" in md
    suite = ET.parse(rep / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) == 3 and int(suite.get("failures")) == 0
    html = (rep / "report.html").read_text()
    assert "<svg" in html and "Latency distribution" in html


def test_bench_load_failure_named_others_measured(exported, tmp_path):
    good = exported("tabular-mlp", "onnx")
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"not an onnx model at all")
    proc = run_cli("bench", bad, good, "--max-time", "1", "--no-memory", "--json")
    assert proc.returncode == 1
    assert "corrupt.onnx failed to load" in proc.stderr
    res = json.loads(proc.stdout)
    arts = {a["name"]: a for a in res["artifacts"]}
    assert "error" in arts["corrupt.onnx"] and "latency" not in arts["corrupt.onnx"]
    assert arts["tabular-mlp.onnx"]["latency"]["samples"] >= 50
    assert arts["tabular-mlp.onnx"]["accuracy"]["top1"] > 0.9


def test_bench_dataset_shape_mismatch_fails_before_timing(exported):
    proc = run_cli(
        "bench",
        exported("digits-cnn", "onnx"),
        "--data",
        "sklearn:breast_cancer",
        "--max-time",
        "1",
        "--no-memory",
    )
    assert proc.returncode == 2
    assert "expects" in proc.stderr and "timing" not in proc.stderr


def test_bench_usage_errors(exported, tmp_path):
    onnx = exported("digits-cnn", "onnx")
    assert run_cli("bench", tmp_path / "missing.onnx").returncode == 2
    assert run_cli("bench", onnx, "--max-time", "0").returncode == 2
    copy = tmp_path / "copy.onnx"
    shutil.copy(onnx, copy)  # no sidecar and no --data: random inputs, said plainly
    proc = run_cli("bench", copy, "--max-time", "1", "--no-memory")
    assert proc.returncode == 0 and "no dataset known" in proc.stdout


def test_onnxruntime_sessions_do_not_spin_between_runs(exported):
    """Idle sessions' spinning threads would steal the cores of the one being timed."""
    from edgeopt.runtimes import open_session
    from edgeopt.runtimes.base import SessionOptions

    sess = open_session(exported("tabular-mlp", "onnx"))
    assert sess.describe()["thread_spinning"] is False
    assert (
        sess.sess.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        == "0"
    )
    opted_in = open_session(exported("tabular-mlp", "onnx"), options=SessionOptions(spin=True))
    assert (
        opted_in.sess.get_session_options().get_session_config_entry(
            "session.intra_op.allow_spinning"
        )
        == "1"
    )
