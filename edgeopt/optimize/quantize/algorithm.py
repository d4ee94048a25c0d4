"""The quantize algorithm: one flow over every format's backend (see backend.py).

Pick a mode from the model's content when none is given, calibrate on the calib split (never
the eval split), quantize, then measure accuracy, size and a quick latency ratio against the
float parent. With an accuracy budget, layers that cost the most (ranked by the noise each
adds, see optimize.diagnose) are kept in float until it is met. Quality is judged in the
model's own metric (scoring.py); without a budget, a default floor refuses broken models.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact, check_free, publish_artifact
from edgeopt.core.files import human_bytes, sha256_file, staging_dir
from edgeopt.core.plugins import load
from edgeopt.core.precision import MODES, QuantMode, parse_mode
from edgeopt.core.progress import info, step
from edgeopt.data import Dataset, fit_inputs, random_inputs, resolve_data
from edgeopt.errors import AccuracyError, ConversionError, UsageError
from edgeopt.formats import content_precision, format_of, get_format
from edgeopt.metrics.quality import QualityReport
from edgeopt.optimize.diagnose import diagnose, rank_layers
from edgeopt.optimize.quantize.backend import QuantizeBackend, classify_content, quantizable_ops
from edgeopt.optimize.quantize.common import METHODS, BackendResult, CalibData, QuantizeConfig
from edgeopt.optimize.quantize.scoring import EVAL_OPTIONS, Scorer
from edgeopt.optimize.quantize.tflite_io import int8_io_specs
from edgeopt.optimize.quantize.timing import quick_latency_ratio
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import SessionOptions

LATENCY_OPTIONS = SessionOptions(threads=1)
EVAL_LIMIT = 1000  # evaluation samples at most
DIAG_SAMPLES = 32


def backend_for(fmt: str) -> QuantizeBackend:
    return load(get_format(fmt, "quantizer").quantizer)


def default_output(path: Path, mode: QuantMode | str) -> Path:
    return path.with_name(f"{path.stem}.{MODES[parse_mode(mode)].tag}{path.suffix}")


def choose_mode(
    fmt: str, counts: dict[str, int], per_channel: bool = True
) -> tuple[QuantMode, str]:
    """The default mode for a model's content, and why (printed for the user)."""
    content, conv, mm = classify_content(backend_for(fmt), counts)
    what = f"{conv} convolution and {mm} MatMul/Gemm layers"
    if content == "conv":
        scales = "per-channel" if per_channel else "per-tensor"
        return (
            QuantMode.STATIC,
            f"{what}: convolution-heavy, so static int8 ({scales} weights) with calibration",
        )
    if fmt == "openvino":
        return (
            QuantMode.STATIC,
            f"{what}: MatMul-heavy, so NNCF int8 with the transformer model type",
        )
    return QuantMode.DYNAMIC, (
        f"{what}: MatMul-heavy, so dynamic int8 (weights int8, activations "
        "quantized at run time; no calibration needed)"
    )


def _load_parent(path: Path) -> Artifact:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"model file not found: {path}", "check the path")
    fmt = format_of(path)
    if fmt is None or not get_format(fmt).quantizer:
        raise UsageError(
            f"cannot quantize {path.name} (format {fmt or 'unknown'})",
            "export it first: optimize export MODEL --to onnx|openvino|tflite",
        )
    art = Artifact.load(path)
    if art is None:  # a foreign file: take its specs from the runtime
        sess = open_session(path, options=EVAL_OPTIONS)
        art = Artifact(path=path, format=fmt, inputs=sess.inputs, outputs=sess.outputs)
        art.refresh_hash()
    found = content_precision(path)  # the file decides, not a sidecar that may be missing
    precision = found if found and found != "fp32" else art.precision
    if precision not in ("fp32", None):
        raise UsageError(
            f"{path.name} is already {precision}", "quantize the float parent it came from"
        )
    return art


def calibration_data(art: Artifact, cfg: QuantizeConfig, specs) -> CalibData | None:
    ds = resolve_data(cfg.calib or art.dataset, "calib", samples=cfg.samples)
    return None if ds is None else CalibData(fit_inputs(ds, specs), ds.describe(), specs)


