"""`optimize package`: build a device bundle (tar.gz) around one artifact."""

from __future__ import annotations

import io
import json
import platform
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from edgeopt.artifacts.artifact import Artifact, sidecar_path
from edgeopt.artifacts.lineage import lineage
from edgeopt.core.files import check_writable, default_file_mode, sha256_file
from edgeopt.core.progress import step
from edgeopt.data import sample_arrays
from edgeopt.errors import UsageError
from edgeopt.formats import companion_files, format_of, names
from edgeopt.optimize.parity import Tolerance
from edgeopt.package.manifest import SIGNATURE, manifest_problems
from edgeopt.package.raw import preprocessing_of
from edgeopt.package.raw import stage as stage_raw
from edgeopt.package.signing import load_private_key, sign_manifest
from edgeopt.runtimes import RUNTIMES, open_session, runtimes_for
from edgeopt.runtimes.base import PARITY_OPTIONS
from edgeopt.targets.registry import get_target

MANIFEST_SCHEMA = 1
RUNNER = Path(__file__).with_name("runner_template.py")


@dataclass
class PackageConfig:
    output: Path
    target: str | None = None  # default: the artifact's own target, else cpu
    samples: int = 8
    results: Path | None = None  # a bench results JSON whose figures go into the manifest
    recipe: Path | None = None
    force: bool = False
    extra_files: list[Path] = field(default_factory=list)
    sign: Path | None = None  # an Ed25519 private key (optimize keygen): adds manifest.json.sig


def bundle_tolerance(precision: str) -> Tolerance:
    """The same file run again (maybe on another CPU): int8 may round a step apart (as on arm)."""
    from edgeopt.targets.verify import ARM_TOLERANCES

    if precision in ARM_TOLERANCES:
        return Tolerance(*ARM_TOLERANCES[precision])
    return Tolerance.for_precision(precision)


