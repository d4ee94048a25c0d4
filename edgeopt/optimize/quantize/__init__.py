"""Quantize an exported artifact (ONNX, OpenVINO IR, TFLite) to int8 or fp16.

One algorithm, thin per-format backends: pick a mode from the model's content when none is
given, calibrate on the calib split (never the eval split), quantize, then measure accuracy,
size and a quick latency ratio against the float parent. With an accuracy budget, layers that
cost the most (ranked by the noise each adds, see optimize.diagnose) are kept in float until
the drop fits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.benchmarks.accuracy import evaluate, predict
from edgeopt.benchmarks.compare import cosine, is_classifier_output
from edgeopt.core.artifact import Artifact, companion_files, format_of, sidecar_path
from edgeopt.core.files import check_writable, human_bytes, publish, sha256_file, staging_dir
from edgeopt.core.progress import info, step
from edgeopt.data.datasets import fit_inputs, load_dataset, random_inputs
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.optimize.quantize import onnx_backend, openvino_backend, tflite_backend
from edgeopt.optimize.quantize.common import (
    METHODS,
    MODES,
    BackendResult,
    CalibData,
    QuantizeConfig,
    classify_content,
)
from edgeopt.optimize.quantize.tflite_io import int8_io_specs
from edgeopt.optimize.quantize.timing import quick_latency_ratio
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import PARITY_OPTIONS, SessionOptions

BACKENDS = {"onnx": onnx_backend, "openvino": openvino_backend, "tflite": tflite_backend}
TAGS = {
    "dynamic": "int8-dynamic",
    "static": "int8-static",
    "fp16": "fp16",
    "weight-only": "int8-weights",
}
# accuracy runs OpenVINO in f32 (this CPU defaults to bf16, which would blur the comparison)
EVAL_OPTIONS = PARITY_OPTIONS
LATENCY_OPTIONS = SessionOptions(threads=1)
EVAL_LIMIT = 1000  # evaluation samples at most
DIAG_SAMPLES = 32

__all__ = [
    "MODES",
    "QuantizeConfig",
    "choose_mode",
    "default_output",
    "quantize_artifact",
    "quick_latency_ratio",
]


def default_output(path: Path, mode: str) -> Path:
    return path.with_name(f"{path.stem}.{TAGS[mode]}{path.suffix}")


def choose_mode(fmt: str, counts: dict[str, int]) -> tuple[str, str]:
    """The default mode for a model's content, and why (printed for the user)."""
    content = classify_content(counts)
    conv = sum(
        v
        for k, v in counts.items()
        if k in onnx_backend.QUANTIZABLE[:2]
        or k in ("Convolution", "GroupConvolution", "CONV_2D", "DEPTHWISE_CONV_2D")
    )
    mm = sum(
        v for k, v in counts.items() if k in ("MatMul", "Gemm", "FULLY_CONNECTED", "BATCH_MATMUL")
    )
    what = f"{conv} convolution and {mm} MatMul/Gemm layers"
    if content == "conv":
        return "static", f"{what}: convolution-heavy, so static per-channel int8 with calibration"
    if fmt == "openvino":
        return "static", f"{what}: MatMul-heavy, so NNCF int8 with the transformer model type"
    return "dynamic", (
        f"{what}: MatMul-heavy, so dynamic int8 (weights int8, activations "
        "quantized at run time; no calibration needed)"
    )


def _load_parent(path: Path) -> Artifact:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"model file not found: {path}", "check the path")
    fmt = format_of(path)
    if fmt not in BACKENDS:
        raise UsageError(
            f"cannot quantize {path.name} (format {fmt or 'unknown'})",
            "export it first: optimize export MODEL --to onnx|openvino|tflite",
        )
    art = Artifact.load(path)
    if art is None:  # a foreign file: take its specs from the runtime
        sess = open_session(path, options=EVAL_OPTIONS)
        art = Artifact(path=path, format=fmt, inputs=sess.inputs, outputs=sess.outputs)
        art.refresh_hash()
    if art.precision not in ("fp32", None):
        raise UsageError(
            f"{path.name} is already {art.precision}", "quantize the float parent it came from"
        )
    return art