def _eval_data(art: Artifact, cfg: QuantizeConfig, specs) -> tuple[Dataset | None, list]:
    """The eval split of the model's dataset; never the samples used for calibration."""
    ref = cfg.evaluation or art.dataset or cfg.calib
    if isinstance(ref, Dataset):
        ds = resolve_data(ref, "eval", samples=EVAL_LIMIT)
        return ds, fit_inputs(ds, specs)
    calib_name = cfg.calib.spec if isinstance(cfg.calib, Dataset) else cfg.calib
    if ref and ref.endswith("@all") and calib_name == ref:
        ref = art.dataset if art.dataset != ref else None
    if ref and not ref.endswith("@all"):
        ds = resolve_data(ref, "eval", samples=EVAL_LIMIT)
        return ds, fit_inputs(ds, specs)
    return None, random_inputs(specs, 64, seed=1)


@dataclass
class Trial:
    """One quantized file built in the staging folder, and how it scored."""

    staged: Path
    result: BackendResult
    report: QualityReport
    exclude: list[str]
    met: bool = False


@dataclass
class QuantizeJob:
    """Everything one quantize step resolved before building (the caller's config untouched)."""

    path: Path
    parent: Artifact
    backend: QuantizeBackend
    cfg: QuantizeConfig  # with the mode resolved
    content: str
    why: str
    out: Path
    calib: CalibData | None
    dataset: Dataset | None
    scorer: Scorer | None = None
    tmp: Path | None = None
    trials: list[dict] = field(default_factory=list)

    def attempt(self, exclude: list[str]) -> Trial:
        staged = self.tmp / f"trial{len(self.trials)}" / self.out.name
        staged.parent.mkdir()
        cfg_k = dataclasses.replace(self.cfg, exclude=list(exclude))
        label = f"quantize {self.path.name} ({self.cfg.mode})" + (
            f", keeping {len(exclude)} layer(s) float" if exclude else ""
        )
        with step(label):
            res = self.backend.quantize(self.path, staged, cfg_k, self.calib, self.content)
        budgets = self.scorer.budgets
        try:
            report = self.scorer.score(staged)
        except UsageError as e:  # our own output does not load or run: the step failed
            raise ConversionError(
                f"the {self.cfg.mode} model quantized from {self.path.name} does not run: "
                f"{e.message}",
                "try --per-tensor or another --mode, or re-export the model at a newer opset",
            ) from e
        trial = Trial(staged, res, report, list(exclude), report.meets(budgets))
        text = report.describe(budgets)
        self.trials.append({"exclude": list(exclude), "quality": text, "met": trial.met})
        info(f"[edgeopt]   {text}")
        return trial


def prepare(path: Path, cfg: QuantizeConfig) -> QuantizeJob:
    """Every check before any work: format, mode, method, names, output, calibration data."""
    path = Path(path)
    parent = _load_parent(path)
    backend = backend_for(parent.format)
    if cfg.method not in METHODS:
        raise UsageError(f"unknown --method {cfg.method!r}", f"use one of {', '.join(METHODS)}")
    counts = get_format(parent.format).inspector.op_counts(path)
    content, _, _ = classify_content(backend, counts)
    if cfg.mode is None:
        mode, why = choose_mode(parent.format, counts, cfg.per_channel)
        info(f"[edgeopt] mode: {mode} ({why}); pass --mode to choose another")
    else:
        mode, why = parse_mode(cfg.mode), "asked for with --mode"
        if mode == QuantMode.DYNAMIC and content == "conv" and parent.format == "onnx":
            info(
                "[edgeopt] WARNING: dynamic int8 on a convolution-heavy ONNX model is a known "
                "trap (ConvInteger runs far slower than float on CPU); Conv layers stay float. "
                "Use --mode static."
            )
    if mode not in backend.modes:
        raise UsageError(
            f"{parent.format} models cannot be quantized in mode {mode}",
            f"modes for {parent.format}: {', '.join(backend.modes)}",
        )
    unknown = sorted(set(cfg.exclude) - set(backend.layer_names(path))) if cfg.exclude else []
    if unknown:
        raise UsageError(
            f"--exclude names no layer of {path.name}: {', '.join(unknown)}",
            "use layer names as printed by `optimize diagnose`",
        )
    out = Path(cfg.output or default_output(path, mode))
    if out.suffix.lower() != path.suffix.lower():
        raise UsageError(
            f"output {out} must keep the {path.suffix} suffix", f"name the output *{path.suffix}"
        )
    if out.resolve() == path.resolve():
        raise UsageError("the output would overwrite the input", "choose another --output")
    check_free(out, cfg.force)
    resolved = dataclasses.replace(cfg, mode=mode)
    calib = (
        calibration_data(parent, resolved, parent.inputs) if MODES[mode].needs_calibration else None
    )
    if MODES[mode].needs_calibration and calib is None:
        raise UsageError(
            f"{mode} int8 needs calibration data and {path.name} names no dataset",
            "pass --calib DATA (e.g. sklearn:digits or npz:calib.npz)",
        )
    dataset, eval_arrays = _eval_data(parent, resolved, parent.inputs)
    job = QuantizeJob(path, parent, backend, resolved, content, why, out, calib, dataset)
    with step("measure the float parent"):
        job.scorer = Scorer(parent, dataset, eval_arrays, cfg.accuracy_budget, cfg.kinds)
    return job


