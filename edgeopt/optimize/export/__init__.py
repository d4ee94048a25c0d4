"""Export a source model to ONNX, OpenVINO IR or TFLite, verified against the source."""

from __future__ import annotations

import time
from pathlib import Path

from edgeopt.core.artifact import Artifact, companion_files, sidecar_path
from edgeopt.core.files import check_writable, publish, staging_dir
from edgeopt.core.progress import info, step
from edgeopt.errors import UsageError
from edgeopt.optimize.export import onnx_backend, openvino_backend, tflite_backend
from edgeopt.optimize.export.common import EXPORT_BATCH, ExportConfig, ExportResult, sample_inputs
from edgeopt.optimize.parity import Tolerance, check_parity, summary_line
from edgeopt.runtimes import open_session, open_source_session
from edgeopt.runtimes.base import PARITY_OPTIONS

BACKENDS = {"onnx": onnx_backend, "openvino": openvino_backend, "tflite": tflite_backend}
SUFFIX = {"onnx": ".onnx", "openvino": ".xml", "tflite": ".tflite"}

# parity runs OpenVINO in f32: this CPU would otherwise run bf16 and blur the comparison


def default_output(source, to: str, out_dir: Path = Path("edgeopt-out")) -> Path:
    return out_dir / f"{source.name}{SUFFIX[to]}"


def export_model(source, cfg: ExportConfig) -> Artifact:
    """Export, verify in a staging folder, and only then move the files into place."""
    if cfg.to not in BACKENDS:
        raise UsageError(f"unknown export format {cfg.to!r}", f"use one of: {', '.join(BACKENDS)}")
    out = Path(cfg.output)
    if out.suffix.lower() != SUFFIX[cfg.to]:
        raise UsageError(
            f"output {out} does not end in {SUFFIX[cfg.to]}",
            f"name the {cfg.to} output *{SUFFIX[cfg.to]}",
        )
    check_writable([*companion_files(out), sidecar_path(out)], cfg.force)
    ensure_output_names(source)
    with staging_dir(out) as tmp:
        staged = tmp / out.name
        t0 = time.perf_counter()
        with step(f"export {source.name} -> {cfg.to}"):
            result: ExportResult = BACKENDS[cfg.to].export(source, staged, cfg)
        export_s = time.perf_counter() - t0
        info(f"[edgeopt]   route: {result.route}")
        for note in result.notes:
            info(f"[edgeopt]   note: {note}")
        art = _artifact(source, staged, cfg, result)
        art.extra["export_seconds"] = round(export_s, 3)
        if cfg.verify:
            with step("verify outputs against the source"):
                art.parity = verify_export(source, staged, cfg, art)
            info(f"[edgeopt]   parity: {summary_line(art.parity)}")
        else:
            art.notes.append("not verified (--no-verify)")
            art.params["verified"] = False
        art.refresh_hash()
        art.write_sidecar(staged)
        moves = [(p, out.parent / p.name) for p in companion_files(staged)]
        publish([*moves, (sidecar_path(staged), sidecar_path(out))])
    art.path = out
    return art


def ensure_output_names(source) -> None:
    """Torch sources without output names get output_0..N, so every format uses the same ones."""
    if not source.is_torch or source.output_names:
        return
    from edgeopt.runtimes.torch_rt import TorchSession

    arrays, _ = sample_inputs(source, EXPORT_BATCH)
    n = len(TorchSession(source.module, source.inputs).run(arrays))
    source.output_names = ["output"] if n == 1 else [f"output_{i}" for i in range(n)]


def _artifact(source, staged: Path, cfg: ExportConfig, result: ExportResult) -> Artifact:
    sess = open_session(staged, options=PARITY_OPTIONS)
    inputs = result.inputs or [
        s if not cfg.static else s.with_batch(cfg.batch) for s in source.inputs
    ]
    outputs = sess.outputs
    for o, name in zip(outputs, source.output_names):
        o.name = name or o.name
    return Artifact(
        path=staged,
        format=cfg.to,
        precision="fp16" if cfg.fp16 else "fp32",
        inputs=inputs,
        outputs=outputs,
        parent=source.describe(),
        step="export",
        params={
            "to": cfg.to,
            "opset": cfg.opset,
            "static": cfg.static,
            "fp16": cfg.fp16,
            "batch": cfg.batch,
            **result.params,
        },
        dataset=source.dataset,
        task=source.task,
        notes=list(result.notes),
    )


def verify_export(source, staged: Path, cfg: ExportConfig, art: Artifact) -> dict:
    """Compare on real samples (or seeded random ones); for a dynamic batch, run two sizes."""
    tol = Tolerance.for_precision(art.precision, cfg.atol, cfg.rtol)
    reference = open_source_session(source, PARITY_OPTIONS)
    candidate = open_session(staged, options=PARITY_OPTIONS)
    names = [o.name for o in art.outputs]
    n = max(cfg.samples, EXPORT_BATCH + 1)
    inputs, described = sample_inputs(source, n, cfg.data)
    result = check_parity(reference, candidate, inputs, tol, names, described)
    if cfg.to in ("onnx", "openvino") and not cfg.static:
        single = [a[:1] for a in inputs]
        check_parity(reference, candidate, single, tol, names, "batch 1")
        result["dynamic_batch_checked"] = [1, n]
    return result
