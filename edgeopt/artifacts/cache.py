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
from edgeopt.artifacts.artifact import sidecar_path
from edgeopt.core.files import atomic_write_text
from edgeopt.formats import companion_files


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
    """Entries are folders named by key; `entry.json` (written last) names the main file."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def lookup(self, key: str) -> Path | None:
        marker = self.root / key / "entry.json"
        if not marker.exists():
            return None
        try:
            path = self.root / key / json.loads(marker.read_text())["file"]
        except (json.JSONDecodeError, KeyError, TypeError):
            return None  # a damaged entry is a miss: it is rebuilt
        return path if path.exists() and sidecar_path(path).exists() else None

    def get_or_build(self, key: str, build: Callable[[Path], Path]) -> tuple[Path, bool]:
        """(path, hit): the cached artifact for `key`, or build(entry_dir) -> path on a miss."""
        found = self.lookup(key)
        if found is not None:
            self.hits += 1
            return found, True
        self.misses += 1
        entry = self.root / key
        if entry.exists():
            shutil.rmtree(entry)  # an incomplete entry from an interrupted run
        entry.mkdir(parents=True)
        try:
            path = Path(build(entry))
            atomic_write_text(entry / "entry.json", json.dumps({"file": path.name}) + "\n")
        except BaseException:
            shutil.rmtree(entry, ignore_errors=True)
            raise
        return path, False


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
