"""Budgets in the model's own metric: classifiers by top-1 agreement, embeddings by cosine."""

from __future__ import annotations

import numpy as np
import pytest

from edgeopt.errors import AccuracyError, UsageError
from edgeopt.metrics.quality import (
    OutputKind,
    QualityReport,
    check_quality_value,
    measure_quality,
    output_kind,
    parse_budget_args,
)

from .conftest import run_cli

RNG = np.random.default_rng(0)


def test_kinds_follow_names_values_and_labels():
    logits = RNG.standard_normal((20, 10)).astype(np.float32)
    unit = logits / np.linalg.norm(logits, axis=1, keepdims=True)
    assert output_kind("logits", logits) == OutputKind.CLASSIFICATION
    assert output_kind("output", logits, labels=np.arange(20) % 10) == OutputKind.CLASSIFICATION
    assert output_kind("sentence_embedding", logits) == OutputKind.EMBEDDING
    assert output_kind("output_0", unit) == OutputKind.EMBEDDING  # unit rows: normalised vectors
    assert output_kind("last_hidden_state", RNG.standard_normal((4, 8, 16))) == "embedding"
    assert output_kind("heatmap", RNG.standard_normal((4, 1, 8, 8))) == OutputKind.REGRESSION
    assert output_kind("logits", logits, task="feature-extraction") == OutputKind.EMBEDDING


def test_logits_with_a_large_shared_part_keep_cosine_but_not_answers():
    ref = 30.0 + 0.1 * RNG.standard_normal((200, 10))
    got = 30.0 + 0.1 * RNG.standard_normal((200, 10))  # same scale, other answers
    report = measure_quality(["logits"], [ref], [got], labels=ref.argmax(1))
    out = report.outputs["logits"]
    assert out["cosine_mean"] > 0.99 and out["agreement"] < 0.5
    assert out["accuracy_drop_points"] > 50  # the reference is right on these labels
    assert report.meets({"cosine_mean_min": 0.99})
    assert not report.meets({"agreement_min": 0.99})
    assert report.value("nn_change_max") is None  # a classifier has no neighbour metric


def test_embeddings_get_cosine_and_neighbour_change():
    ref = RNG.standard_normal((50, 16))
    got = ref + 0.05 * RNG.standard_normal((50, 16))
    report = measure_quality(["sentence_embedding"], [ref], [got])
    out = report.outputs["sentence_embedding"]
    assert out["kind"] == "embedding" and "agreement" not in out
    assert 0.99 < out["cosine_mean"] <= 1.0 and out["cosine_min"] <= out["cosine_mean"]
    assert 0.0 <= out["nn_change"] < 0.2
    assert report.value("agreement_min") is None
    shuffled = measure_quality(["sentence_embedding"], [ref], [ref[::-1]])
    assert shuffled.outputs["sentence_embedding"]["nn_change"] > 0.9


@pytest.mark.parametrize(
    "key,value,phrase",
    [
        ("agreement_min", 99, "outside 0..1 (fraction"),
        ("accuracy_drop_max_points", -1, "outside 0..100 (points"),
        ("cosine_mean_min", float("nan"), "must be a number"),
        ("accuracy_drop_max", 1, "renamed to 'accuracy_drop_max_points'"),
    ],
)
def test_budget_values_have_explicit_units(key, value, phrase):
    with pytest.raises(UsageError, match=phrase.replace("(", r"\(")):
        check_quality_value(key, value, "a budgets file")


def test_cli_budget_arguments():
    assert parse_budget_args(["agreement_min=0.99", "cosine_min_min=0.9"], "--x") == {
        "agreement_min": 0.99,
        "cosine_min_min": 0.9,
    }
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_budget_args(["0.01"], "--accuracy-budget")


def _save(module, example, path):
    import torch

    torch.onnx.export(
        module.eval(),
        example,
        str(path),
        input_names=["x"],
        output_names=["out"],
        dynamic_axes={"x": {0: "batch"}},
        dynamo=False,
    )


