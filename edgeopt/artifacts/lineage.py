"""Lineage: the chain of steps from an artifact back to its source, read from the sidecars."""

from __future__ import annotations

from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.formats import format_of


def lineage(path: Path, limit: int = 20) -> list[dict]:
    """Walk sidecars from the artifact up to the source model: each step and its parameters."""
    chain: list[dict] = []
    current: Path | None = path
    while current is not None and len(chain) < limit:
        art = Artifact.load(current)
        if art is None:
            chain.append({"file": str(current), "note": "no sidecar: lineage stops here"})
            break
        chain.append(
            {
                "file": current.name,
                "sha256": art.sha256,
                "format": art.format,
                "precision": art.precision,
                "step": art.step,
                "params": art.params,
            }
        )
        parent = art.parent or {}
        ref = parent.get("ref") or parent.get("path")
        if not ref or not Path(ref).exists() or format_of(ref) is None:
            if ref:
                chain.append({"source": ref, "sha256": parent.get("sha256")})
            break
        current = Path(ref)
    return chain


def inherited(path: Path, key: str, limit: int = 20):
    """`extra[key]` of the artifact or of its nearest ancestor that records it: facts recorded
    once where they arise (the preprocessing of a model folder, at its export) and read by
    every later step from there."""
    current: Path | None = Path(path)
    for _ in range(limit):
        art = Artifact.load(current) if current is not None and current.exists() else None
        if art is None:
            return None
        if key in art.extra:
            return art.extra[key]
        ref = (art.parent or {}).get("path") or (art.parent or {}).get("ref")
        current = Path(ref) if ref and format_of(ref) is not None else None
    return None
