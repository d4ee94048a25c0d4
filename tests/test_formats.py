"""The format registry: every table is derived from it, and a format added from outside (one
module plus one registration line) works through export, inspect and bench."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgeopt import formats
from edgeopt.runtimes import RUNTIMES
from tests.conftest import run_cli

PLUGINS = Path(__file__).parent / "plugins"


def test_every_format_names_registered_runtimes_and_unique_suffixes():
    seen: dict[str, str] = {}
    for spec in formats.all_formats():
        for runtime in spec.runtimes:
            assert runtime in RUNTIMES, f"{spec.name} names unknown runtime {runtime}"
        for sfx in spec.suffixes:
            assert sfx not in seen, f"{sfx} belongs to {seen[sfx]} and {spec.name}"
            seen[sfx] = spec.name
        assert spec.runnable or spec.torch, f"{spec.name} can neither run nor load as torch"


def test_registry_lookups():
    assert formats.format_of("a/b/model.xml") == "openvino"
    assert formats.format_of("model.onnx") == "onnx"
    assert formats.format_of("model.unknown") is None
    assert set(formats.names("exporter")) >= {"onnx", "openvino", "tflite"}
    with pytest.raises(Exception, match="cannot quantize ort"):
        formats.get_format("ort", "quantizer")


@pytest.fixture()
def plugin_env(tmp_path):
    return {
        "EDGEOPT_PLUGINS": "edgeopt_onnxjson",
        "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(Path(__file__).resolve().parents[1])]),
    }


def test_a_format_added_by_a_plugin_goes_through_export_inspect_and_bench(tmp_path, plugin_env):
    out = tmp_path / "mlp.onnx.json"
    help_text = run_cli("export", "--help", env=plugin_env).stdout
    assert "onnx-json" in help_text  # the CLI choices come from the registry
    r = run_cli("export", "builtin:tabular-mlp", "--to", "onnx-json", "-o", out, env=plugin_env)
    assert r.returncode == 0, r.stderr
    assert "parity" in r.stderr and out.exists()
    r = run_cli("inspect", out, "--json", env=plugin_env)
    assert r.returncode == 0, r.stderr
    assert '"format": "onnx-json"' in r.stdout and "Gemm" in r.stdout
    r = run_cli("bench", out, "--max-time", "1", "--no-memory", "--json", env=plugin_env)
    assert r.returncode == 0, r.stderr
    assert '"runtime": "onnxruntime-json"' in r.stdout and '"top1"' in r.stdout
    # what the plugin does not offer is refused by name, before any work
    r = run_cli("quantize", out, env=plugin_env)
    assert r.returncode == 2 and "cannot quantize" in r.stderr
    # without the registration line the format does not exist
    r = run_cli("inspect", out)
    assert r.returncode == 2 and "unrecognised model file" in r.stderr


def test_a_plugin_that_cannot_be_imported_is_a_usage_error(tmp_path):
    r = run_cli("models", env={"EDGEOPT_PLUGINS": "no_such_plugin_module"})
    assert r.returncode == 2 and "no_such_plugin_module" in r.stderr