def _measured(cfg: PackageConfig, path: Path) -> dict | None:
    if not cfg.results:
        return None
    try:
        data = json.loads(Path(cfg.results).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UsageError(
            f"cannot read results {cfg.results}: {e}", "pass a bench results JSON"
        ) from e
    for entry in data.get("artifacts", []):
        if Path(entry.get("path", "")).name == path.name:
            return {
                "results": entry,
                "machine": data.get("machine"),
                "measured_at": data.get("created"),
            }
    raise UsageError(
        f"{cfg.results} has no results for {path.name}",
        "bench this artifact first, or leave --results out",
    )


def build_bundle(path: Path, cfg: PackageConfig) -> Path:
    """Write the bundle to a temp file beside the output, then rename it into place."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"artifact not found: {path}", "check the path")
    out = Path(cfg.output)
    if not out.name.endswith((".tar.gz", ".tgz")):
        raise UsageError(f"bundle name {out} should end in .tar.gz", "e.g. -o model-cpu.tar.gz")
    check_writable([out], cfg.force)
    key = load_private_key(cfg.sign) if cfg.sign else None  # a bad key stops before any work
    fmt = format_of(path)
    runtimes = runtimes_for(path)
    if not runtimes:
        raise UsageError(
            f"cannot package {path.name}: format {fmt or 'unknown'} has no runtime",
            f"package one of: {', '.join(names('runtimes'))}",
        )
    art = Artifact.load(path)
    target = get_target(cfg.target or (art.target if art else None) or "cpu").name
    runtime = runtimes[0]
    with step(f"package {path.name} for {target}"):
        session = open_session(path, runtime, PARITY_OPTIONS)
        inputs, described = _samples(art, session, cfg.samples)
        outputs = session.run(inputs)
        in_specs = _io_specs(art.inputs if art else [], session.inputs)
        out_specs = _io_specs(art.outputs if art else [], session.outputs)
        files = [p for p in companion_files(path) if p.exists()]
        if sidecar_path(path).exists():
            files.append(sidecar_path(path))
        ops_config = ((art.extra if art else {}).get("required_operators") or {}).get("file")
        if ops_config and (path.parent / ops_config).exists():
            files.append(path.parent / ops_config)  # the op list a minimal ORT build needs
        tol = bundle_tolerance(art.precision if art else "fp32")
        manifest = {
            "schema_version": MANIFEST_SCHEMA,
            "created": datetime.now(UTC).isoformat(),
            "target": target,
            "model": {
                "file": f"model/{path.name}",
                "format": fmt,
                "precision": art.precision if art else "unknown",
                "runtime": runtime,
                "runtime_version": session.version,
                "min_runtime_version": RUNTIMES[runtime].min_bundle_version,
            },
            "inputs": in_specs,
            "outputs": out_specs,
            "preprocessing": _preprocessing(art),  # raw-input entry: see package.raw
            "samples": {
                "inputs": "samples/inputs.npz",
                "reference_outputs": "samples/reference_outputs.npz",
                "count": int(len(inputs[0])),
                "source": described,
                "produced_by": session.describe(),
                "machine": platform.machine(),
            },
            "tolerance": {"atol": tol.atol, "rtol": tol.rtol},
            "measured": _measured(cfg, path),
            "lineage": lineage(path),
            "recipe": Path(cfg.recipe).read_text() if cfg.recipe else None,
            "files": {},
        }
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "model").mkdir()
            (root / "samples").mkdir()
            for f in files:
                shutil.copy2(f, root / "model" / f.name)
            np.savez(
                root / "samples/inputs.npz", **{s["name"]: a for s, a in zip(in_specs, inputs)}
            )
            np.savez(
                root / "samples/reference_outputs.npz",
                **{s["name"]: o for s, o in zip(out_specs, outputs)},
            )
            prep = preprocessing_of(path)
            if prep:  # tokenizer or image processor files, raw samples and their references
                manifest["preprocessing"] = stage_raw(prep, root, session, in_specs, out_specs)
            shutil.copy2(RUNNER, root / "run.py")
            for f in cfg.extra_files:
                shutil.copy2(f, root / f.name)
            manifest["files"] = {
                str(p.relative_to(root)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                for p in sorted(root.rglob("*"))
                if p.is_file()
            }
            problems = manifest_problems(manifest)  # what verify and run.py will refuse
            if problems:
                raise UsageError(
                    f"cannot package {path.name}: {'; '.join(problems)}",
                    "rename the files so their names are plain relative paths",
                )
            _write_tar(root, manifest, out, key)
    return out


def _samples(art: Artifact | None, session, n: int):
    """Real samples from the artifact's dataset when it names one, else seeded random inputs."""
    specs = art.inputs if art and art.inputs else session.inputs
    return sample_arrays(specs, n, art.dataset if art else None)


def _io_specs(declared, runtime_specs) -> list[dict]:
    """Our names (from the sidecar) with the runtime's own tensor names and int8 parameters."""
    out = []
    for i, rs in enumerate(runtime_specs):
        d = declared[i].to_dict() if i < len(declared) else rs.to_dict()
        extra = dict(rs.extra)
        d["runtime_name"] = extra.pop("runtime_name", rs.name)
        if extra:
            d["extra"] = {**d.get("extra", {}), **extra}
        out.append(d)
    return out


def _preprocessing(art: Artifact | None) -> dict:
    if art and art.extra.get("preprocessing"):
        return art.extra["preprocessing"]
    if art and art.dataset:
        return {
            "dataset": art.dataset,
            "note": "inputs are the dataset's raw values; any normalisation is inside the model",
        }
    return {"note": "not recorded: feed inputs exactly as the model's input spec says"}


def _write_tar(root: Path, manifest: dict, out: Path, key=None) -> None:
    """manifest.json first and its signature second, so verify reads and checks both before
    unpacking any other member."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with open(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2, default=str).encode()
            head = {"manifest.json": data}
            if key is not None:  # signs the manifest exactly as stored
                head[SIGNATURE] = sign_manifest(key, data)
            for name, blob in head.items():
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(blob))
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    tar.add(p, arcname=str(p.relative_to(root)))
        tmp.chmod(default_file_mode())
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
