"""optimize quantize / diagnose on real runtimes and real data (scikit-learn digits)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli


def test_cli_static_onnx_cnn(exported, tmp_path):
    """The default for a CNN is static QDQ int8: small, accurate, calibrated off the eval split."""
    src = exported("digits-cnn", "onnx")
    out = tmp_path / "cnn.int8.onnx"
    proc = run_cli("quantize", src, "-o", out, "--latency-seconds", "0.3")
    assert proc.returncode == 0, proc.stderr
    assert "mode: static" in proc.stderr and "convolution-heavy" in proc.stderr
    meta = json.loads(Path(str(out) + ".edgeopt.json").read_text())
    assert meta["step"] == "quantize" and meta["precision"] == "int8"
    assert meta["parent"]["sha256"] and meta["parent"]["path"] == str(src)
    assert meta["extra"]["size"]["ratio"] <= 0.30
    assert meta["extra"]["accuracy"]["drop"] <= 0.01
    assert meta["extra"]["calibration"]["split"] == "calib"
    assert meta["extra"]["accuracy"]["parent"]["dataset"]["split"] == "eval"
    assert meta["extra"]["latency"]["speedup"] > 0
    # not in place, and refusing to overwrite
    again = run_cli("quantize", src, "-o", out)
    assert again.returncode == 2 and "--force" in again.stderr


def test_diagnose_cli_and_exclude_roundtrip(exported, tmp_path):
    src = exported("digits-cnn", "onnx")
    q = tmp_path / "q.onnx"
    run_cli("quantize", src, "-o", q, "--latency-seconds", "0", check=True)
    rep = tmp_path / "d.json"
    proc = run_cli("diagnose", src, q, "--samples", "16", "--json", rep, check=True)
    assert "SQNR" in proc.stdout
    data = json.loads(rep.read_text())
    sq = [r["sqnr_db"] for r in data["layers"]]
    assert sq == sorted(sq) and len(sq) >= 5
    assert all(r["cosine"] > 0.99 for r in data["layers"])  # an accurate int8 CNN
    conv = next(r["layer"] for r in data["layers"] if r["op_type"] == "Conv")
    q2 = tmp_path / "q2.onnx"
    run_cli("quantize", src, "-o", q2, "--exclude", conv, "--latency-seconds", "0", check=True)
    meta = json.loads(Path(str(q2) + ".edgeopt.json").read_text())
    assert any(conv in op for op in meta["extra"]["float_ops"])
    bad = run_cli("quantize", src, "-o", tmp_path / "q3.onnx", "--exclude", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_transformer_dynamic_onnx(exported, tmp_path):
    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    art = quantize_artifact(
        exported("digits-transformer", "onnx"),
        QuantizeConfig(output=tmp_path / "t.onnx", latency_seconds=0),
    )
    assert art.params["mode"] == "dynamic"
    assert art.extra["accuracy"]["drop"] <= 0.01
    assert art.extra["size"]["ratio"] < 0.5


def test_openvino_static_cnn(exported, tmp_path):
    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    art = quantize_artifact(
        exported("digits-cnn", "openvino"),
        QuantizeConfig(mode="static", output=tmp_path / "c.xml", samples=100, latency_seconds=0),
    )
    assert art.path.with_suffix(".bin").exists()
    assert art.extra["size"]["ratio"] <= 0.30
    assert art.extra["accuracy"]["drop"] <= 0.01
    assert art.extra["float_ops"] == []


def test_fp16_onnx_keeps_float32_io(exported, tmp_path):
    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact
    from edgeopt.runtimes import open_session

    art = quantize_artifact(
        exported("digits-cnn", "onnx"),
        QuantizeConfig(mode="fp16", output=tmp_path / "h.onnx", latency_seconds=0),
    )
    sess = open_session(art.path)
    assert sess.inputs[0].dtype == "float32" and sess.outputs[0].dtype == "float32"
    assert 0.45 < art.extra["size"]["ratio"] < 0.55
    assert art.extra["accuracy"]["drop"] <= 0.01


def test_static_without_data_is_a_usage_error(tmp_path):
    import torch

    path = tmp_path / "m.onnx"
    torch.onnx.export(
        torch.nn.Conv2d(1, 4, 3).eval(),
        (torch.randn(2, 1, 8, 8),),
        str(path),
        dynamo=False,
        input_names=["x"],
    )
    proc = run_cli("quantize", path, "--mode", "static")
    assert proc.returncode == 2 and "--calib" in proc.stderr


def _fragile_onnx(tmp_path: Path) -> Path:
    """A digits MLP whose first layer has a huge weight in every row on pixel 0.

    Pixel 0 of scikit-learn's digits is always 0, so in float the outliers change nothing;
    quantized, they set every row's int8 scale and crush the real weights to zero.
    """
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    torch.manual_seed(0)
    d = load_digits()
    assert (d.data[:, 0] == 0).all()
    x = torch.tensor(d.data, dtype=torch.float32)  # raw 0..16, as the dataset gives them
    y = torch.tensor(d.target)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp, self.mid, self.out = nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10)

        def forward(self, t):
            return self.out(torch.relu(self.mid(torch.relu(self.inp(t / 16.0)))))

    m = MLP()
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    with torch.no_grad():
        m.inp.weight[:, 0] = 1000.0
    path = tmp_path / "fragile.onnx"
    torch.onnx.export(
        m.eval(),
        (x[:2],),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}},
    )
    return path


def test_accuracy_budget_keeps_outlier_layer_float(tmp_path):
    from edgeopt.errors import EdgeoptError
    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    src = _fragile_onnx(tmp_path)
    # without a budget, the default floor refuses the broken result, naming the figure
    with pytest.raises(EdgeoptError, match=r"below the default accuracy floor.*agreement 0\.\d"):
        quantize_artifact(
            src,
            QuantizeConfig(mode="static", calib="sklearn:digits", output=tmp_path / "p.onnx"),
        )
    assert not (tmp_path / "p.onnx").exists()
    plain = quantize_artifact(  # a budget the user lowered explicitly hands it back
        src,
        QuantizeConfig(
            mode="static",
            calib="sklearn:digits",
            accuracy_budget={"agreement_min": 0.0},
            output=tmp_path / "plain.onnx",
            latency_seconds=0,
        ),
    )
    assert plain.extra["accuracy"]["drop"] > 0.05  # really fragile
    art = quantize_artifact(
        src,
        QuantizeConfig(
            mode="static",
            calib="sklearn:digits",
            accuracy_budget={"accuracy_drop_max_points": 1.0},
            output=tmp_path / "aware.onnx",
            latency_seconds=0,
        ),
    )
    assert art.extra["accuracy"]["drop"] <= 0.01
    assert art.extra["kept_float"] == ["/inp/Gemm"]
    assert "/inp/Gemm" in " ".join(art.extra["float_ops"])
    assert len(art.extra["search"]) == 2
    # when no configuration within the search meets the budget: a clear failure, no file
    with pytest.raises(EdgeoptError, match=r"best accuracy_drop_points [4-9]\d"):
        quantize_artifact(
            src,
            QuantizeConfig(
                mode="static",
                calib="sklearn:digits",
                accuracy_budget={"accuracy_drop_max_points": 1.0},
                max_search_steps=0,
                output=tmp_path / "x.onnx",
                latency_seconds=0,
            ),
        )
    assert not (tmp_path / "x.onnx").exists()


def test_tflite_full_int8_float_io_by_default_and_int8_io_on_request(exported, tmp_path):
    """Full int8 keeps float32 I/O (fed like the parent) unless --int8-io asks for int8 tensors,
    whose scale and zero point the metadata then records."""
    from ai_edge_litert.interpreter import Interpreter

    from edgeopt.artifacts.artifact import Artifact

    src = exported("digits-cnn", "tflite")
    for flag, dtype in (("", np.float32), ("--int8-io", np.int8)):
        out = tmp_path / f"q{flag}.tflite"
        r = run_cli(
            "quantize",
            src,
            "--mode",
            "static",
            *([flag] if flag else []),
            "-o",
            out,
            "--latency-seconds",
            "0",
        )
        assert r.returncode == 0, r.stderr
        it = Interpreter(model_path=str(out))
        assert it.get_input_details()[0]["dtype"] == dtype
        assert it.get_output_details()[0]["dtype"] == dtype
        art = Artifact.load(out)
        assert art.extra["accuracy"]["drop"] <= 0.01
        if flag:
            q = art.inputs[0].extra
            assert (
                art.inputs[0].dtype == "int8" and q["scale"] > 0 and -128 <= q["zero_point"] < 128
            )
            assert art.outputs[0].extra["scale"] > 0
        else:
            assert art.inputs[0].dtype == "float32" and not art.inputs[0].extra
