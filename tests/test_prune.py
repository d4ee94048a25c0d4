"""optimize prune: channels really go, the saved .pt2 exports and runs, bad input is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeopt.data import fit_inputs, load_dataset

from .conftest import run_cli

# fine-tuning a tiny model on a busy 2-core machine: more threads only contend
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def _onnx_top1(path, dataset="sklearn:digits"):
    from edgeopt.metrics.accuracy import classification_metrics, predict
    from edgeopt.runtimes import open_session

    sess = open_session(path)
    ds = load_dataset(dataset, "eval")
    (logits,) = predict(sess, fit_inputs(ds, sess.inputs))
    return classification_metrics(logits, ds.labels)["top1"]


def _export(pt2, out, to="onnx"):
    from edgeopt.models.source import load_source
    from edgeopt.optimize.export import ExportConfig, export_model

    return export_model(load_source(str(pt2)), ExportConfig(to=to, output=out))


def test_cnn_half_channels_removed_exports_smaller_and_recovers(tmp_path, exported):
    out = tmp_path / "cnn50.pt2"
    proc = run_cli(
        "prune",
        "builtin:digits-cnn",
        "--sparsity",
        "0.5",
        "--finetune",
        "sklearn:digits",
        "--epochs",
        "2",
        "-o",
        out,
        check=True,
        env=ONE_THREAD,
    )
    assert "after recovery" in proc.stdout and "features.3: in/out 32/64 -> 16/32" in proc.stdout
    meta = json.loads((tmp_path / "cnn50.pt2.edgeopt.json").read_text())
    assert meta["format"] == "torch-export" and meta["step"] == "prune"
    assert meta["parent"]["ref"] == "builtin:digits-cnn"
    res = meta["extra"]["prune"]
    assert res["params"] < 0.3 * res["params_dense"]  # conv weights scale with in x out channels
    assert res["accuracy"]["recovered"] >= 0.95
    # the saved program loads with no user code and exports with a dynamic batch
    art = _export(out, tmp_path / "cnn50.onnx")
    dense = exported("digits-cnn", "onnx")
    assert art.size_bytes < 0.4 * dense.stat().st_size
    assert art.parity["dynamic_batch_checked"][0] == 1
    assert _onnx_top1(art.path) >= 0.95
    # the saved program cannot be pruned again (no module structure left): a clear error
    proc = run_cli("prune", out, "-o", tmp_path / "again.pt2")
    assert proc.returncode == 2 and "torch.export program" in proc.stderr
    # a second run without --force refuses to overwrite
    again = run_cli("prune", "builtin:digits-cnn", "--sparsity", "0.5", "-o", out)
    assert again.returncode == 2 and "--force" in again.stderr


def test_transformer_heads_and_ff_units_pruned_export_and_run(tmp_path):
    from edgeopt.models.source import load_source
    from edgeopt.optimize.prune import PruneConfig, prune_once, save_pruned, summary
    from edgeopt.runtimes import open_session

    src = load_source("builtin:digits-transformer")
    res = prune_once(src, PruneConfig(sparsity=0.5), 0.5)
    assert res.info["heads"] == {"blocks.0.attn": [4, 2], "blocks.1.attn": [4, 2]}
    assert res.info["layers_changed"]["blocks.0.ff.0"] == [[64, 128], [64, 64]]
    assert res.info["kept"]["embed"].startswith("residual stream")
    art = save_pruned(src, res, PruneConfig(), tmp_path / "t.pt2", summary(res, (1, 1)))
    onnx = _export(art.path, tmp_path / "t.onnx")
    sess = open_session(onnx.path)
    ds = load_dataset("sklearn:digits", "eval", samples=5)
    (x,) = fit_inputs(ds, sess.inputs)
    ref = res.module(__import__("torch").from_numpy(x)).detach().numpy()
    for n in (1, 5):
        assert np.allclose(sess.run([x[:n]])[0], ref[:n], atol=1e-4)
    assert _onnx_top1(onnx.path) > 0.5  # before recovery; still far above chance (0.1)


def test_unstructured_prints_caveat_and_keeps_shapes(tmp_path):
    proc = run_cli(
        "prune",
        "builtin:digits-cnn",
        "--unstructured",
        "--sparsity",
        "0.6",
        "-o",
        tmp_path / "u.pt2",
        check=True,
    )
    assert "dense runtimes" in proc.stdout and "neither" not in proc.stderr
    assert "weight sparsity 0.6" in proc.stdout
    meta = json.loads((tmp_path / "u.pt2.edgeopt.json").read_text())
    assert meta["extra"]["prune"]["params"] == meta["extra"]["prune"]["params_dense"]
    assert any("only zeroes weights" in n for n in meta["notes"])


def test_unstructured_gzip_shrinks_but_onnx_does_not(tmp_path):
    from edgeopt.models.source import load_source
    from edgeopt.optimize.prune import PruneConfig, prune_once
    from edgeopt.optimize.prune.sweep import export_onnx
    from edgeopt.optimize.prune.unstructured import gzip_size

    src = load_source("builtin:digits-cnn")
    res = prune_once(src, PruneConfig(structured=False, sparsity=0.7), 0.7)
    assert abs(res.info["weight_sparsity"] - 0.7) < 0.01
    dense = export_onnx(src, src.module, tmp_path / "d.onnx")
    sparse = export_onnx(src, res.module, tmp_path / "s.onnx")
    assert abs(sparse.stat().st_size - dense.stat().st_size) < 0.01 * dense.stat().st_size
    assert gzip_size(sparse) < 0.7 * gzip_size(dense)


def test_taylor_global_allocation_is_uneven():
    from edgeopt.models.source import load_source
    from edgeopt.optimize.prune import PruneConfig, prune_once
    from edgeopt.optimize.prune.recovery import calibration_batches

    src = load_source("builtin:digits-cnn")
    calib = calibration_batches(src.dataset, src.inputs, 2)
    cfg = PruneConfig(importance="taylor", allocation="global")
    res = prune_once(src, cfg, 0.5, calib=calib)
    outs = [b[1] / a[1] for a, b in res.info["layers_changed"].values() if a[1] != 10]
    assert res.info["layers_changed"] and len({round(r, 3) for r in outs}) > 1


def test_budget_picks_highest_sparsity_within_points():
    from edgeopt.optimize.prune.sweep import pick_within_budget

    rows = [{"sparsity": 0.0, "top1_after_prune": 0.99, "top1_recovered": None}]
    for s, acc in ((0.25, 0.99), (0.5, 0.982), (0.75, 0.95)):
        rows.append({"sparsity": s, "top1_after_prune": 0.5, "top1_recovered": acc})
    points = "accuracy_drop_max_points"
    assert pick_within_budget(rows, {points: 1.0})["sparsity"] == 0.5
    assert pick_within_budget(rows, {points: 0.5})["sparsity"] == 0.25
    assert pick_within_budget(rows[:1] + rows[3:], {points: 1.0}) is None
    assert pick_within_budget(rows, {"accuracy_min": 0.985})["sparsity"] == 0.25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sparsity", "1.5"], "sparsity must be in (0, 1)"),
        (["--sparsity", "0"], "sparsity must be in (0, 1)"),
        (["--ignore", "no.such.layer"], "features.0"),
    ],
)
def test_bad_options_exit_2(tmp_path, args, message):
    proc = run_cli("prune", "builtin:digits-cnn", *args, "-o", tmp_path / "x.pt2")
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.pt2").exists()


def test_non_torch_source_and_no_prunable_layers_exit_2(tmp_path, exported):
    proc = run_cli("prune", exported("digits-cnn", "onnx"), "-o", tmp_path / "x.pt2")
    assert proc.returncode == 2 and "pruning acts on the PyTorch model" in proc.stderr
    script = tmp_path / "lin.py"
    script.write_text(
        "import torch\n\ndef build():\n    return torch.nn.Linear(8, 3), (torch.randn(2, 8),)\n"
    )
    proc = run_cli("prune", f"{script}:build", "-o", tmp_path / "y.pt2")
    assert proc.returncode == 2 and "no prunable layers" in proc.stderr


@pytest.mark.slow
def test_sweep_with_budget_saves_the_chosen_model(tmp_path):
    out = tmp_path / "b.pt2"
    proc = run_cli(
        "prune",
        "builtin:digits-cnn",
        "--sweep",
        "0.25,0.5,0.75",
        "--accuracy-budget",
        "accuracy_drop_max_points=1",
        "--finetune",
        "sklearn:digits",
        "--epochs",
        "5",
        "-o",
        out,
        "--json",
        tmp_path / "r.json",
        check=True,
        env=ONE_THREAD,
    )
    assert "ort b64 ms" in proc.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["sweep"]) == 4 and data["budget_choice"] in (0.25, 0.5, 0.75)
    assert out.exists()
