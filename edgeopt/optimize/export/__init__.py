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
from edgeopt.core.text import first_line
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
from edgeopt.runtimes.base import PARITY_OPTIONS, batch_axes

# sizes every non-batch dynamic dim (a sequence length, an image side) is also checked at,
# besides the inputs of the main check, each at every batch of DIM_CHECK_BATCHES (Optimum
# validates several batch sizes and sequence lengths too); a `sequence` dim also at 128
EXTRA_DIM_SIZES = (8, 33)
SEQUENCE_SIZES = (8, 33, 128)
DIM_CHECK_BATCHES = (1, 3)

__all__ = [
    "ExportConfig",
    "default_output",
    "export_formats",
    "export_model",
    "exporter_for",
    "file_reaches",
    "take_file",
]


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
    ensure_output_names(source, cfg.data)
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


def file_reaches(fmt: str) -> tuple[str, ...]:
    """Formats a model *file* of format `fmt` can become: itself, and OpenVINO IR (which
    converts ONNX and TFLite files). The other exporters take PyTorch sources only."""
    return (fmt, "openvino") if fmt in ("onnx", "tflite") else (fmt,)


def take_file(source, out: Path) -> Path:
    """A model file used as it is (a recipe's baseline and candidates start from it): copied
    with its companions, with a sidecar that records its specs (--input included)."""
    import shutil

    from edgeopt.formats import companion_files, content_precision

    for f in companion_files(source.path):
        if f.exists():
            shutil.copy2(f, out.parent / f.name.replace(source.path.name, out.name))
    art = Artifact.load(source.path) or Artifact(path=out, format=source.format, step="source")
    art.path = out
    art.precision = content_precision(out) or art.precision
    art.inputs = list(source.inputs)
    if not art.outputs:
        art.outputs = open_session(out, options=PARITY_OPTIONS).outputs
    art.dataset = art.dataset or source.dataset
    art.refresh_hash()
    art.write_sidecar(out)
    return out


def ensure_output_names(source, data=None) -> None:
    """Torch sources without output names get output_0..N, so every format uses the same ones.

    The probe feeds the user's data (or the source's example) before random values: a model
    that checks its inputs (a sample rate of 8000 or 16000) refuses arbitrary ones.
    """
    if not source.is_torch or source.output_names:
        return
    from edgeopt.runtimes.torch_rt import TorchSession

    arrays, described = sample_inputs(source, EXPORT_BATCH, data)
    try:
        n = len(TorchSession(source.module, source.inputs).run(arrays))
    except Exception as e:
        raise UsageError(
            f"{source.name} fails on {described}: {first_line(e)}",
            "give real inputs with --data (e.g. npz:samples.npz), or fix the shapes with --input",
        ) from e
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
        dataset=source.dataset or _folder_data(source, cfg),
        task=source.task,
        notes=list(result.notes),
        extra={"preprocessing": source.preprocessing} if source.preprocessing else {},
    )


def _folder_data(source, cfg: ExportConfig) -> str | None:
    """A model folder (hf:) has no dataset of its own: the data its export was checked on,
    with the tokenizer or processor named in the spec, becomes the artifact's, so later steps
    (quantize, bench, package) feed real inputs without being told again."""
    from edgeopt.data import data_ref_name
    from edgeopt.data.hf_folder import bind

    name = data_ref_name(cfg.data)
    return bind(name) if source.preprocessing and name else None


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
    axes = batch_axes(art.inputs)
    batch_dynamic = any(
        ax is not None and not isinstance(s.shape[ax], int) for s, ax in zip(art.inputs, axes)
    )
    if batch_dynamic and not cfg.static:
        single = [a[:1] if a.ndim else a for a in inputs]
        check_parity(reference, candidate, single, tol, names_out, "batch 1")
        result["dynamic_batch_checked"] = [1, n]
    main_sizes = {
        str(d): a.shape[k]
        for s, a, ax in zip(art.inputs, inputs, axes)
        # inputs are sample-first: dim i of the spec is at 1 + its index without the batch
        for k, (i, d) in enumerate(((i, d) for i, d in enumerate(s.shape) if i != ax), 1)
        if ax is not None and not isinstance(d, int) and k < a.ndim
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
    batches = (1,) if art.params.get("static") else DIM_CHECK_BATCHES
    extra_sizes = SEQUENCE_SIZES if "sequence" in dims else EXTRA_DIM_SIZES
    for size in extra_sizes:
        sizes = dict.fromkeys(dims, size)
        for batch in batches:
            arrays = random_inputs(art.inputs, batch, seed=size, dims=sizes)
            try:
                reference.run(arrays)
            except Exception as e:  # the source has its own shape rules (multiples of 32, ...)
                for d in dims:
                    checked.setdefault(f"{d}_skipped", []).append(f"{size}: {type(e).__name__}")
                break
            where = f"dynamic dims {sizes}, batch {batch}"
            try:
                check_parity(reference, candidate, arrays, tol, names_out, where)
            except EdgeoptError as e:
                raise type(e)(f"at {where}: {e.message}", e.hint) from e
        else:
            for d in dims:
                checked[d].append(size)
    checked["batches"] = list(batches)
    return checked
