"""Comparing two models' outputs: error statistics, cosine similarity, top-1 agreement."""

from __future__ import annotations

import numpy as np


def compare_outputs(ref: np.ndarray, got: np.ndarray) -> dict:
    """Differences of one output against its reference, as plain floats for JSON."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if ref.shape != got.shape:
        return {"shape_mismatch": [list(ref.shape), list(got.shape)]}
    # inf/NaN in the same places on both sides agree; anywhere else they are a mismatch
    bad_r, bad_g = ~np.isfinite(ref), ~np.isfinite(got)
    same = bad_r & bad_g & ((ref == got) | (np.isnan(ref) & np.isnan(got)))
    nonfinite_mismatch = int((bad_r | bad_g).sum() - same.sum())
    finite = ~(bad_r | bad_g)
    if not finite.all():
        ref, got = np.where(finite, ref, 0.0), np.where(finite, got, 0.0)
    diff = np.abs(ref - got)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    out = {
        "max_abs": float(diff.max()) if diff.size else 0.0,
        "mean_abs": float(diff.mean()) if diff.size else 0.0,
        "max_rel": float(diff.max() / scale) if scale > 0 and diff.size else 0.0,
        "ref_scale": scale,
        "cosine": cosine(ref, got),
    }
    if nonfinite_mismatch:
        out["nonfinite_mismatch"] = nonfinite_mismatch
    if is_classifier_output(ref):
        out["top1_agreement"] = float((ref.argmax(-1) == got.argmax(-1)).mean())
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine similarity per sample (rows of the flattened outputs)."""
    a2 = (
        np.asarray(a, dtype=np.float64).reshape(len(a), -1)
        if np.ndim(a) > 1
        else np.asarray(a, np.float64)[None]
    )
    b2 = (
        np.asarray(b, dtype=np.float64).reshape(len(b), -1)
        if np.ndim(b) > 1
        else np.asarray(b, np.float64)[None]
    )
    num = (a2 * b2).sum(1)
    den = np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1)
    return float(np.mean(np.where(den > 0, num / np.maximum(den, 1e-30), 1.0)))


def is_classifier_output(arr: np.ndarray) -> bool:
    """A 2-D [batch, classes] float output reads as class scores."""
    return arr.ndim == 2 and arr.shape[1] > 1 and np.issubdtype(arr.dtype, np.floating)