def calibration_data(art: Artifact, cfg: QuantizeConfig, specs) -> CalibData | None:
    spec = cfg.calib or art.dataset
    if not spec:
        return None
    ds = load_dataset(spec, "calib", samples=cfg.samples)
    return CalibData(fit_inputs(ds, specs), ds.describe())


def _eval_data(art: Artifact, cfg: QuantizeConfig, specs):
    """The eval split of the model's dataset; never the samples used for calibration."""
    spec = art.dataset or cfg.calib
    if spec and spec.endswith("@all") and cfg.calib == spec:
        spec = art.dataset if art.dataset != spec else None
    if spec and not spec.endswith("@all"):
        ds = load_dataset(spec, "eval", samples=EVAL_LIMIT)
        return ds, fit_inputs(ds, specs)
    return None, random_inputs(specs, 64, seed=1)


class Scorer:
    """Accuracy of candidates against the float parent on the same eval data."""

    def __init__(self, parent_path: Path, dataset, arrays: list[np.ndarray]):
        self.dataset, self.arrays = dataset, arrays
        sess = open_session(parent_path, options=EVAL_OPTIONS)
        if dataset is not None:
            self.parent, self.ref = evaluate(sess, dataset)
        else:
            self.ref = predict(sess, arrays)
            self.parent = {"dataset": "seeded random inputs (seed 1, 64 samples)"}
        self.metric = "top1" if "top1" in self.parent else "cosine"
        if self.metric == "cosine":
            self.parent["cosine"] = 1.0

    def score(self, path: Path) -> dict:
        sess = open_session(path, options=EVAL_OPTIONS)
        if self.dataset is not None:
            m, outs = evaluate(sess, self.dataset, self.ref)
        else:
            outs = predict(sess, self.arrays)
            m = {}
        m.pop("per_class", None)
        m["cosine"] = float(np.mean([cosine(r, o) for r, o in zip(self.ref, outs)]))
        if is_classifier_output(self.ref[0]):
            m["top1_agreement"] = float((self.ref[0].argmax(-1) == outs[0].argmax(-1)).mean())
        m["drop"] = float(self.parent[self.metric] - m[self.metric])
        m["metric"] = self.metric
        return m