def test_classifier_budget_is_top1_agreement_not_logit_cosine(tmp_path):
    """Rare huge inputs in the calibration data make static int8 round ordinary inputs to zero:
    the logits keep their large shared part (cosine ~1) while the answers change."""
    import torch

    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    torch.manual_seed(0)
    net = torch.nn.Linear(16, 10)
    with torch.no_grad():
        net.weight.mul_(0.2)
        net.bias.fill_(30.0)
    _save(net, (torch.randn(2, 16),), tmp_path / "clf.onnx")
    x = RNG.standard_normal((600, 16)).astype(np.float32)
    x[::25] *= 400.0  # outliers in every split
    np.savez(tmp_path / "d.npz", x=x)
    cfg = dict(mode="static", calib=f"npz:{tmp_path / 'd.npz'}", latency_seconds=0)
    strict = {"agreement_min": 0.99}
    with pytest.raises(AccuracyError) as e:
        quantize_artifact(
            tmp_path / "clf.onnx",
            QuantizeConfig(
                **cfg, output=tmp_path / "q.onnx", accuracy_budget=strict, max_search_steps=0
            ),
        )
    assert "agreement" in e.value.message and not (tmp_path / "q.onnx").exists()
    # with room to search, the accuracy repair keeps the layer in float and meets it
    repaired = quantize_artifact(
        tmp_path / "clf.onnx",
        QuantizeConfig(**cfg, output=tmp_path / "r.onnx", accuracy_budget=strict),
    )
    assert repaired.extra["kept_float"] and repaired.extra["accuracy"]["met"]
    lenient = quantize_artifact(
        tmp_path / "clf.onnx",
        QuantizeConfig(**cfg, output=tmp_path / "l.onnx", accuracy_budget={"agreement_min": 0.0}),
    )
    out = lenient.extra["accuracy"]["quality"]["out"]
    assert out["kind"] == "classification"
    assert out["cosine_mean"] > 0.99 and out["agreement"] < 0.9  # what the budget must catch
    # the gate reads the same keys: agreement fails where logit cosine would have passed
    budgets = tmp_path / "b.toml"
    budgets.write_text("agreement_min = 0.99\ncosine_mean_min = 0.99\n")
    r = run_cli(
        "gate",
        tmp_path / "l.onnx",
        "--baseline",
        tmp_path / "clf.onnx",
        "--budgets",
        budgets,
        "--data",
        f"npz:{tmp_path / 'd.npz'}",
        "--max-time",
        "1",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL: l.onnx agreement_min" in r.stderr and "PASS: l.onnx cosine_mean_min" in r.stdout


def test_embedding_budget_is_cosine(tmp_path):
    import torch

    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    class Embed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(16, 64), torch.nn.Tanh(), torch.nn.Linear(64, 32)
            )

        def forward(self, x):
            return torch.nn.functional.normalize(self.net(x), dim=-1)

    torch.manual_seed(0)
    torch.onnx.export(
        Embed().eval(),
        (torch.randn(2, 16),),
        str(tmp_path / "e.onnx"),
        input_names=["x"],
        output_names=["embedding"],
        dynamic_axes={"x": {0: "batch"}},
        dynamo=False,
    )
    np.savez(tmp_path / "d.npz", x=RNG.standard_normal((400, 16)).astype(np.float32))
    data = f"npz:{tmp_path / 'd.npz'}"
    art = quantize_artifact(
        tmp_path / "e.onnx",
        QuantizeConfig(
            mode="dynamic",
            evaluation=data,
            output=tmp_path / "q.onnx",
            latency_seconds=0,
            # ORT's u8s8 int8 saturates without VNNI (cosine 0.97 on AVX2, 0.99+ with VNNI)
            accuracy_budget={"cosine_mean_min": 0.9},
        ),
    )
    acc = art.extra["accuracy"]
    emb = acc["quality"]["embedding"]
    assert emb["kind"] == "embedding" and "agreement" not in emb and "nn_change" in emb
    assert acc["budgets"] == {"cosine_mean_min": 0.9}
    assert QualityReport(acc["quality"]).meets(acc["budgets"])
    # a cosine budget above what int8 reaches is refused on cosine, naming the figure
    with pytest.raises(AccuracyError, match=r"cosine_mean 0\.9\d+ \(>= 1 MISSED"):
        quantize_artifact(
            tmp_path / "e.onnx",
            QuantizeConfig(
                mode="dynamic",
                evaluation=data,
                output=tmp_path / "s.onnx",
                latency_seconds=0,
                accuracy_budget={"cosine_mean_min": 1.0},
                max_search_steps=0,
            ),
        )
