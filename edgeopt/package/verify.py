"""`optimize verify BUNDLE`: every hash, then a real run of the samples against the references."""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from edgeopt.core.files import sha256_file
from edgeopt.core.progress import info, step
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.metrics.compare import compare_outputs
from edgeopt.optimize.parity import Tolerance
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import SessionOptions


class BundleError(EdgeoptError):
    """The bundle is damaged or does not reproduce its reference outputs."""


def _safe_extract(bundle: Path, dest: Path) -> None:
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                if (
                    m.name.startswith("/")
                    or ".." in Path(m.name).parts
                    or not (m.isfile() or m.isdir())
                ):
                    raise BundleError(
                        f"bundle member {m.name!r} is unsafe (absolute, '..' or a link)",
                        "rebuild the bundle with optimize package",
                    )
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BundleError(
            f"{bundle} is truncated or not a .tar.gz bundle ({type(e).__name__}: {e})",
            "copy the bundle again, or rebuild it with optimize package",
        ) from e


def check_hashes(root: Path, manifest: dict) -> list[str]:
    """Every file the manifest lists must exist with its hash; returns the problems found."""
    problems = []
    for name, meta in manifest.get("files", {}).items():
        p = root / name
        if not p.is_file():
            problems.append(f"{name}: missing")
        elif p.stat().st_size != meta["bytes"]:
            problems.append(f"{name}: size {p.stat().st_size} bytes, manifest says {meta['bytes']}")
        elif sha256_file(p) != meta["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest (file was modified)")
    listed = set(manifest.get("files", {}))
    for p in root.rglob("*"):
        rel = str(p.relative_to(root))
        if p.is_file() and rel != "manifest.json" and rel not in listed:
            problems.append(f"{rel}: not listed in the manifest")
    return problems


def verify_bundle(bundle: Path, device: str = "cpu") -> dict:
    """Check hashes, load the model on its runtime, run the samples, compare with the references."""
    bundle = Path(bundle)
    if not bundle.exists():
        raise UsageError(f"bundle not found: {bundle}", "check the path")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _safe_extract(bundle, root)
        mpath = root / "manifest.json"
        if not mpath.exists():
            raise BundleError(f"{bundle} has no manifest.json", "rebuild it with optimize package")
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as e:
            raise BundleError(
                f"manifest.json in {bundle} is corrupt: {e}", "rebuild the bundle"
            ) from e
        with step("check file hashes"):
            problems = check_hashes(root, manifest)
        if problems:
            raise BundleError(
                f"bundle {bundle.name} failed its hash check: {'; '.join(problems)}",
                "the bundle was modified or damaged; rebuild or copy it again",
            )
        info(f"[edgeopt]   {len(manifest['files'])} files match their sha256")
        return {
            "bundle": str(bundle),
            "target": manifest.get("target"),
            "files": len(manifest["files"]),
            **run_samples(root, manifest, device),
        }


def run_samples(root: Path, manifest: dict, device: str = "cpu") -> dict:
    """Run the bundled samples where the target runs them: arm bundles on aarch64 under qemu."""
    model = manifest["model"]
    arm = manifest.get("target") == "arm"
    where = "aarch64 (qemu emulation)" if arm else model["runtime"]
    with step(f"run {manifest['samples']['count']} samples on {where}"):
        sess = open_session(
            root / model["file"], model["runtime"], SessionOptions(precision="f32", device=device)
        )
        if arm:
            from edgeopt.targets.emulation import EmulatedArmSession

            sess = EmulatedArmSession(root / model["file"], sess)
        ins = np.load(root / manifest["samples"]["inputs"])
        refs = np.load(root / manifest["samples"]["reference_outputs"])
        outputs = sess.run([ins[s["name"]] for s in manifest["inputs"]])
    tol = Tolerance(**manifest["tolerance"])
    results = {}
    for spec, out in zip(manifest["outputs"], outputs):
        stats = compare_outputs(refs[spec["name"]], out)
        stats["within_tolerance"] = tol.allows(stats)
        results[spec["name"]] = stats
        if not stats["within_tolerance"]:
            raise BundleError(
                f"output {spec['name']!r} differs from the bundle's reference: max abs diff "
                f"{stats.get('max_abs', float('nan')):.3g} (atol {tol.atol:g}, rtol {tol.rtol:g})",
                "the runtime here differs from the one that made the references; see the manifest",
            )
    return {"runtime": sess.describe(), "outputs": results, "passed": True}
