"""optimize package / verify: bundles that check themselves, and fail loudly when damaged."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile

import pytest

from edgeopt.package import PackageConfig, build_bundle, verify_bundle
from edgeopt.package.verify import BundleError

from .conftest import run_cli


@pytest.fixture(scope="module")
def bundle(exported, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "cnn.tar.gz"
    build_bundle(exported("digits-cnn", "onnx"), PackageConfig(output=out, target="cpu"))
    return out


def _members(path):
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _rewrite(src, dst, changes: dict[str, bytes | None]):
    files = _members(src)
    for name, data in changes.items():
        if data is None:
            files.pop(name)
        else:
            files[name] = data
    with tarfile.open(dst, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_manifest_contents(bundle):
    files = _members(bundle)
    m = json.loads(files["manifest.json"])
    assert m["schema_version"] == 1 and m["target"] == "cpu"
    assert m["model"]["runtime"] == "onnxruntime" and m["model"]["min_runtime_version"]
    assert m["inputs"][0]["name"] == "input" and m["inputs"][0]["shape"][1:] == [1, 8, 8]
    assert (
        m["lineage"][0]["step"] == "export" and m["lineage"][-1]["source"] == "builtin:digits-cnn"
    )
    assert "sklearn:digits" in m["samples"]["source"]
    for name in ("run.py", "samples/inputs.npz", "model/digits-cnn.onnx"):
        assert name in m["files"] and len(m["files"][name]["sha256"]) == 64


def test_verify_passes_and_runner_needs_only_the_runtime(bundle, tmp_path):
    r = verify_bundle(bundle)
    assert r["passed"] and r["files"] >= 5
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp_path, filter="data")
    # the bundled runner imports numpy and the runtime only, not edgeopt
    proc = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "run.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_tampered_model_fails_naming_the_file(bundle, tmp_path):
    files = _members(bundle)
    model = bytearray(files["model/digits-cnn.onnx"])
    model[len(model) // 2] ^= 0xFF
    bad = tmp_path / "tampered.tar.gz"
    _rewrite(bundle, bad, {"model/digits-cnn.onnx": bytes(model)})
    r = run_cli("verify", bad)
    assert r.returncode == 1 and "model/digits-cnn.onnx" in r.stderr and "sha256" in r.stderr


def test_missing_and_extra_files_are_named(bundle, tmp_path):
    bad = tmp_path / "missing.tar.gz"
    _rewrite(bundle, bad, {"samples/inputs.npz": None, "evil.sh": b"rm -rf /"})
    with pytest.raises(BundleError, match="samples/inputs.npz: missing.*evil.sh: not listed"):
        verify_bundle(bad)


def test_truncated_bundle(bundle, tmp_path):
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    r = run_cli("verify", bad)
    assert r.returncode == 1 and "truncated" in r.stderr and "Traceback" not in r.stderr


def test_never_overwrites_and_leaves_nothing_on_failure(exported, bundle, tmp_path):
    before = bundle.read_bytes()
    r = run_cli("package", exported("digits-cnn", "onnx"), "-o", bundle)
    assert r.returncode == 2 and "--force" in r.stderr and bundle.read_bytes() == before
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    out = tmp_path / "junk.tar.gz"
    r = run_cli("package", junk, "-o", out)
    assert r.returncode == 2 and list(tmp_path.iterdir()) == [junk]


@pytest.mark.parametrize("fmt", ["openvino", "tflite"])
def test_other_formats_round_trip(exported, tmp_path, fmt):
    out = tmp_path / f"b-{fmt}.tar.gz"
    r = run_cli("package", exported("digits-cnn", fmt), "-o", out)
    assert r.returncode == 0, r.stderr
    assert run_cli("verify", out).returncode == 0