def quantize_artifact(path: Path, cfg: QuantizeConfig) -> Artifact:
    """Quantize the artifact at `path` into a NEW artifact beside it; returns its metadata."""
    path = Path(path)
    parent = _load_parent(path)
    backend = BACKENDS[parent.format]
    if cfg.method not in METHODS:
        raise UsageError(f"unknown --method {cfg.method!r}", f"use one of {', '.join(METHODS)}")
    counts = backend.op_counts(path)
    content = classify_content(counts)
    if cfg.mode is None:
        cfg.mode, why = choose_mode(parent.format, counts)
        info(f"[edgeopt] mode: {cfg.mode} ({why}); pass --mode to choose another")
    elif cfg.mode not in MODES:
        raise UsageError(f"unknown --mode {cfg.mode!r}", f"use one of {', '.join(MODES)}")
    else:
        why = "asked for with --mode"
        if cfg.mode == "dynamic" and content == "conv" and parent.format == "onnx":
            info(
                "[edgeopt] WARNING: dynamic int8 on a convolution-heavy ONNX model is a known "
                "trap (ConvInteger runs far slower than float on CPU); Conv layers stay float. "
                "Use --mode static."
            )
    out = Path(cfg.output or default_output(path, cfg.mode))
    if out.suffix.lower() != path.suffix.lower():
        raise UsageError(
            f"output {out} must keep the {path.suffix} suffix", f"name the output *{path.suffix}"
        )
    if out.resolve() == path.resolve():
        raise UsageError("the output would overwrite the input", "choose another --output")
    check_writable([*companion_files(out), sidecar_path(out)], cfg.force)

    needs_calib = cfg.mode == "static"
    calib = calibration_data(parent, cfg, parent.inputs) if needs_calib else None
    if needs_calib and calib is None:
        raise UsageError(
            f"static int8 needs calibration data and {path.name} names no dataset",
            "pass --calib DATA (e.g. sklearn:digits or npz:calib.npz)",
        )
    dataset, eval_arrays = _eval_data(parent, cfg, parent.inputs)
    with step("measure the float parent"):
        scorer = Scorer(path, dataset, eval_arrays)

    with staging_dir(out) as tmp:
        trials: list[dict] = []
        exclude = list(cfg.exclude)

        def attempt(excl: list[str]) -> tuple[Path, BackendResult, dict]:
            k = len(trials)
            staged = tmp / f"trial{k}" / out.name
            staged.parent.mkdir()
            cfg_k = QuantizeConfig(**{**cfg.__dict__, "exclude": excl})
            label = f"quantize {path.name} ({cfg.mode})" + (
                f", keeping {len(excl)} layer(s) float" if excl else ""
            )
            with step(label):
                res = backend.quantize(path, staged, cfg_k, calib, content)
            m = scorer.score(staged)
            trials.append(
                {"exclude": list(excl), scorer.metric: m[scorer.metric], "drop": m["drop"]}
            )
            info(
                f"[edgeopt]   {scorer.metric} {m[scorer.metric]:.4f} "
                f"(parent {scorer.parent[scorer.metric]:.4f}, drop {m['drop']:+.4f})"
            )
            return staged, res, m

        staged, result, metrics = attempt(exclude)
        budget = cfg.accuracy_budget
        kept: list[str] = []
        if budget is not None and metrics["drop"] > budget:
            staged, result, metrics, kept = _search(
                path, backend, staged, result, metrics, attempt, trials, cfg, calib, budget, scorer
            )
        art = _child_artifact(
            parent, path, staged, cfg, result, metrics, scorer, calib, dataset, trials, kept, why
        )
        _latency(art, path, staged, scorer, cfg.latency_seconds)
        art.refresh_hash()
        art.write_sidecar(staged)
        moves = [(p, out.parent / p.name) for p in companion_files(staged)]
        publish([*moves, (sidecar_path(staged), sidecar_path(out))])
    art.path = out
    return art


def _search(path, backend, staged, result, metrics, attempt, trials, cfg, calib, budget, scorer):
    """Keep the costliest layers float, one more at a time, until the drop fits the budget."""
    ranking = _rank(path, staged, backend, calib, scorer, cfg)
    info(
        f"[edgeopt] drop {metrics['drop']:.4f} exceeds the budget {budget}; layers ranked by "
        f"the noise they add: {', '.join(ranking[: cfg.max_search_steps]) or 'none'}"
    )
    best = (staged, result, metrics, list(cfg.exclude))
    excl = list(cfg.exclude)
    for layer in ranking[: cfg.max_search_steps]:
        excl = [*excl, layer]
        st, res, m = attempt(excl)
        if m["drop"] < best[2]["drop"] - 1e-9:
            best = (st, res, m, list(excl))
        if m["drop"] <= budget:
            return st, res, m, [e for e in excl if e not in cfg.exclude]
    b_st, _, b_m, b_ex = best
    tried = "; ".join(f"{len(t['exclude'])} float: drop {t['drop']:.4f}" for t in trials)
    raise EdgeoptError(
        f"no configuration met the accuracy budget {budget}: best drop {b_m['drop']:.4f} "
        f"({scorer.metric} {b_m[scorer.metric]:.4f}) keeping float: {', '.join(b_ex) or 'none'} "
        f"[tried {tried}]",
        "raise --accuracy-budget, calibrate with more or better data (--calib, --samples, "
        "--method), or use --mode fp16 / weight-only",
    )


def _rank(path, staged, backend, calib, scorer, cfg) -> list[str]:
    """Layers by the noise they add (diagnose); per-layer trials where diagnose can't look."""
    from edgeopt.optimize import diagnose

    arrays = [a[:DIAG_SAMPLES] for a in (calib.arrays if calib else scorer.arrays)]
    try:
        with step("rank layers by quantization noise"):
            stats = diagnose.diagnose(path, staged, arrays)
        ranked = [s.layer for s in diagnose.rank_layers(stats) if s.layer not in cfg.exclude]
        if ranked:
            return ranked
    except UsageError:
        pass
    return [n for n in reversed(backend.quantizable_layers(path)) if n not in cfg.exclude]


