"""Transformer graph fusion for ONNX Runtime: attention, LayerNorm, GELU and bias into fused ops.

ORT's own graph optimizations (ORT_ENABLE_ALL) do not fuse the attention of an exported
transformer, so plain ORT fp32 ran slower than torch eager on MiniLM; the offline optimizer in
`onnxruntime.transformers` does. The fused file is checked against its parent like any step.
"""

from __future__ import annotations

from pathlib import Path

from edgeopt.artifacts.artifact import Artifact, check_free, publish_artifact
from edgeopt.core.files import sha256_file, staging_dir
from edgeopt.core.progress import info, quiet, step
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError, UsageError
from edgeopt.formats import format_of, get_format
from edgeopt.optimize.parity import Tolerance, check_parity, summary_line
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import PARITY_OPTIONS

FUSED_OPS = (
    "Attention",
    "MultiHeadAttention",
    "SkipLayerNormalization",
    "EmbedLayerNormalization",
    "LayerNormalization",
    "FastGelu",
    "BiasGelu",
    "Gelu",
    "SkipSimplifiedLayerNormalization",
)
# fused kernels reorder float sums (and may approximate GELU): fp32 noise, not a precision change
FUSION_TOLERANCE = Tolerance(1e-3, 1e-3)


def has_attention(op_counts: dict[str, int]) -> bool:
    """A transformer's signature: softmax over MatMul products (or already fused attention)."""
    fused = op_counts.get("Attention", 0) + op_counts.get("MultiHeadAttention", 0)
    return fused > 0 or (op_counts.get("Softmax", 0) > 0 and op_counts.get("MatMul", 0) >= 4)


def fuse_transformer(path: Path, output: Path, force: bool = False, samples=None) -> Artifact:
    """Write `output`: `path` with its transformer subgraphs fused, verified against it."""
    path, output = Path(path), Path(output)
    if format_of(path) != "onnx":
        raise UsageError(
            f"transformer fusion takes ONNX models, not {path.name}", "export to ONNX first"
        )
    parent = Artifact.load(path)
    counts = get_format("onnx").inspector.op_counts(path)
    if not has_attention(counts):
        raise UsageError(
            f"{path.name} has no attention to fuse (no Softmax over MatMul products)",
            "fusion applies to transformer models; use the export as it is",
        )
    check_free(output, force)
    with staging_dir(output) as tmp:
        staged = tmp / output.name
        with step(f"fuse transformer subgraphs of {path.name}"):
            try:
                with quiet():
                    from onnxruntime.transformers.optimizer import optimize_model

                    model = optimize_model(str(path), model_type="bert", num_heads=0, hidden_size=0)
                    model.save_model_to_file(str(staged))
            except Exception as e:
                raise ConversionError(
                    f"transformer fusion of {path.name} failed: {first_line(e)}",
                    "use the unfused export (ORT still applies its own optimizations)",
                ) from e
        after = get_format("onnx").inspector.op_counts(staged)
        fused = {k: v for k, v in after.items() if k in FUSED_OPS and v > counts.get(k, 0)}
        info(f"[edgeopt]   fused: {', '.join(f'{k} x{v}' for k, v in fused.items()) or 'nothing'}")
        art = Artifact(
            path=staged,
            format="onnx",
            precision=parent.precision if parent else "fp32",
            inputs=list(parent.inputs) if parent else open_session(path).inputs,
            outputs=list(parent.outputs) if parent else open_session(path).outputs,
            parent={
                "path": str(path.resolve()),
                "sha256": sha256_file(path),
                "step": parent.step if parent else "",
            },
            step="fuse",
            params={
                "optimizer": "onnxruntime.transformers.optimizer",
                "model_type": "bert",
                "fused": fused,
            },
            dataset=parent.dataset if parent else None,
            task=parent.task if parent else None,
        )
        art.parity = _verify(path, staged, art, samples)
        info(f"[edgeopt]   parity: {summary_line(art.parity)}")
        art.refresh_hash()
        art.write_sidecar(staged)
        publish_artifact(staged, output)
    art.path = output
    return art


def _verify(parent: Path, staged: Path, art: Artifact, samples) -> dict:
    from edgeopt.data import sample_arrays

    ref = open_session(parent, options=PARITY_OPTIONS)
    cand = open_session(staged, options=PARITY_OPTIONS)
    arrays, described = sample_arrays(art.inputs or ref.inputs, 16, samples or art.dataset)
    return check_parity(
        ref, cand, arrays, FUSION_TOLERANCE, [o.name for o in art.outputs], described
    )
