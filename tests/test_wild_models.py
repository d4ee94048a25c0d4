"""Models from the wild: ready-made ONNX, TFLite and TorchScript files with the properties
that broke int8, stateful inputs and recipes (issue 14), built here with torch, onnx's helper
and litert-torch, then taken through the real `optimize` executable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli

pytest.importorskip("onnx")


def _conv_bn():
    import torch
    from torch import nn

    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    ).eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2)
    return m


def _stateful():
    """A GRU with its state as an input ([layers, batch, hidden]) and a scalar int64 input
    that the model checks (a sample rate)."""
    import torch
    from torch import nn

    class Stateful(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(16, 32, num_layers=2)
            self.head = nn.Linear(32, 2)

        def forward(self, x, state, sr):
            y, h = self.gru(x.unsqueeze(0), state)
            return self.head(y[0]) * ((sr == 16000).float() + 1.0), h

    torch.manual_seed(0)
    return Stateful().eval()


def _tflite_models(root: Path) -> None:
    """A small CNN converted without signatures (the SignatureDef stripped from the
    flatbuffer, as old converters wrote them) and a CNN whose RESHAPE hard-codes batch 1."""
    import flatbuffers
    import litert_torch
    import torch
    from ai_edge_litert import schema_py_generated as schema
    from torch import nn

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.c, self.l = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, 4)

        def forward(self, x):
            return self.l(torch.relu(self.c(x)).mean((2, 3)))

    class BatchOneReshape(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return self.c(x).reshape(1, 4, 64).permute(0, 2, 1)

    torch.manual_seed(0)
    signed = root / "signed.tflite"
    litert_torch.convert(Small().eval(), (torch.randn(1, 3, 16, 16),)).export(str(signed))
    litert_torch.convert(BatchOneReshape().eval(), (torch.randn(1, 3, 8, 8),)).export(
        str(root / "reshape1.tflite")
    )
    # over 256 KB of int8 weights: ai-edge-quantizer then stores them after the flatbuffer
    wide = nn.Sequential(nn.Linear(64, 1024), nn.ReLU(), nn.Linear(1024, 512)).eval()
    litert_torch.convert(wide, (torch.randn(1, 64),)).export(str(root / "wide.tflite"))
    buf = signed.read_bytes()
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    m.signatureDefs = []
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    (root / "nosig.tflite").write_bytes(bytes(b.Output()))


def _constant_if(path: Path) -> None:
    """Weights as Constant nodes (no initializers) and an If node with a MatMul per branch."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    r = np.random.default_rng(0)
    w1, w2 = (r.standard_normal((8, 4)).astype(np.float32) for _ in range(2))

    def const(name, value):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))

    out = helper.make_tensor_value_info
    then_g = helper.make_graph(
        [const("tw", w2), helper.make_node("MatMul", ["x", "tw"], ["t"])],
        "then",
        [],
        [out("t", TensorProto.FLOAT, None)],
    )
    else_g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["e"])],
        "else",
        [],
        [out("e", TensorProto.FLOAT, None)],
    )
    nodes = [
        const("W", w1),
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        const("zero", np.array(0, np.float32)),
        helper.make_node("Greater", ["s", "zero"], ["cond"]),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    g = helper.make_graph(
        nodes,
        "constif",
        [out("x", TensorProto.FLOAT, ["batch", 8])],
        [out("y", TensorProto.FLOAT, ["batch", 4])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))


@pytest.fixture(scope="module")
def wild(tmp_path_factory):
    """Every wild model and its data (sample-first npz files), built once for the module."""
    import torch

    root = tmp_path_factory.mktemp("wild")
    torch.onnx.export(
        _conv_bn(),
        (torch.randn(2, 3, 32, 32),),
        str(root / "opset11.onnx"),
        opset_version=11,
        dynamo=False,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    )
    torch.onnx.export(
        _stateful(),
        (torch.randn(2, 16), torch.zeros(2, 2, 32), torch.tensor(16000)),
        str(root / "stateful.onnx"),
        opset_version=17,
        dynamo=False,
        input_names=["x", "state", "sr"],
        output_names=["y", "hn"],
        dynamic_axes={
            "x": {0: "batch"},
            "state": {1: "batch"},
            "y": {0: "batch"},
            "hn": {1: "batch"},
        },
    )
    torch.jit.script(_conv_bn()).save(str(root / "model.jit"))
    _constant_if(root / "constif.onnx")
    r = np.random.default_rng(0)
    np.savez(root / "conv.npz", x=r.standard_normal((40, 3, 32, 32)).astype("f4"))
    # state samples first ([N, layers, hidden]); the scalar one value per sample
    np.savez(
        root / "state.npz",
        x=r.standard_normal((40, 16)).astype("f4"),
        state=(r.standard_normal((40, 2, 32)) * 0.1).astype("f4"),
        sr=np.full(40, 16000, np.int64),
    )
    np.savez(root / "small.npz", x=r.standard_normal((40, 3, 16, 16)).astype("f4"))
    np.savez(root / "r1.npz", x=r.standard_normal((40, 3, 8, 8)).astype("f4"))
    np.savez(root / "wide.npz", x=r.standard_normal((40, 64)).astype("f4"))
    np.savez(root / "ci.npz", x=r.standard_normal((40, 8)).astype("f4"))
    if _has_litert_torch():
        _tflite_models(root)
    return root


def _has_litert_torch() -> bool:
    try:
        import litert_torch  # noqa: F401
    except ImportError:
        return False
    return True


needs_tflite = pytest.mark.skipif(not _has_litert_torch(), reason="litert-torch not installed")


def cli(root: Path, *args: str):
    return run_cli(*args, cwd=root, env={"EDGEOPT_CACHE": str(root / "cache")})


def ok(proc) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def sidecar(path: Path) -> dict:
    return json.loads(Path(str(path) + ".edgeopt.json").read_text())


# 1. old opsets --------------------------------------------------------------------------


def test_opset11_static_int8_is_upgraded_and_says_so(wild):
    out = ok(
        cli(
            wild,
            "quantize",
            "opset11.onnx",
            "--mode",
            "static",
            "--calib",
            "npz:conv.npz",
            "--latency-seconds",
            "0",
            "--force",
        )
    )
    assert "opset 11 upgraded to 13" in out
    assert "per-channel int8 weights" in out
    meta = sidecar(wild / "opset11.int8-static.onnx")
    assert meta["precision"] == "int8" and meta["params"]["per_channel"] is True


def test_per_tensor_mode_line_tells_the_truth(wild):
    out = ok(
        cli(
            wild,
            "quantize",
            "opset11.onnx",
            "--per-tensor",
            "--calib",
            "npz:conv.npz",
            "-o",
            "pt.onnx",
            "--latency-seconds",
            "0",
            "--force",
        )
    )
    assert "per-channel" not in out, out
    assert "per-tensor" in out
    assert sidecar(wild / "pt.onnx")["params"]["per_channel"] is False


# 3. scalar and state inputs -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_state_and_scalar_inputs_quantize(wild, mode):
    out = ok(
        cli(
            wild,
            "quantize",
            "stateful.onnx",
            "--mode",
            mode,
            "--calib",
            "npz:state.npz",
            "--latency-seconds",
            "0.2",
            "--force",
        )
    )
    assert "IndexError" not in out
    assert sidecar(wild / f"stateful.int8-{mode}.onnx")["precision"] == "int8"


def test_state_and_scalar_inputs_bench_and_openvino(wild):
    ok(cli(wild, "export", "stateful.onnx", "--to", "openvino", "-o", "st.xml", "--force"))
    shapes = {s["name"]: s["shape"] for s in sidecar(wild / "st.xml")["inputs"]}
    assert shapes == {"x": ["batch", 16], "state": [2, "batch", 32], "sr": []}
    out = ok(
        cli(
            wild,
            "bench",
            "st.xml",
            "--baseline",
            "stateful.onnx",
            "--data",
            "npz:state.npz",
            "--max-time",
            "0.5",
        )
    )
    assert " cos " in out.splitlines()[0] + " "
    row = next(ln for ln in out.splitlines() if ln.startswith("st.xml"))
    assert "1.0000" in row or "0.99" in row, row


# 4. --input reaches the OpenVINO converter -------------------------------------------------


def test_export_input_fixes_the_ir_shapes(wild):
    ok(
        cli(
            wild,
            "export",
            "opset11.onnx",
            "--to",
            "openvino",
            "--input",
            "x:1x3x32x32:float32",
            "-o",
            "fixed.xml",
            "--force",
        )
    )
    assert sidecar(wild / "fixed.xml")["inputs"][0]["shape"] == [1, 3, 32, 32]
    assert 'shape="1,3,32,32"' in (wild / "fixed.xml").read_text()


# 5. TorchScript named .jit --------------------------------------------------------------


def test_torchscript_jit_is_recognised_and_exports(wild):
    out = ok(cli(wild, "inspect", "model.jit", "--input", "x:batchx3x32x32:float32"))
    assert "x  batchx3x32x32" in out
    ok(
        cli(
            wild,
            "export",
            "model.jit",
            "--to",
            "onnx",
            "--input",
            "x:batchx3x32x32:float32",
            "--data",
            "npz:conv.npz",
            "-o",
            "jit.onnx",
            "--force",
        )
    )
    # the same archive named .pt is TorchScript by its content
    (wild / "zoo.pt").write_bytes((wild / "model.jit").read_bytes())
    ok(cli(wild, "inspect", "zoo.pt", "--input", "x:batchx3x32x32:float32"))


# 7. TFLite without a SignatureDef -----------------------------------------------------------


@needs_tflite
def test_tflite_without_signature_quantizes_and_compiles(wild):
    out = ok(
        cli(
            wild,
            "quantize",
            "nosig.tflite",
            "--mode",
            "static",
            "--calib",
            "npz:small.npz",
            "--latency-seconds",
            "0",
            "--force",
        )
    )
    assert "StopIteration" not in out
    assert "no SignatureDef" in out
    ok(
        cli(
            wild, "compile", "nosig.tflite", "--target", "arm", "--data", "npz:small.npz", "--force"
        )
    )
    assert sidecar(wild / "nosig.arm.tflite")["precision"] == "int8"


def _invoke(path: Path, x: np.ndarray) -> np.ndarray:
    """One LiteRT call on a single-input, single-output file."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@needs_tflite
def test_tflite_static_int8_keeps_weights_stored_after_the_flatbuffer(wild):
    """ai-edge-quantizer writes large weights after the flatbuffer (offset/size); restoring
    float I/O must keep them, or LiteRT refuses the file ("out of range offset")."""
    args = ["--mode", "static", "--calib", "npz:wide.npz", "--latency-seconds", "0"]
    out = ok(cli(wild, "quantize", "wide.tflite", *args, "--force"))
    assert "out of range offset" not in out
    q = wild / "wide.int8-static.tflite"
    x = np.load(wild / "wide.npz")["x"][:1]
    y, want = _invoke(q, x), _invoke(wild / "wide.tflite", x)
    cos = float((y * want).sum() / np.linalg.norm(y) / np.linalg.norm(want))
    assert cos > 0.98, cos


@needs_tflite
def test_tflite_fp16_model_is_never_relabelled(wild):
    ok(
        cli(
            wild,
            "quantize",
            "nosig.tflite",
            "--mode",
            "fp16",
            "-o",
            "half.tflite",
            "--latency-seconds",
            "0",
            "--force",
        )
    )
    for mode in ("dynamic", "weight-only", "fp16"):
        p = cli(
            wild,
            "quantize",
            "half.tflite",
            "--mode",
            mode,
            "-o",
            f"half.{mode}.tflite",
            "--latency-seconds",
            "0",
            "--force",
        )
        assert p.returncode == 2, p.stdout + p.stderr
        assert "already fp16" in p.stderr
        assert not (wild / f"half.{mode}.tflite").exists()


# 8. batch fixed inside the graph ------------------------------------------------------------


@needs_tflite
def test_tflite_batch_one_reshape_runs_one_sample_at_a_time(wild):
    from edgeopt.runtimes import open_session

    sess = open_session(wild / "reshape1.tflite")
    x = np.random.default_rng(0).standard_normal((5, 3, 8, 8)).astype("f4")
    batched = sess.run([x])[0]
    single = np.concatenate([sess.run([x[i : i + 1]])[0] for i in range(5)])
    assert batched.shape == (5, 64, 4)
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-5)
    ok(
        cli(
            wild, "compile", "reshape1.tflite", "--target", "arm", "--data", "npz:r1.npz", "--force"
        )
    )


# 10. Constant-node weights and If subgraphs ------------------------------------------------


def test_constant_weights_and_if_subgraphs(wild):
    out = ok(cli(wild, "inspect", "constif.onnx", "--json"))
    info = json.loads(out[out.index("{") :])
    assert info["parameters"] >= 64  # two 8x4 weights, one inside the If's branch
    assert info["op_histogram"]["MatMul"] == 2
    ok(
        cli(
            wild,
            "quantize",
            "constif.onnx",
            "--mode",
            "dynamic",
            "--calib",
            "npz:ci.npz",
            "--latency-seconds",
            "0",
            "--force",
        )
    )
    assert sidecar(wild / "constif.int8-dynamic.onnx")["precision"] == "int8"
    # static QDQ cannot reach the branches: a clear refusal, never an fp32 file labelled int8
    p = cli(
        wild,
        "quantize",
        "constif.onnx",
        "--mode",
        "static",
        "--calib",
        "npz:ci.npz",
        "--latency-seconds",
        "0",
        "--force",
    )
    assert p.returncode == 1, p.stdout + p.stderr
    assert "not int8" in p.stderr and "--mode dynamic" in p.stderr
    assert not (wild / "constif.int8-static.onnx").exists()


# every model through compile for cpu and arm -------------------------------------------------

COMPILE = [
    ("opset11.onnx", "conv.npz"),
    ("stateful.onnx", "state.npz"),
    ("constif.onnx", "ci.npz"),
    ("nosig.tflite", "small.npz"),
    ("reshape1.tflite", "r1.npz"),
]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cpu", "arm"])
@pytest.mark.parametrize(("model", "data"), COMPILE)
def test_compile_every_wild_model(wild, model, data, target):
    if model.endswith(".tflite") and not _has_litert_torch():
        pytest.skip("litert-torch not installed")
    out_dir = wild / f"compiled-{target}"
    ok(
        cli(
            wild,
            "compile",
            model,
            "--target",
            target,
            "--data",
            f"npz:{data}",
            "--output-dir",
            str(out_dir),
            "--force",
        )
    )


# 9. recipes with a file source ------------------------------------------------------------


def test_recipe_asking_a_file_for_another_format_fails_before_work(wild):
    recipe = wild / "bad.toml"
    recipe.write_text(
        'name = "bad"\n[model]\nsource = "constif.onnx"\n[candidates.arm]\nformat = ["tflite"]\n'
    )
    p = cli(wild, "run", "bad.toml", "-o", "runs-bad")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "constif.onnx" in p.stderr and "can only be used as onnx, openvino" in p.stderr
    assert "build" not in p.stderr


@pytest.mark.slow
def test_recipe_with_an_onnx_file_source_has_a_baseline(wild):
    recipe = wild / "file.toml"
    recipe.write_text(
        'name = "file"\n[model]\nsource = "opset11.onnx"\n'
        '[data]\nevaluation = "npz:conv.npz"\ncalibration = "npz:conv.npz"\n'
        "[bench]\nmax_time = 0.5\nthreads = 1\n"
        '[candidates.cpu]\nformat = ["onnx"]\nprecision = ["fp32", "int8"]\n'
    )
    p = cli(wild, "run", "file.toml", "-o", "runs")
    run_json = next((wild / "runs").glob("*/run.json"))
    summary = json.loads(run_json.read_text())
    cpu = summary["targets"]["cpu"]
    assert "baseline could not be built" not in str(cpu.get("reason")), cpu
    assert "0 failed" in p.stderr, p.stderr


def test_compile_input_fixes_openvino_shapes(exported, tmp_path):
    """compile --input specialises an OpenVINO blob; the sidecar says what the blob takes."""
    import json

    xml = exported("digits-cnn", "openvino")
    out = tmp_path / "c"
    run_cli(
        "compile", xml, "--target", "cpu", "--output-dir", out,
        "--input", "input:1x1x8x8:float32", check=True,
    )  # fmt: skip
    side = json.loads(next(out.glob("*.blob.edgeopt.json")).read_text())
    assert side["inputs"][0]["shape"] == [1, 1, 8, 8]
    import openvino as ov

    compiled = ov.Core().import_model(next(out.glob("*.blob")).read_bytes(), "CPU")
    assert list(compiled.inputs[0].get_partial_shape().to_shape()) == [1, 1, 8, 8]
    onnx_file = exported("digits-cnn", "onnx")
    proc = run_cli("compile", onnx_file, "--target", "cpu", "--input", "input:1x1x8x8:float32")
    assert proc.returncode == 2 and "cannot reshape onnx" in proc.stderr, proc.stderr
