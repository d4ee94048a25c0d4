"""Trust: bad input, data, budgets and names are refused through the real executable, before
any work, with one line, the right exit code and nothing written or changed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import BIN, REPO, run_cli

FACTORY = """
import torch
from torch import nn


def plain():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, 10),
    )


def with_example():
    return plain(), (torch.randn(2, 1, 8, 8),)
"""


def _assert_clean_failure(proc, code: int, *phrases: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    assert "Traceback" not in out and "unexpected" not in out, out
    for phrase in phrases:
        assert phrase in out, out


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture()
def work(tmp_path):
    (tmp_path / "fac.py").write_text(FACTORY)
    return tmp_path


@pytest.mark.parametrize(
    "spec, phrases",
    [
        ("input:0x1x8x8:float32", ["dimension of 0"]),
        ("input:batchx1x0x8:float32", ["dimension of 0"]),
        ("input:batchx1x100000x100000:float32", ["GiB per sample"]),
        ("input:batchx1x8x8:int64", ["cannot take the inputs", "int64"]),
        ("input:batchx3x8x8:float32", ["cannot take the inputs", "channels"]),
    ],
)
def test_input_specs_a_model_cannot_take_are_usage_errors(work, spec, phrases):
    before = _listing(work)
    proc = run_cli(
        "export", "fac.py:plain", "--to", "onnx", "-o", "m.onnx", "--input", spec, cwd=work
    )
    _assert_clean_failure(proc, 2, *phrases)
    assert _listing(work) == before


@pytest.mark.parametrize("ref", ["fac.py:with_example", "builtin:digits-cnn"])
def test_input_conflicting_with_the_model_is_refused(work, ref):
    proc = run_cli(
        "export", ref, "--to", "onnx", "-o", "m.onnx", "--input", "x:1x3x8x8:float32", cwd=work
    )
    _assert_clean_failure(proc, 2, "conflicts with the model", "1x3x8x8")
    assert not (work / "m.onnx").exists()


def test_input_agreeing_with_the_example_is_what_the_sidecar_records(work):
    run_cli(
        "export", "fac.py:with_example", "--to", "onnx", "-o", "m.onnx",
        "--input", "x:batchx1x8x8:float32", cwd=work, check=True,
    )  # fmt: skip
    import json

    import onnx

    side = json.loads((work / "m.onnx.edgeopt.json").read_text())
    dims = onnx.load(str(work / "m.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims][1:] == side["inputs"][0]["shape"][1:] == [1, 8, 8]


def _digits(tmp_path: Path, name: str, mutate=None, labels_offset: int = 0) -> Path:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data.astype(np.float32).reshape(-1, 1, 8, 8)
    if mutate:
        mutate(x)
    path = tmp_path / name
    np.savez(path, x=x, y=d.target + labels_offset)
    return path


def _nan(x):
    x[3, 0, 0, 0] = np.nan
    x[9, 0, 2, 2] = np.inf


def test_nan_calibration_data_is_refused(exported, tmp_path):
    data = _digits(tmp_path, "nan.npz", _nan)
    proc = run_cli(
        "quantize", exported("digits-cnn", "onnx"), "--mode", "static", "--calib", f"npz:{data}",
        "-o", tmp_path / "q.onnx",
    )  # fmt: skip
    _assert_clean_failure(proc, 2, "NaN or inf", "2 value(s)", "nonfinite=drop")
    assert not (tmp_path / "q.onnx").exists()


def test_nan_samples_dropped_only_when_asked(exported, tmp_path):
    data = _digits(tmp_path, "nan.npz", _nan)
    proc = run_cli(
        "quantize", exported("digits-cnn", "onnx"), "--mode", "static",
        "--calib", f"npz:{data}?nonfinite=drop", "-o", tmp_path / "q.onnx",
    )  # fmt: skip
    assert "dropped 2 sample(s)" in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "q.onnx").exists()


def test_empty_and_pickled_npz_are_refused(exported, tmp_path):
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 1, 8, 8), np.float32))
    np.savez(tmp_path / "obj.npz", x=np.array([object(), 1], dtype=object))
    for name, phrase in (("empty.npz", "0 samples"), ("obj.npz", "Python objects")):
        proc = run_cli(
            "quantize", exported("digits-cnn", "onnx"), "--mode", "static",
            "--calib", f"npz:{tmp_path / name}", "-o", tmp_path / "q.onnx",
        )  # fmt: skip
        _assert_clean_failure(proc, 2, phrase)
    assert not (tmp_path / "q.onnx").exists()


def test_fine_tune_labels_outside_the_model_are_refused(tmp_path):
    data = _digits(tmp_path, "lab.npz", labels_offset=20)
    proc = run_cli(
        "prune", "builtin:digits-cnn", "--finetune", f"npz:{data}", "--epochs", "1",
        "-o", tmp_path / "p.pt2",
    )  # fmt: skip
    _assert_clean_failure(proc, 2, "outside the model's 10 classes")
    assert not (tmp_path / "p.pt2").exists()


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["export", "builtin:digits-cnn", "--to", "onnx", "--tolerance", "-1"], "below 0"),
        (["export", "builtin:digits-cnn", "--to", "onnx", "--rtol", "nan"], "not a finite"),
        (["bench", "ART", "--max-time", "nan"], "not a finite"),
        (["run", "--max-time", "inf"], "not a finite"),
    ],
)
def test_bad_numbers_stop_before_any_work(exported, tmp_path, args, phrase):
    args = [str(exported("digits-cnn", "onnx")) if a == "ART" else a for a in args]
    if args[0] == "export":
        args += ["-o", str(tmp_path / "m.onnx")]
    t0 = time.perf_counter()
    proc = run_cli(*args, cwd=tmp_path)
    _assert_clean_failure(proc, 2, phrase)
    assert time.perf_counter() - t0 < 60
    assert not list(tmp_path.iterdir())


def test_nan_budget_is_refused(exported, tmp_path):
    budgets = tmp_path / "b.toml"
    budgets.write_text("agreement_min = nan\n")
    proc = run_cli("gate", exported("digits-cnn", "onnx"), "--budgets", budgets)
    _assert_clean_failure(proc, 2, "agreement_min")


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("accuracy_drop_max = 1\n", "accuracy_drop_max_points"),
        ("accuracy_min = 95\n", "outside 0..1"),
        ("accuracy_drop_max_points = -1\n", "outside 0..100"),
        ("agreement_min = 1.5\n", "outside 0..1"),
    ],
)
def test_budget_units_are_explicit_and_range_checked(exported, tmp_path, text, phrase):
    budgets = tmp_path / "b.toml"
    budgets.write_text(text)
    proc = run_cli("gate", exported("digits-cnn", "onnx"), "--budgets", budgets)
    _assert_clean_failure(proc, 2, phrase)


def test_malformed_results_json_is_a_usage_error(exported, tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    proc = run_cli(
        "bench", exported("digits-cnn", "onnx"), "--baseline-results", bad, "--max-time", "0.3",
        "--no-memory",
    )  # fmt: skip
    _assert_clean_failure(proc, 2, "results.json")


def test_output_dir_that_is_a_file(exported, tmp_path):
    (tmp_path / "afile").write_text("x")
    art = tmp_path / "m.onnx"
    shutil.copy(exported("digits-cnn", "onnx"), art)
    shutil.copy(str(exported("digits-cnn", "onnx")) + ".edgeopt.json", str(art) + ".edgeopt.json")
    proc = run_cli("compile", art, "--target", "cpu", "--output-dir", tmp_path / "afile")
    _assert_clean_failure(proc, 2, "afile")
    assert (tmp_path / "afile").read_text() == "x"


def test_failed_compile_leaves_no_empty_folder(tmp_path):
    from edgeopt.core.files import staging_dir

    out = tmp_path / "new" / "deeper"
    with pytest.raises(RuntimeError), staging_dir(out / "m.cpu"):
        raise RuntimeError("compile failed")
    assert not out.exists()


def test_read_only_and_full_disks_name_the_path(tmp_path):
    """Real file systems: a read-only and a 64 KiB tmpfs (root can mount them in CI)."""
    ro, full = tmp_path / "ro", tmp_path / "full"
    ro.mkdir(), full.mkdir()
    mounts = [
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)],
    ]
    if any(subprocess.run(m, capture_output=True).returncode for m in mounts):
        pytest.skip("cannot mount a tmpfs here (needs root): read-only/full disk not checked")
    try:
        proc = run_cli("export", "builtin:digits-cnn", "--to", "onnx", "-o", ro / "m.onnx")
        _assert_clean_failure(proc, 1, "Read-only file system", str(ro))
        proc = run_cli("export", "builtin:digits-cnn", "--to", "onnx", "-o", full / "m.onnx")
        _assert_clean_failure(proc, 1, "no space left")
        assert not list(full.iterdir())
    finally:
        for d in (ro, full):
            subprocess.run(["umount", str(d)], capture_output=True)


def test_torch_zip_renamed_pt2_has_no_traceback(tmp_path):
    import torch

    bad = tmp_path / "model.pt2"
    torch.save({"w": torch.zeros(2)}, bad)
    proc = run_cli("export", bad, "--to", "onnx", "-o", tmp_path / "m.onnx")
    _assert_clean_failure(proc, 2, "torch.export program")
    assert len(proc.stderr.strip().splitlines()) <= 3, proc.stderr


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs-run", "a/b", ".hidden"])
def test_recipe_names_cannot_leave_the_output_folder(tmp_path, name):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'name = "{name}"\n[model]\nsource = "builtin:tabular-mlp"\n'
        '[candidates.cpu]\nformat = ["onnx"]\n'
    )
    proc = run_cli("run", recipe, "-o", tmp_path / "runs", cwd=tmp_path)
    _assert_clean_failure(proc, 2, "not a safe folder name")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "escape").exists()


def test_interrupted_run_leaves_no_run_folder(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'name = "mlp"\n[model]\nsource = "builtin:tabular-mlp"\n'
        '[candidates.cpu]\nformat = ["onnx", "openvino"]\nprecision = ["fp32", "int8"]\n'
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "EDGEOPT_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [str(BIN / "optimize"), "run", str(recipe), "-o", str(tmp_path / "runs")],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stderr:  # interrupt once the run folder exists and building has begun
        if "build cpu/" in line:  # the run folder exists by now; a fast machine ends in ~2 s
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    runs = tmp_path / "runs"
    assert not runs.exists() or not list(runs.iterdir()), _listing(runs)


def test_gate_refuses_a_baseline_of_another_model(exported, tmp_path):
    budgets = tmp_path / "b.toml"
    budgets.write_text("accuracy_drop_max_points = 1\n")
    cnn, mlp = exported("digits-cnn", "onnx"), exported("tabular-mlp", "onnx")
    proc = run_cli("gate", cnn, "--baseline", mlp, "--budgets", budgets, "--max-time", "0.3")
    _assert_clean_failure(proc, 2, "baseline is not comparable", "--allow-different-baseline")
    proc = run_cli(
        "bench", cnn, "--baseline", mlp, "--allow-different-baseline", "--max-time", "0.3",
        "--no-memory", "--report", tmp_path / "rep",
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    for report in ("summary.md", "results.json", "junit.xml"):
        assert "DIFFERENT BASELINE" in (tmp_path / "rep" / report).read_text(), report


def test_precision_is_read_from_the_file_not_the_sidecar(exported, tmp_path):
    q = tmp_path / "q.onnx"
    run_cli(
        "quantize", exported("digits-cnn", "onnx"), "--mode", "static", "-o", q, check=True,
    )  # fmt: skip
    bare = tmp_path / "bare.onnx"
    shutil.copy(q, bare)  # an int8 file without its sidecar
    proc = run_cli("quantize", bare, "--mode", "static", "--calib", "sklearn:digits")
    _assert_clean_failure(proc, 2, "already int8")
    out = tmp_path / "arm"
    run_cli("compile", bare, "--target", "arm", "--output-dir", out, check=True)
    import json

    sidecars = [json.loads(p.read_text()) for p in out.glob("*.edgeopt.json")]
    assert sidecars and all(s["precision"] == "int8" for s in sidecars)
