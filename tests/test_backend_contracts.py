"""One contract, run against every backend the format registry names (NNCF's template tests).

A new format's exporter, quantizer or diagnoser is picked up from the registry and must pass
the same checks as the built-in ones; nothing here lists backends by hand.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgeopt import formats
from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.precision import MODES, QuantMode
from edgeopt.errors import UsageError
from edgeopt.models.source import load_source
from edgeopt.optimize.export import ExportConfig, export_model, exporter_for
from edgeopt.optimize.export.common import Exporter
from edgeopt.optimize.quantize import (
    QuantizeBackend,
    QuantizeConfig,
    backend_for,
    classify_content,
    quantizable_ops,
    quantize_artifact,
)
from edgeopt.runtimes import open_session

MODEL = "builtin:tabular-mlp"  # small, labelled data, MatMul-only: every backend takes it


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("contracts")
    cache = {}

    def get(fmt: str):
        if fmt not in cache:
            out = root / f"mlp{formats.get_format(fmt).suffix}"
            cache[fmt] = export_model(load_source(MODEL), ExportConfig(to=fmt, output=out))
        return cache[fmt]

    return get


@pytest.mark.parametrize("fmt", formats.names("exporter"))
def test_exporter_contract(fmt, exports):
    assert isinstance(exporter_for(fmt), Exporter)
    art = exports(fmt)
    assert art.format == fmt and art.path.name.endswith(formats.get_format(fmt).suffix)
    assert art.parity and art.parity["passed"], "every export is verified against its source"
    assert Artifact.load(art.path).sha256 == art.sha256
    sess = open_session(art.path)
    out = sess.run([np.zeros((3, 30), np.float32)])
    assert out[0].shape == (3, 2)


@pytest.mark.parametrize("fmt", formats.names("quantizer"))
def test_quantizer_declares_its_tables(fmt, exports):
    backend = backend_for(fmt)
    assert isinstance(backend, QuantizeBackend)
    assert backend.conv_ops and backend.matmul_ops and not backend.conv_ops & backend.matmul_ops
    assert set(backend.modes) <= set(QuantMode)
    path = exports(fmt).path
    counts = formats.get_format(fmt).inspector.op_counts(path)
    content, conv, mm = classify_content(backend, counts)
    assert (content, conv) == ("matmul", 0) and mm == 3  # three Linear layers
    layers = backend.quantizable_layers(path)
    assert len(layers) == 3 and set(layers) <= set(backend.layer_names(path))


@pytest.mark.parametrize(
    "fmt,mode",
    [(f, m) for f in formats.names("quantizer") for m in backend_for(f).modes],
)
def test_quantizer_produces_every_mode_it_declares(fmt, mode, exports, tmp_path):
    parent = exports(fmt)
    out = tmp_path / f"q{parent.path.suffix}"
    # the mechanics of every mode, whatever int8 does to this model's accuracy (full int8 of
    # the MLP's raw wide-range inputs loses answers: the default floor would refuse it)
    lenient = {"agreement_min": 0.0}
    cfg = QuantizeConfig(mode=mode, output=out, latency_seconds=0, accuracy_budget=lenient)
    art = quantize_artifact(parent.path, cfg)
    assert art.precision == MODES[mode].precision
    assert art.params["mode"] == mode.value
    assert isinstance(backend_for(fmt).float_ops(out), list)
    acc = art.extra["accuracy"]  # measured against the float parent on the eval split
    assert acc["metric"] == "top1" and 0.0 <= acc["child"]["top1"] <= 1.0
    assert acc["drop"] == pytest.approx(acc["parent"]["top1"] - acc["child"]["top1"])
    assert open_session(out).run([np.zeros((2, 30), np.float32)])[0].shape == (2, 2)


@pytest.mark.parametrize("fmt", formats.names("quantizer"))
def test_quantizer_refusals_come_from_the_algorithm(fmt, exports, tmp_path):
    parent = exports(fmt).path
    backend = backend_for(fmt)
    out = tmp_path / f"q{parent.suffix}"
    for mode in set(QuantMode) - set(backend.modes):
        with pytest.raises(UsageError, match="cannot be quantized in mode"):
            quantize_artifact(parent, QuantizeConfig(mode=mode, output=out))
    with pytest.raises(UsageError, match="--exclude names no layer"):
        quantize_artifact(
            parent, QuantizeConfig(mode=backend.modes[0], exclude=["nope"], output=out)
        )
    # a foreign copy (no sidecar, so no dataset): static int8 has nothing to calibrate on
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for f in formats.companion_files(parent):
        shutil.copy(f, foreign / f.name)
    if QuantMode.STATIC in backend.modes:
        with pytest.raises(UsageError, match="needs calibration data"):
            quantize_artifact(foreign / parent.name, QuantizeConfig(mode=QuantMode.STATIC))
    assert not out.exists()


@pytest.mark.parametrize("fmt", formats.names("diagnoser"))
def test_diagnoser_contract(fmt, exports, tmp_path):
    from edgeopt.data import fit_inputs, load_dataset
    from edgeopt.optimize.diagnose import diagnose, rank_layers

    parent = exports(fmt)
    out = tmp_path / f"q{parent.path.suffix}"
    lenient = {"agreement_min": 0.0}
    cfg = QuantizeConfig(
        mode=QuantMode.STATIC, output=out, latency_seconds=0, accuracy_budget=lenient
    )
    quantize_artifact(parent.path, cfg)
    arrays = fit_inputs(load_dataset("sklearn:breast_cancer", "calib", samples=16), parent.inputs)
    stats = diagnose(parent.path, out, arrays, quantizable_ops(backend_for(fmt)))
    assert stats and all(np.isfinite(s.sqnr_db) for s in stats)
    ranked = rank_layers(stats)
    assert ranked and all(s.quantizable for s in ranked)
    assert {s.layer for s in ranked} <= set(backend_for(fmt).layer_names(parent.path))
