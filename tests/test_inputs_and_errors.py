"""Bad input through the real `optimize` executable: one-line errors, exit codes, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edgeopt.core.spec import parse_input_spec
from edgeopt.errors import UsageError

from .conftest import run_cli

FACTORIES = Path(__file__).parent / "models" / "bad_factories.py"


def _assert_clean_error(r, code: int, *phrases: str) -> None:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.count("error:") == 1
    for p in phrases:
        assert p in r.stderr, r.stderr


def test_parse_input_spec():
    s = parse_input_spec("pixel_values:batchx3x224x224:float32")
    assert s.name == "pixel_values" and s.shape == ["batch", 3, 224, 224]
    assert parse_input_spec("ids:?x128:int64").shape == ["?", 128]
    assert parse_input_spec("x:1x8").dtype == "float32"
    for bad in ("nocolon", "x:1x-3x4", "x:1x8:complex99"):
        with pytest.raises(UsageError):
            parse_input_spec(bad)


def test_missing_model(tmp_path):
    r = run_cli("export", tmp_path / "nope.onnx", "--to", "openvino")
    _assert_clean_error(r, 2, "model not found")


@pytest.mark.parametrize(
    "name,content,phrase",
    [
        ("junk.onnx", b"this is not a model", "not a valid ONNX model"),
        ("junk.tflite", b"\x00" * 64, "not a TFLite flatbuffer"),
        ("empty.onnx", b"", "is empty"),
        ("junk.xml", b"hello", "has no junk.bin"),
        ("model.txt", b"hello", "unrecognised model file"),
    ],
)
def test_not_a_model(tmp_path, name, content, phrase):
    f = tmp_path / name
    f.write_bytes(content)
    _assert_clean_error(run_cli("inspect", f), 2, phrase)


def test_truncated_onnx(exported, tmp_path):
    data = exported("tabular-mlp", "onnx").read_bytes()
    f = tmp_path / "cut.onnx"
    f.write_bytes(data[: len(data) // 2])
    _assert_clean_error(
        run_cli("export", f, "--to", "openvino", "-o", tmp_path / "x.xml"),
        2,
        "not a valid ONNX model",
    )
    assert not (tmp_path / "x.xml").exists()


def test_factory_that_raises():
    _assert_clean_error(
        run_cli("export", f"{FACTORIES}:raises", "--to", "onnx"),
        2,
        "raised RuntimeError: weights file missing",
    )


def test_factory_returning_other_things():
    _assert_clean_error(
        run_cli("export", f"{FACTORIES}:not_a_module", "--to", "onnx"),
        2,
        "returned dict, not a torch.nn.Module",
    )


def test_unknown_factory_and_module():
    _assert_clean_error(
        run_cli("inspect", f"{FACTORIES}:nothing_here"), 2, "no callable 'nothing_here'"
    )
    _assert_clean_error(run_cli("inspect", "no_such_pkg.models:build"), 2, "cannot import module")


def test_malformed_input_option():
    _assert_clean_error(
        run_cli("export", "torch.nn:Identity", "--to", "onnx", "--input", "x:1xfoo!"),
        2,
        "malformed dimension",
    )


def test_factory_without_shapes_asks_for_input():
    _assert_clean_error(run_cli("export", "torch.nn:Identity", "--to", "onnx"), 2, "--input")


def test_unsupported_op_names_it(tmp_path):
    out = tmp_path / "eig.onnx"
    r = run_cli("export", f"{FACTORIES}:eigen", "--to", "onnx", "-o", out)
    _assert_clean_error(r, 1, "ONNX export failed", "aten::linalg_eigvals")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_not_overwritten(tmp_path):
    out = tmp_path / "mlp.onnx"
    out.write_bytes(b"precious")
    r = run_cli("export", "builtin:tabular-mlp", "--to", "onnx", "-o", out)
    _assert_clean_error(r, 2, "already exists", "--force")
    assert out.read_bytes() == b"precious"
    r = run_cli("export", "builtin:tabular-mlp", "--to", "onnx", "-o", out, "--force")
    assert r.returncode == 0 and out.read_bytes() != b"precious"


def test_pickle_needs_consent(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    torch.save(model, tmp_path / "full.pt")
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    args = ["--to", "onnx", "--input", "x:batchx4"]
    _assert_clean_error(
        run_cli("export", tmp_path / "full.pt", *args, "-o", tmp_path / "a.onnx"),
        2,
        "can run arbitrary code",
        "--trust-pickle",
    )
    r = run_cli("export", tmp_path / "full.pt", *args, "-o", tmp_path / "a.onnx", "--trust-pickle")
    assert r.returncode == 0, r.stderr
    _assert_clean_error(run_cli("export", tmp_path / "weights.pt", *args), 2, "state dict")


def test_tflite_without_litert_torch_says_how_to_install(tmp_path):
    blocker = tmp_path / "block" / "litert_torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('litert_torch hidden by the test')\n")
    from .conftest import REPO

    r = run_cli(
        "export",
        "builtin:tabular-mlp",
        "--to",
        "tflite",
        "-o",
        tmp_path / "m.tflite",
        env={"PYTHONPATH": f"{REPO}:{tmp_path / 'block'}"},
    )
    _assert_clean_error(r, 1, "needs litert-torch", "pip install 'edgeopt[tflite]'")


def test_debug_shows_traceback(tmp_path):
    r = run_cli("--debug", "export", f"{FACTORIES}:raises", "--to", "onnx")
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_models_and_inspect(exported):
    r = run_cli("models")
    assert r.returncode == 0 and "builtin:digits-cnn" in r.stdout
    r = run_cli("inspect", exported("digits-cnn", "onnx"), "--json")
    import json

    info = json.loads(r.stdout)
    assert info["format"] == "onnx" and info["op_histogram"]["Conv"] == 4
    assert info["parameters"] > 100_000 and info["file_size_bytes"] > 0
