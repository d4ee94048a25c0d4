"""optimize export: every built-in model to every format, with parity and a sidecar."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edgeopt.artifacts.artifact import Artifact, sidecar_path
from edgeopt.core.files import sha256_file
from edgeopt.data import fit_inputs, load_dataset
from edgeopt.models.source import load_source
from edgeopt.optimize.export import ExportConfig, export_model
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import SessionOptions

from .conftest import run_cli

MODELS = ["digits-cnn", "digits-transformer", "tabular-mlp"]
FORMATS = ["onnx", "openvino", "tflite"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model", MODELS)
def test_builtin_exports_match_pytorch(exported, model, fmt):
    path = exported(model, fmt)
    art = Artifact.load(path)
    assert art is not None and art.format == fmt
    assert art.sha256 == sha256_file(path)
    assert art.parent["ref"] == f"builtin:{model}"
    assert art.dataset and "torch" in art.tools
    assert art.parity["passed"]
    (stats,) = art.parity["outputs"].values()
    assert stats["max_abs"] < 1e-4 and stats["top1_agreement"] == 1.0
    # the artifact also classifies the held-out data as well as the source does
    ds = load_dataset(art.dataset, "eval")
    sess = open_session(path, options=SessionOptions(precision="f32"))
    (x,) = fit_inputs(ds, sess.inputs)
    acc = float((sess.run([x])[0].argmax(1) == ds.labels).mean())
    assert acc > 0.9


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_dynamic_batch_really_works(exported, fmt):
    path = exported("digits-transformer", fmt)
    sess = open_session(path, options=SessionOptions(precision="f32"))
    assert not isinstance(sess.inputs[0].shape[0], int)
    src = load_source("builtin:digits-transformer")
    x = fit_inputs(load_dataset("sklearn:digits", "eval"), src.inputs)[0]
    for n in (1, 5, 33):
        out = sess.run([x[:n]])[0]
        assert out.shape == (n, 10)
        with torch.no_grad():
            ref = src.module(torch.from_numpy(x[:n])).numpy()
        np.testing.assert_allclose(out, ref, atol=1e-4)


def test_tflite_fixed_batch_recorded_and_runs_any_batch(exported):
    path = exported("digits-cnn", "tflite")
    art = Artifact.load(path)
    assert art.params["fixed_batch"] == 1 and art.inputs[0].shape[0] == 1
    sess = open_session(path)
    x = np.random.default_rng(0).uniform(0, 16, (7, 1, 8, 8)).astype(np.float32)
    assert sess.run([x])[0].shape == (7, 10)


def test_onnx_file_to_openvino(exported, tmp_path):
    onnx_path = exported("digits-cnn", "onnx")
    out = tmp_path / "from_onnx.xml"
    art = export_model(load_source(str(onnx_path)), ExportConfig(to="openvino", output=out))
    assert art.parity["passed"] and out.exists() and out.with_suffix(".bin").exists()
    assert art.parent["ref"] == str(onnx_path) and len(art.parent["sha256"]) == 64
    assert art.dataset == "sklearn:digits"  # carried over from the ONNX sidecar


def test_static_export_fixes_batch(tmp_path):
    out = tmp_path / "static.onnx"
    art = export_model(
        load_source("builtin:tabular-mlp"),
        ExportConfig(to="onnx", output=out, static=True, batch=4),
    )
    assert open_session(out).inputs[0].shape == [4, 30]
    assert art.inputs[0].shape[0] == 4 and art.params["static"]


def test_torch_export_program_and_torchscript_sources(tmp_path):
    src = load_source("builtin:digits-cnn")
    x = torch.zeros(2, 1, 8, 8)
    ep = torch.export.export(src.module, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, tmp_path / "cnn.pt2")
    torch.jit.save(torch.jit.trace(src.module, x), tmp_path / "cnn.ts")
    loaded = load_source(str(tmp_path / "cnn.pt2"))
    assert loaded.inputs[0].shape == ["batch", 1, 8, 8]
    art = export_model(
        loaded, ExportConfig(to="onnx", output=tmp_path / "from_pt2.onnx", data="sklearn:digits")
    )
    assert art.parity["passed"]
    r = run_cli(
        "export",
        tmp_path / "cnn.ts",
        "--to",
        "onnx",
        "--input",
        "x:batchx1x8x8",
        "--data",
        "sklearn:digits",
        "-o",
        tmp_path / "from_ts.onnx",
    )
    assert r.returncode == 0, r.stderr


def test_third_party_module_to_all_formats(tmp_path):
    """A module from an installed package the project did not write, via package.module:factory."""
    for fmt, suffix in (("onnx", ".onnx"), ("openvino", ".xml"), ("tflite", ".tflite")):
        out = tmp_path / f"encoder{suffix}"
        r = run_cli(
            "export",
            "torch.nn:TransformerEncoderLayer",
            "--factory-arg",
            "d_model=32",
            "--factory-arg",
            "nhead=4",
            "--factory-arg",
            "dim_feedforward=64",
            "--factory-arg",
            "batch_first=True",
            "--input",
            "src:batchx10x32:float32",
            "--to",
            fmt,
            "-o",
            out,
        )
        assert r.returncode == 0, r.stderr
        meta = json.loads(sidecar_path(out).read_text())
        assert meta["parity"]["passed"] and meta["parity"]["inputs"].startswith("seeded random")


def test_factory_file_with_example_inputs(tmp_path):
    from pathlib import Path

    ref = f"{Path(__file__).parent / 'models' / 'bad_factories.py'}:small_cnn"
    out = tmp_path / "cnn.xml"
    r = run_cli("export", ref, "--to", "openvino", "-o", out)
    assert r.returncode == 0, r.stderr
    art = Artifact.load(out)
    assert art.inputs[0].shape == ["batch", 3, 16, 16]


def test_parity_failure_fails_and_leaves_nothing(tmp_path):
    out = tmp_path / "strict.onnx"
    r = run_cli(
        "export", "builtin:digits-cnn", "--to", "onnx", "-o", out, "--tolerance", "0", "--rtol", "0"
    )
    assert r.returncode == 1
    assert "parity check failed on output 'logits'" in r.stderr and "max abs diff" in r.stderr
    assert "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_verify_is_recorded(tmp_path):
    out = tmp_path / "nv.onnx"
    art = export_model(
        load_source("builtin:tabular-mlp"), ExportConfig(to="onnx", output=out, verify=False)
    )
    assert art.parity is None and art.params["verified"] is False
    assert "not verified" in " ".join(Artifact.load(out).notes)


def test_hugging_face_text_model_to_all_formats(tmp_path):
    """A transformers BERT (tiny config) with int64 ids and a mask, dynamic batch and sequence."""
    from pathlib import Path

    ref = f"{Path(__file__).parent / 'models' / 'bad_factories.py'}:tiny_bert"
    specs = ["--input", "input_ids:batchxseq:int64", "--input", "attention_mask:batchxseq:int64"]
    for fmt, suffix in (("onnx", ".onnx"), ("openvino", ".xml"), ("tflite", ".tflite")):
        out = tmp_path / f"bert{suffix}"
        r = run_cli("export", ref, *specs, "--to", fmt, "-o", out)
        assert r.returncode == 0, r.stderr
        art = Artifact.load(out)
        assert art.parity["passed"] and len(art.parity["outputs"]) == 2
        if fmt == "tflite":  # fixed shapes, recorded as such
            assert art.inputs[0].shape == [1, 16]
    sess = open_session(tmp_path / "bert.onnx")
    ids = np.random.default_rng(0).integers(0, 100, (3, 40))
    out = sess.run([ids, np.ones_like(ids)])
    assert out[0].shape == (3, 40, 32)  # another batch and sequence length than exported
