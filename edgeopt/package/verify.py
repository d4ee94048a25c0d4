"""`optimize verify BUNDLE`: unpack safely, every hash (and with a key, the signature), then a
real run of the samples against the references.

Guarantee: verify executes nothing from the bundle. run.py is never run or imported; the model
is opened by edgeopt's own runtime sessions, samples are read with numpy (no pickles), raw
samples are preprocessed by edgeopt's own code; and all of it only after every path in the
manifest was checked and every file matched its sha256.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgeopt.core.progress import info, step
from edgeopt.errors import UsageError
from edgeopt.metrics.compare import compare_outputs
from edgeopt.optimize.parity import Tolerance
from edgeopt.package.manifest import BundleError
from edgeopt.package.unpack import unpack
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import SessionOptions

__all__ = ["BundleError", "run_samples", "verify_bundle"]


def verify_bundle(
    bundle: Path, device: str = "cpu", key: Path | None = None, max_bytes: int | None = None
) -> dict:
    """Unpack into a temp folder (removed whatever happens), check the signature when `key` is
    given, every file's sha256, then run the samples on the model's runtime and compare."""
    from edgeopt.package import signing

    bundle = Path(bundle)
    if not bundle.exists():
        raise UsageError(f"bundle not found: {bundle}", "check the path")
    public = signing.load_verify_key(key) if key else None

    def on_signature(manifest_bytes: bytes, signature: bytes | None) -> str | None:
        if public is None:
            return None
        return signing.check_signature(manifest_bytes, signature, public, Path(key), bundle)

    with tempfile.TemporaryDirectory(prefix="edgeopt-verify-") as tmp:
        root = Path(tmp)
        with step("unpack and check every file against the manifest"):
            got = unpack(bundle, root, max_bytes, on_signature)
        if got.problems:
            raise BundleError(
                f"bundle {bundle.name} failed its hash check: {'; '.join(got.problems)}",
                "the bundle was modified or damaged; rebuild or copy it again",
            )
        manifest = got.manifest
        info(f"[edgeopt]   {got.files} files match their sha256")
        result = {
            "bundle": str(bundle),
            "target": manifest.get("target"),
            "files": got.files,
            "authenticity": {
                "checked": public is not None,
                "signed": got.signature is not None,
                "key": str(key) if key else None,
                "key_fingerprint": got.signer or signing.signer_of(got.signature),
            },
        }
        samples, sess = run_samples(root, manifest, device)
        result.update(samples)
        from edgeopt.package.raw import check_raw

        raw = check_raw(root, manifest, sess)
        if raw is not None:
            result["raw_samples"] = raw
        return result


def run_samples(root: Path, manifest: dict, device: str = "cpu"):
    """Run the bundled samples where the target runs them (arm bundles on aarch64 under qemu);
    returns the results and the session, which the raw-input check reuses."""
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
        try:  # npz files: arrays only, numpy refuses pickled objects by default
            ins = np.load(root / manifest["samples"]["inputs"])
            refs = np.load(root / manifest["samples"]["reference_outputs"])
            xs = [ins[s["name"]] for s in manifest["inputs"]]
            expected = [refs[s["name"]] for s in manifest["outputs"]]
        except (KeyError, ValueError, OSError) as e:
            raise BundleError(
                f"the bundle's samples cannot be read: {type(e).__name__}: {e}",
                "rebuild the bundle with optimize package",
            ) from e
        outputs = sess.run(xs)
    tol = Tolerance(**manifest["tolerance"])
    results = {}
    for spec, ref, out in zip(manifest["outputs"], expected, outputs):
        stats = compare_outputs(ref, out)
        stats["within_tolerance"] = tol.allows(stats)
        results[spec["name"]] = stats
        if not stats["within_tolerance"]:
            raise BundleError(
                f"output {spec['name']!r} differs from the bundle's reference: max abs diff "
                f"{stats.get('max_abs', float('nan')):.3g} (atol {tol.atol:g}, rtol {tol.rtol:g})",
                "the runtime here differs from the one that made the references; see the manifest",
            )
    return {"runtime": sess.describe(), "outputs": results, "passed": True}, sess
