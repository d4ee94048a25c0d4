"""A content-addressed cache of intermediate artifacts (keyed by parent hash + step + params).

Running the same step on the same input with the same parameters reuses the stored result,
so a recipe rerun with one change rebuilds only what that change touches.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from edgeopt import __version__
from edgeopt.core.artifact import companion_files, sidecar_path


def default_cache_dir() -> Path:
    base = os.environ.get("EDGEOPT_CACHE") or os.path.join(Path.home(), ".cache", "edgeopt")
    return Path(base) / "artifacts"


def cache_key(parent_id: str, step: str, params: dict) -> str:
    """Stable id of a step's output: what went in, what was done, with which tool version."""
    blob = json.dumps(
        {"parent": parent_id, "step": step, "params": params, "edgeopt": __version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ArtifactCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def get_or_build(self, key: str, filename: str, build: Callable[[Path], object]) -> Path:
        """Return the cached file for `key`, building it with build(output_path) on a miss.

        A cache entry counts only when its sidecar exists (written last by every step).
        """
        entry = self.root / key
        path = entry / filename
        if path.exists() and sidecar_path(path).exists():
            self.hits += 1
            return path
        self.misses += 1
        if entry.exists():
            shutil.rmtree(entry)  # an incomplete entry from an interrupted run
        entry.mkdir(parents=True, exist_ok=True)
        try:
            build(path)
        except BaseException:
            shutil.rmtree(entry, ignore_errors=True)
            raise
        return path


def place(path: Path, dest_dir: Path) -> Path:
    """Hard-link (or copy) an artifact with its companions and sidecar into dest_dir."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for f in [*companion_files(path), sidecar_path(path)]:
        if not f.exists():
            continue
        target = dest_dir / f.name
        if target.exists():
            target.unlink()
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)
    return dest_dir / path.name