def _child_artifact(
    parent, path, staged, cfg, result, metrics, scorer, calib, dataset, trials, kept, why
) -> Artifact:
    size_p = sum(p.stat().st_size for p in companion_files(path) if p.exists())
    size_c = sum(p.stat().st_size for p in companion_files(staged) if p.exists())
    # fp16 computes in (half) float by design: "ops left in float" means int8 modes only
    float_ops = [] if cfg.mode == "fp16" else BACKENDS[parent.format].float_ops(staged)
    info(f"[edgeopt]   route: {result.route}")
    for n in result.notes:
        info(f"[edgeopt]   note: {n}")
    info(
        f"[edgeopt]   size {human_bytes(size_c)} ({size_c / size_p:.0%} of the parent's "
        f"{human_bytes(size_p)})"
    )
    if kept:
        info(f"[edgeopt]   kept in float to meet the budget: {', '.join(kept)}")
    io = result.params.get("int8_io")
    return Artifact(
        path=staged,
        format=parent.format,
        precision="fp16" if cfg.mode == "fp16" else "int8",
        inputs=int8_io_specs(parent.inputs, io and io["inputs"]),
        outputs=int8_io_specs(parent.outputs, io and io["outputs"]),
        parent={"path": str(path.resolve()), "sha256": sha256_file(path), "step": parent.step},
        step="quantize",
        params={
            **cfg.params(),
            "exclude": [*cfg.exclude, *kept],
            **result.params,
            "route": result.route,
        },
        dataset=parent.dataset,
        task=parent.task,
        notes=list(result.notes),
        extra={
            "mode_reason": why,
            "calibration": calib.description if calib else None,
            "evaluation": scorer.parent.get("dataset"),
            "accuracy": {
                "metric": scorer.metric,
                "parent": _strip(scorer.parent),
                "child": metrics,
                "drop": metrics["drop"],
                "budget": cfg.accuracy_budget,
            },
            "size": {
                "parent_bytes": size_p,
                "child_bytes": size_c,
                "ratio": round(size_c / size_p, 4),
            },
            "kept_float": kept,
            "float_ops": float_ops,
            "search": trials if len(trials) > 1 else [],
        },
    )


def _strip(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("per_class",)}


def _latency(
    art: Artifact, parent_path: Path, staged: Path, scorer: Scorer, seconds: float
) -> None:
    """Quick side-by-side timing on the same runtime; loud when the child is not faster."""
    if seconds <= 0:
        art.extra["latency"] = None
        return
    one = [a[:1] for a in scorer.arrays]
    with step("quick latency check against the float parent"):
        p = open_session(parent_path, options=LATENCY_OPTIONS)
        c = open_session(staged, options=LATENCY_OPTIONS)
        lat = quick_latency_ratio(p, c, one, seconds)
    art.extra["latency"] = lat
    sp = lat["speedup"] or 0.0
    info(
        f"[edgeopt]   latency batch 1: {lat['child_ms']:.3f} ms vs parent "
        f"{lat['parent_ms']:.3f} ms ({sp:.2f}x) on {lat['child_session']['runtime']}"
    )
    if sp < 1.0:
        ops = art.extra.get("float_ops", [])
        info("[edgeopt] " + "!" * 70)
        info(
            f"[edgeopt] WARNING: the quantized model is NOT faster than its float parent "
            f"({sp:.2f}x) on {lat['child_session']['runtime']}."
        )
        if art.params.get("mode") in ("fp16", "weight-only"):
            info(
                f"[edgeopt] {art.params['mode']} computes in float by design: it saves size, "
                "rarely time on CPUs (use --mode static or dynamic for CPU speed)"
            )
        else:
            info(
                f"[edgeopt] ops that stayed in float ({len(ops)}): "
                f"{', '.join(ops[:20]) or 'none'}{' ...' if len(ops) > 20 else ''}"
            )
        info("[edgeopt] " + "!" * 70)
        art.notes.append(f"not faster than the float parent ({sp:.2f}x in a quick check)")