def quantize_artifact(path: Path, cfg: QuantizeConfig) -> Artifact:
    """Quantize the artifact at `path` into a NEW artifact beside it; returns its metadata."""
    job = prepare(path, cfg)
    with staging_dir(job.out) as tmp:
        job.tmp = tmp
        trial = job.attempt(list(cfg.exclude))
        if not trial.met and cfg.enforce:
            trial = _search(job, trial) if job.scorer.explicit else _below_floor(job, trial)
        found = _check_content(job, trial)
        art = _child_artifact(job, trial)
        if found and found != art.precision:  # the repair kept every quantizable layer float
            art.precision = found
            art.notes.append(
                f"the accuracy repair kept every quantized layer in float: the file is {found}"
            )
        _latency(art, job, trial.staged)
        art.refresh_hash()
        art.write_sidecar(trial.staged)
        publish_artifact(trial.staged, job.out)
    art.path = job.out
    return art


def _check_content(job: QuantizeJob, trial: Trial) -> str | None:
    """The file must hold what its label will say: a copy of the parent, or an int8 label on
    a file without int8 tensors (a converter that had nothing to quantize), is refused; a
    repair that kept layers float may end with no int8 left, and is labelled as it is.
    Returns the precision the content shows."""
    staged = trial.staged
    want = MODES[job.cfg.mode].precision
    found = content_precision(staged)
    same = sha256_file(staged) == sha256_file(job.path)
    repaired = bool(set(trial.exclude) - set(job.cfg.exclude))
    if repaired and found:
        return found
    if same or (found and found != want):
        what = "a byte-identical copy of the parent" if same else f"a {found} model"
        raise ConversionError(
            f"{job.cfg.mode} quantization of {job.path.name} wrote {what}, not {want}: "
            "the converter found nothing it could quantize",
            "try another --mode (ONNX static int8 does not reach layers inside If/Loop bodies: "
            "use --mode dynamic there), or check the model's "
            "weights are float32 (optimize inspect shows its precision)",
        )
    return found


def _search(job: QuantizeJob, first: Trial) -> Trial:
    """Keep the costliest layers float, one more at a time, until the budgets are met."""
    cfg, budgets = job.cfg, job.scorer.budgets
    ranking = _rank(job, first.staged)
    info(
        f"[edgeopt] budget missed ({first.report.describe(budgets)}); layers ranked by the "
        f"noise they add: {', '.join(ranking[: cfg.max_search_steps]) or 'none'}"
    )
    best = first
    excl = list(cfg.exclude)
    for layer in ranking[: cfg.max_search_steps]:
        excl = [*excl, layer]
        trial = job.attempt(excl)
        if trial.report.shortfall(budgets) < best.report.shortfall(budgets) - 1e-12:
            best = trial
        if trial.met:
            return trial
    tried = "; ".join(f"{len(t['exclude'])} float: {t['quality']}" for t in job.trials)
    raise AccuracyError(
        f"no configuration met the accuracy budget: best {best.report.describe(budgets)} "
        f"keeping float: {', '.join(best.exclude) or 'none'} [tried {tried}]",
        "loosen --accuracy-budget, calibrate with more or better data (--calib, --samples, "
        "--method), or use --mode fp16 / weight-only",
    )


def _below_floor(job: QuantizeJob, trial: Trial) -> Trial:
    """No budget was given and the result is below the default floor: refuse it, loudly."""
    budgets = job.scorer.budgets
    floor = " ".join(f"{k}={v:g}" for k, v in budgets.items())
    raise AccuracyError(
        f"{job.cfg.mode} quantization of {job.path.name} is below the default accuracy floor "
        f"against its float parent: {trial.report.describe(budgets)}",
        f"set the budget you accept with --accuracy-budget (the floor is {floor}; a budget also "
        "lets quantize keep the costliest layers in float), calibrate with better data "
        "(--calib), or try another --mode",
    )


