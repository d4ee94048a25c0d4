"""What a bundle's manifest may name, checked before any file is touched.

The rules themselves live in the bundle runner (`runner_template.py`), which has to run alone
on devices; edgeopt imports them from there so `optimize verify`, `optimize package` and
`run.py` apply one definition: every path relative, normalised, inside the bundle and listed
(with its sha256 and size) in `files`.
"""

from __future__ import annotations

import json
import math

from edgeopt.errors import EdgeoptError
from edgeopt.package.runner_template import (
    RESERVED,
    SIGNATURE,
    manifest_problems,
    path_problem,
    show,
)

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20  # recipes and lineage included, manifests are a few kB
MAX_SIGNATURE_BYTES = 64 << 10

__all__ = [
    "MANIFEST",
    "MAX_MANIFEST_BYTES",
    "MAX_SIGNATURE_BYTES",
    "RESERVED",
    "SIGNATURE",
    "BundleError",
    "check_manifest",
    "manifest_problems",
    "parse_manifest",
    "path_problem",
    "show",
]


class BundleError(EdgeoptError):
    """The bundle is damaged, hostile or does not reproduce its reference outputs."""


def check_manifest(manifest: object, where: str) -> dict:
    """The manifest itself when every path in it is safe and hashed, else BundleError naming
    the bad entries (by their text only: nothing they name is looked at)."""
    problems = manifest_problems(manifest) or _shape_problems(manifest)
    if problems:
        raise BundleError(
            f"{MANIFEST} of {where} is refused: {'; '.join(problems[:5])}"
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
            "rebuild the bundle with optimize package; do not run this one",
        )
    assert isinstance(manifest, dict)
    return manifest


def parse_manifest(data: bytes, where: str) -> dict:
    """Parse the stored manifest bytes and check them (see check_manifest)."""
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise BundleError(
            f"{MANIFEST} in {where} is corrupt: {e}", "rebuild the bundle with optimize package"
        ) from e
    return check_manifest(manifest, where)


def _shape_problems(manifest: dict) -> list[str]:
    """The entries verify reads besides paths: a runtime name, named inputs and outputs, a
    tolerance; so a malformed manifest is refused in one line rather than failing mid-run."""
    problems = []
    if not isinstance(manifest["model"].get("runtime"), str):
        problems.append("model.runtime is not a name")
    for key in ("inputs", "outputs"):
        specs = manifest.get(key)
        if not (
            isinstance(specs, list)
            and specs
            and all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in specs)
        ):
            problems.append(f"{key} is not a list of named tensors")
    tol = manifest.get("tolerance")
    ok = isinstance(tol, dict) and set(tol) == {"atol", "rtol"}
    ok = ok and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        for v in tol.values()
    )
    if not ok:
        problems.append("tolerance is not {atol, rtol} as two non-negative numbers")
    return problems
