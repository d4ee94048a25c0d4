"""Export a source model to any format with an exporter, verified against the source.

Which formats can be written, and by which backend, comes from the format registry
(edgeopt.formats); this module is the one algorithm around them: stage, export, verify at
several shapes, then publish.
"""

from __future__ import annotations

import time
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact, check_free, publish_artifact
from edgeopt.core.files import staging_dir
from edgeopt.core.plugins import load
from edgeopt.core.progress import info, step
from edgeopt.data import random_inputs
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.formats import get_format, names
from edgeopt.optimize.export.common import (
    EXPORT_BATCH,
    ExportConfig,
    Exporter,
    ExportResult,
    sample_inputs,
    static_specs,
)
from edgeopt.optimize.parity import Tolerance, check_parity, summary_line
from edgeopt.runtimes import open_session, open_source_session
from edgeopt.runtimes.base import PARITY_OPTIONS

# sizes every non-batch dynamic dim (a sequence length, an image side) is also checked at,
# besides the inputs of the main check (Optimum validates several sequence lengths too)
EXTRA_DIM_SIZES = (8, 33)

__all__ = ["ExportConfig", "default_output", "export_formats", "export_model", "exporter_for"]


def export_formats() -> list[str]:
    """Formats `optimize export --to` accepts."""
    return names("exporter")


def exporter_for(fmt: str) -> Exporter:
    return load(get_format(fmt, "exporter").exporter)


def default_output(source, to: str, out_dir: Path = Path("edgeopt-out")) -> Path:
    return out_dir / f"{source.name}{get_format(to).suffix}"


def export_model(source, cfg: ExportConfig) -> Artifact:
    """Export, verify in a staging folder, and only then move the files into place."""
    spec = get_format(cfg.to, "exporter")
    exporter = exporter_for(cfg.to)
    out = Path(cfg.output)
    if not out.name.lower().endswith(spec.suffixes):
        raise UsageError(
            f"output {out} does not end in {spec.suffix}",
            f"name the {cfg.to} output *{spec.suffix}",
        )
    check_free(out, cfg.force)
    ensure_output_names(source)
    with staging_dir(out) as tmp:
        staged = tmp / out.name
        t0 = time.perf_counter()
        with step(f"export {source.name} -> {cfg.to}"):
            result: ExportResult = exporter.export(source, staged, cfg)
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
        publish_artifact(staged, out)
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
    inputs = result.inputs or (static_specs(source, cfg) if cfg.static else source.inputs)
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
    """Compare on real samples (or seeded random ones) at several shapes: the main batch,
    batch 1 when the batch is dynamic, and two more sizes of every other dynamic dim."""
    tol = Tolerance.for_precision(art.precision, cfg.atol, cfg.rtol)
    reference = open_source_session(source, PARITY_OPTIONS)
    candidate = open_session(staged, options=PARITY_OPTIONS)
    names_out = [o.name for o in art.outputs]
    n = max(cfg.samples, EXPORT_BATCH + 1)
    inputs, described = sample_inputs(source, n, cfg.data)
    result = check_parity(reference, candidate, inputs, tol, names_out, described)
    batch_dynamic = any(s.shape and not isinstance(s.shape[0], int) for s in art.inputs)
    if batch_dynamic and not cfg.static:
        single = [a[:1] if a.ndim else a for a in inputs]
        check_parity(reference, candidate, single, tol, names_out, "batch 1")
        result["dynamic_batch_checked"] = [1, n]
    main_sizes = {
        str(d): a.shape[i]
        for s, a in zip(art.inputs, inputs)
        for i, d in enumerate(s.shape)
        if i > 0 and not isinstance(d, int) and i < a.ndim
    }
    if main_sizes:
        result["dynamic_dims_checked"] = _check_dynamic_dims(
            reference, candidate, art, main_sizes, tol, names_out
        )
    return result


def _check_dynamic_dims(reference, candidate, art, main_sizes: dict, tol, names_out) -> dict:
    """Parity with every named non-batch dynamic dim at EXTRA_DIM_SIZES (seeded inputs).

    A size the source itself cannot take is skipped and recorded; a mismatch fails.
    """
    dims = sorted(main_sizes)
    checked: dict = {d: [int(main_sizes[d])] for d in dims}
    batch = 1 if art.params.get("static") else EXPORT_BATCH
    for size in EXTRA_DIM_SIZES:
        sizes = dict.fromkeys(dims, size)
        arrays = random_inputs(art.inputs, batch, seed=size, dims=sizes)
        try:
            reference.run(arrays)
        except Exception as e:  # the source has its own shape rules (multiples of 32, ...)
            for d in dims:
                checked.setdefault(f"{d}_skipped", []).append(f"{size}: {type(e).__name__}")
            continue
        try:
            check_parity(
                reference, candidate, arrays, tol, names_out, f"dynamic dims {sizes}, batch {batch}"
            )
        except EdgeoptError as e:
            raise type(e)(f"at dynamic dims {sizes}: {e.message}", e.hint) from e
        for d in dims:
            checked[d].append(size)
    return checked