def _rank(job: QuantizeJob, staged: Path) -> list[str]:
    """Layers by the noise they add (diagnose); per-layer trials where diagnose can't look."""
    arrays = [a[:DIAG_SAMPLES] for a in (job.calib.arrays if job.calib else job.scorer.arrays)]
    if get_format(job.parent.format).diagnoser:
        try:
            with step("rank layers by quantization noise"):
                stats = diagnose(job.path, staged, arrays, quantizable_ops(job.backend))
            ranked = [s.layer for s in rank_layers(stats) if s.layer not in job.cfg.exclude]
            if ranked:
                return ranked
        except UsageError:
            pass
    layers = job.backend.quantizable_layers(job.path)
    return [n for n in reversed(layers) if n not in job.cfg.exclude]


def _files_size(path: Path) -> int:
    from edgeopt.formats import companion_files

    return sum(p.stat().st_size for p in companion_files(path) if p.exists())


def _child_artifact(job: QuantizeJob, trial: Trial) -> Artifact:
    cfg, parent, scorer, result = job.cfg, job.parent, job.scorer, trial.result
    kept = [e for e in trial.exclude if e not in cfg.exclude]
    size_p, size_c = _files_size(job.path), _files_size(trial.staged)
    # fp16 computes in (half) float by design: "ops left in float" means int8 modes only
    float_ops = [] if cfg.mode == QuantMode.FP16 else job.backend.float_ops(trial.staged)
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
        path=trial.staged,
        format=parent.format,
        precision=MODES[cfg.mode].precision,
        inputs=int8_io_specs(parent.inputs, io and io["inputs"]),
        outputs=int8_io_specs(parent.outputs, io and io["outputs"]),
        parent={
            "path": str(job.path.resolve()),
            "sha256": sha256_file(job.path),
            "step": parent.step,
        },
        step="quantize",
        params={
            **cfg.params(),
            "exclude": list(trial.exclude),
            **result.params,
            "route": result.route,
        },
        dataset=parent.dataset,
        task=parent.task,
        notes=list(result.notes),
        extra={
            "mode_reason": job.why,
            "calibration": job.calib.description if job.calib else None,
            "evaluation": scorer.evaluation,
            "accuracy": {
                **scorer.summary(trial.report),
                "parent": {k: v for k, v in scorer.parent.items() if k != "per_class"},
                "budgets": scorer.budgets,
                "budget_source": "--accuracy-budget" if scorer.explicit else "default floor",
                "met": trial.met,
                "quality": trial.report.outputs,
            },
            "size": {
                "parent_bytes": size_p,
                "child_bytes": size_c,
                "ratio": round(size_c / size_p, 4),
            },
            "kept_float": kept,
            "float_ops": float_ops,
            "search": job.trials if len(job.trials) > 1 else [],
        },
    )


def _latency(art: Artifact, job: QuantizeJob, staged: Path) -> None:
    """Quick side-by-side timing on the same runtime; loud when the child is not faster."""
    seconds = job.cfg.latency_seconds
    if seconds <= 0:
        art.extra["latency"] = None
        return
    one = [a[:1] for a in job.scorer.arrays]
    with step("quick latency check against the float parent"):
        p = open_session(job.path, options=LATENCY_OPTIONS)
        c = open_session(staged, options=LATENCY_OPTIONS)
        lat = quick_latency_ratio(p, c, one, seconds)
    art.extra["latency"] = lat
    sp = lat["speedup"] or 0.0
    runtime = lat["child_session"]["runtime"]
    info(
        f"[edgeopt]   latency batch 1: {lat['child_ms']:.3f} ms vs parent "
        f"{lat['parent_ms']:.3f} ms ({sp:.2f}x) on {runtime}"
    )
    if sp >= 1.0:
        return
    ops = art.extra.get("float_ops", [])
    info("[edgeopt] " + "!" * 70)
    info(
        f"[edgeopt] WARNING: the quantized model is NOT faster than its float parent ({sp:.2f}x) on {runtime}."
    )
    if job.cfg.mode in (QuantMode.FP16, QuantMode.WEIGHT_ONLY):
        info(
            f"[edgeopt] {job.cfg.mode} computes in float by design: it saves size, "
            "rarely time on CPUs (use --mode static or dynamic for CPU speed)"
        )
    else:
        more = " ..." if len(ops) > 20 else ""
        info(
            f"[edgeopt] ops that stayed in float ({len(ops)}): {', '.join(ops[:20]) or 'none'}{more}"
        )
    info("[edgeopt] " + "!" * 70)
    art.notes.append(f"not faster than the float parent ({sp:.2f}x in a quick check)")
