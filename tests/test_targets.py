"""Targets: compile for cpu/gpu/arm with parity, clear errors, and the ARM run on aarch64 (qemu)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeopt.artifacts.artifact import Artifact, sidecar_path
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.formats import companion_files
from edgeopt.models.builtin import BUILTINS
from edgeopt.targets.base import CompileOptions
from edgeopt.targets.registry import TARGETS, get_target, open_target_session

from .conftest import run_cli

MODELS = list(BUILTINS)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("targets")


def _copy(src, dst_dir):
    """Copy an exported artifact (and its companions/sidecar) so compile writes beside it."""
    for p in [*companion_files(src), sidecar_path(src)]:
        shutil.copy(p, dst_dir / p.name)
    return dst_dir / src.name


@pytest.mark.parametrize("model", MODELS)
def test_cpu_onnx_and_gpu_onnx(model, exported, work):
    onnx = _copy(exported(model, "onnx"), work)
    cpu = get_target("cpu").compile(onnx, CompileOptions(threads=2, samples=16))
    assert [a.path.name for a in cpu] == [f"{model}.cpu.onnx", f"{model}.cpu.ort"]
    for art in cpu:
        assert art.parity["passed"] and art.target == "cpu"
        again = Artifact.load(art.path)
        assert again.parent["sha256"] == Artifact.load(onnx).sha256
        level = "ORT_ENABLE_ALL" if art.format == "ort" else "ORT_ENABLE_EXTENDED"
        assert again.extra["onnxruntime"]["graph_optimization_level"] == level
        assert open_target_session(art.path).run(
            [np.zeros([2, *s.shape[1:]], "float32") for s in art.inputs]
        )
    [gpu] = get_target("gpu").compile(onnx, CompileOptions(samples=16))
    assert gpu.precision == "fp16" and gpu.parity["passed"]
    assert gpu.size_bytes < 0.7 * Artifact.load(onnx).size_bytes  # fp16 weights
    assert "TensorrtExecutionProvider" in json.dumps(gpu.extra["onnxruntime"])
    with pytest.raises(EdgeoptError, match="GPU"):  # no GPU here: said plainly, never a CPU run
        open_target_session(gpu.path)


@pytest.mark.parametrize("model", MODELS)
def test_cpu_and_gpu_openvino(model, exported, work):
    xml = _copy(exported(model, "openvino"), work)
    [blob] = get_target("cpu").compile(xml, CompileOptions(hint="throughput", samples=16))
    assert blob.path.name == f"{model}.cpu-throughput.blob" and blob.parity["passed"]
    ov = Artifact.load(blob.path).extra["openvino"]
    assert ov["PERFORMANCE_HINT"] == "THROUGHPUT" and ov["INFERENCE_PRECISION_HINT"] == "f32"
    sess = open_target_session(blob.path)
    assert "THROUGHPUT" in str(sess.compiled.get_property("PERFORMANCE_HINT"))
    [gpu] = get_target("gpu").compile(xml, CompileOptions(samples=16))
    assert gpu.path.with_suffix(".bin").exists() and gpu.precision == "fp16"


@pytest.mark.parametrize("model", MODELS)
def test_arm_ort_and_int8_tflite(model, exported, work):
    onnx = _copy(exported(model, "onnx"), work)
    [ort] = get_target("arm").compile(onnx, CompileOptions(samples=16, force=True))
    config = ort.path.with_name(f"{model}.arm.required_operators.config")
    text = config.read_text()
    assert ort.path.suffix == ".ort" and ort.parity["passed"]
    assert "ai.onnx;" in text and ("Gemm" in text or "MatMul" in text)
    tfl = _copy(exported(model, "tflite"), work)
    [q] = get_target("arm").compile(tfl, CompileOptions(samples=64))
    assert q.precision == "int8" and q.size_bytes < 0.5 * Artifact.load(tfl).size_bytes
    for s in q.parity["outputs"].values():
        assert s["top1_agreement"] >= 0.97


def test_cli_errors_list_valid_names(exported, work):
    onnx = _copy(exported("digits-cnn", "onnx"), work)
    bad = run_cli("compile", onnx, "--target", "fpga")
    assert bad.returncode == 2
    assert "unknown target 'fpga'" in bad.stderr and "cpu, gpu, arm" in bad.stderr
    xml = _copy(exported("digits-cnn", "openvino"), work)
    wrong = run_cli("compile", xml, "--target", "arm")
    assert wrong.returncode == 2 and "takes: tflite, onnx" in wrong.stderr
    assert "Traceback" not in bad.stderr + wrong.stderr
    with pytest.raises(UsageError, match="valid targets"):
        get_target("tpu")


def test_cli_compile_gpu_then_verify_says_no_gpu(exported, work, tmp_path):
    onnx = _copy(exported("digits-cnn", "onnx"), tmp_path)
    made = run_cli("compile", onnx, "--target", "gpu", check=True)
    assert "digits-cnn.gpu.onnx" in made.stdout and "cannot run gpu" in made.stdout
    again = run_cli("compile", onnx, "--target", "gpu")
    assert again.returncode == 2 and "--force" in again.stderr
    ver = run_cli("verify", tmp_path / "digits-cnn.gpu.onnx")
    assert ver.returncode == 1 and "no GPU present" in ver.stderr
    listing = json.loads(run_cli("targets", "--json", check=True).stdout)
    assert [t["name"] for t in listing] == list(TARGETS)
    assert not next(t for t in listing if t["name"] == "gpu")["available"]


def test_arm_artifacts_run_on_aarch64_under_qemu(exported, tmp_path):
    """End to end: set up (cached), compile digits-cnn for arm, run both files on aarch64."""
    if not shutil.which("qemu-aarch64-static"):
        pytest.fail(
            "qemu-aarch64-static missing: apt-get install -y qemu-user-static (.ci/run does)"
        )
    setup = run_cli("targets", "setup", "arm", check=True, timeout=900)
    assert "aarch64 environment" in setup.stdout and "disk" in setup.stdout
    onnx = _copy(exported("digits-cnn", "onnx"), tmp_path)
    tfl = _copy(exported("digits-cnn", "tflite"), tmp_path)
    run_cli("compile", onnx, "--target", "arm", check=True)
    run_cli("compile", tfl, "--target", "arm", check=True)
    for name in ("digits-cnn.arm.tflite", "digits-cnn.arm.ort"):
        report = tmp_path / f"{name}.verify.json"
        out = run_cli(
            "verify",
            "--target",
            "arm",
            tmp_path / name,
            "--report",
            report,
            check=True,
            timeout=600,
        )
        assert "emulated latency" in out.stdout
        res = json.loads(report.read_text())
        assert res["passed"] and res["emulation"]["machine"] == "aarch64"
        [logits] = res["outputs"].values()
        assert logits["top1_agreement"] == 1.0


def test_arm_int8_feeds_calibration_to_the_right_one_of_12_inputs(tmp_path):
    """TFLite names inputs args_0..args_11; a plain sort puts args_10 before args_2, which
    calibrated args_10 on args_2's data (a third of its range) and clipped it."""
    import numpy as np

    from edgeopt.data import fit_inputs, load_dataset
    from edgeopt.models.source import load_source
    from edgeopt.optimize.export import ExportConfig, export_model
    from edgeopt.runtimes import open_session

    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(
        data,
        **{f"x{k}": (rng.random((400, 4)) * (k + 1) * 10).astype(np.float32) for k in range(12)},
    )
    spec = f"npz:{data}"
    src = load_source(str(Path(__file__).parent / "models" / "many_inputs.py") + ":twelve_inputs")
    flt = export_model(src, ExportConfig(to="tflite", output=tmp_path / "m.tflite", data=spec))
    (arm,) = get_target("arm").compile(flt.path, CompileOptions(data=spec))
    assert arm.params["mode"] == "static", arm.params.get("full_int8_rejected")
    ref_sess, q_sess = open_session(flt.path), open_session(arm.path)
    x = fit_inputs(load_dataset(spec, "eval"), ref_sess.inputs)
    for k, (r, q) in enumerate(zip(ref_sess.run(x), q_sess.run(x))):
        assert np.abs(r - q).max() <= 0.02 * np.abs(r).max(), (
            f"input {k} was calibrated on another input's data"
        )
