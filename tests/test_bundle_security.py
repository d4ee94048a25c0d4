"""Hostile bundles: every reproduction goes through the real `optimize` executable.

A bundle is untrusted input. verify must refuse paths that leave the bundle before touching the
filesystem, stop oversized members before writing them, never execute the bundle's run.py, and
with a pinned public key prove who made the bundle; nothing may be left behind or changed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from .conftest import run_cli

MODEL = "model/tiny.onnx"


def _tiny_onnx(path: Path) -> Path:
    """A two-node ONNX model (x[batch, 4] -> y[batch, 3]): the smallest artifact package takes,
    written with the onnx package so this file needs no torch export and stays fast."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [
            numpy_helper.from_array(rng.normal(size=(4, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """An unsigned and a signed bundle (the real `optimize package`), and two key pairs."""
    root = tmp_path_factory.mktemp("made")
    art = _tiny_onnx(root / "tiny.onnx")
    run_cli("keygen", "-o", root / "release.key", check=True)
    run_cli("keygen", "-o", root / "other.key", check=True)
    run_cli("package", art, "-o", root / "plain.tar.gz", check=True)
    run_cli(
        "package", art, "-o", root / "signed.tar.gz", "--sign", root / "release.key", check=True
    )
    return root


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _write(dst: Path, files: dict[str, bytes], extra: tuple[tarfile.TarInfo, ...] = ()) -> Path:
    """A tar.gz with `files` in order (manifest first, as package writes it), then `extra`."""
    with tarfile.open(dst, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return dst


def _craft(src: Path, dst: Path, edit=None, changes=None, rehash=True, extra=()) -> Path:
    """Copy `src` with `changes` (name -> bytes, None removes), the manifest re-hashed as anyone
    can do (unless rehash=False), then `edit(manifest)` applied."""
    files = _members(src)
    manifest = json.loads(files["manifest.json"])
    for name, data in (changes or {}).items():
        if data is None:
            files.pop(name, None)
            manifest["files"].pop(name, None)
            continue
        files[name] = data
        if rehash:
            manifest["files"][name] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
    if edit:
        edit(manifest)
    if edit or (changes and rehash):
        files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    return _write(dst, files, extra)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


@contextlib.contextmanager
def _max_file_size(limit: int):
    """No process started inside may write a file larger than `limit` bytes (RLIMIT_FSIZE)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _verify(bundle: Path, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    """`optimize verify` with its own TMPDIR, asserting that it leaves nothing behind there and
    changes nothing beside the bundle."""
    work = bundle.parent.parent / f"tmp-{bundle.parent.name}"
    work.mkdir(exist_ok=True)
    before = _tree(bundle.parent)
    r = run_cli("verify", bundle, *args, env={"TMPDIR": str(work), **(env or {})}, timeout=120)
    left = [p.name for p in work.iterdir() if not p.name.startswith(".")]  # runtimes' dotfiles
    assert left == [], f"verify left {left} in its temp folder"
    assert _tree(bundle.parent) == before, "verify changed files beside the bundle"
    assert "Traceback" not in r.stderr, r.stderr
    return r


def _refused(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    error = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "fix:" in r.stderr, r.stderr
    for w in words:
        assert w in error[0], (w, error[0])
    assert "verified bundle" not in r.stdout


@pytest.mark.parametrize("where", ["absolute", "climbs"])
def test_model_file_outside_the_bundle_is_refused(made, tmp_path, where):
    """Before: exit 0, 'verified', with the model loaded from outside the bundle."""
    outside = tmp_path / "outside" / "other.onnx"
    outside.parent.mkdir()
    outside.write_bytes(_members(made / "plain.tar.gz")[MODEL])
    name = str(outside) if where == "absolute" else "../../../../" + str(outside).lstrip("/")
    (tmp_path / "b").mkdir()
    bad = _craft(
        made / "plain.tar.gz",
        tmp_path / "b" / "bad.tar.gz",
        edit=lambda m: m["model"].__setitem__("file", name),
    )
    r = _verify(bad)
    _refused(r, "model.file", "is absolute" if where == "absolute" else "'..'")
    assert outside.read_bytes() == _members(made / "plain.tar.gz")[MODEL]


def test_files_entry_outside_the_bundle_is_never_looked_at(made, tmp_path):
    """Before: exit 1 with 'size 1294 bytes' of /etc/passwd in the message."""
    (tmp_path / "b").mkdir()
    for i, name in enumerate(["../../../../etc/passwd", "/etc/passwd", "model\\..\\..\\x"]):
        bad = _craft(
            made / "plain.tar.gz",
            tmp_path / "b" / f"bad{i}.tar.gz",
            edit=lambda m, n=name: m["files"].__setitem__(n, {"sha256": "0" * 64, "bytes": 1}),
        )
        t0 = time.monotonic()
        r = _verify(bad)
        # refused on the manifest's text, before any member is unpacked or any path looked at
        _refused(r, "manifest.json of", "files entry", repr(name))
        assert time.monotonic() - t0 < 30
        assert "size" not in r.stderr and f"{os.path.getsize('/etc/passwd')} bytes" not in r.stderr


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "climbs"])
def test_unsafe_members_are_refused(made, tmp_path, kind):
    (tmp_path / "b").mkdir()
    info = tarfile.TarInfo("../evil" if kind == "climbs" else "samples/x")
    if kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
        info.type, info.linkname = tarfile.LNKTYPE, "run.py"
    bad = _craft(made / "plain.tar.gz", tmp_path / "b" / "bad.tar.gz", extra=(info,))
    r = _verify(bad)
    words = {"symlink": "symbolic link", "hardlink": "hard link", "climbs": "'..'"}
    _refused(r, "bad.tar.gz: member", words[kind])
    assert not (tmp_path / "evil").exists()


def test_member_larger_than_declared_is_stopped_before_writing(made, tmp_path):
    """Before: 50 MB unpacked to disk, then 'size 52428800 bytes, manifest says 1224'."""
    (tmp_path / "b").mkdir()
    big = bytes(50 << 20)
    bad = _craft(
        made / "plain.tar.gz",
        tmp_path / "b" / "big.tar.gz",
        changes={"samples/inputs.npz": big},
        rehash=False,
    )
    assert bad.stat().st_size < 1 << 20
    with _max_file_size(4 << 20):  # any write of the 50 MB member would fail the run (EFBIG)
        r = _verify(bad)
    _refused(r, "samples/inputs.npz", f"{len(big)} bytes", "refused before unpacking")


def test_total_size_cap_stops_early(made, tmp_path):
    """A manifest honestly listing a big file, or an unlisted big member: the cap stops both."""
    (tmp_path / "b").mkdir()
    listed = _craft(
        made / "plain.tar.gz",
        tmp_path / "b" / "listed.tar.gz",
        changes={"big.bin": bytes(20 << 20)},
    )
    unlisted = _craft(
        made / "plain.tar.gz",
        tmp_path / "b" / "unlisted.tar.gz",
        changes={"big.bin": bytes(20 << 20)},
        rehash=False,
    )
    with _max_file_size(4 << 20):
        for bad in (listed, unlisted):
            r = _verify(bad, env={"EDGEOPT_BUNDLE_MAX_BYTES": str(2 << 20)})
            _refused(r, "unpacks to more than 2", "stopped")
    r = _verify(listed, env={"EDGEOPT_BUNDLE_MAX_BYTES": "lots"})
    assert r.returncode == 2 and "EDGEOPT_BUNDLE_MAX_BYTES" in r.stderr


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path):
    key = tmp_path / "keys" / "release.key"
    r = run_cli("keygen", "-o", key)
    assert r.returncode == 0, r.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in key.read_bytes()
    pub = key.with_name("release.key.pub")
    assert b"BEGIN PUBLIC KEY" in pub.read_bytes() and pub.stat().st_mode & 0o077 != 0o077
    assert sorted(p.name for p in key.parent.iterdir()) == ["release.key", "release.key.pub"]
    before = key.read_bytes()
    r = run_cli("keygen", "-o", key)
    assert r.returncode == 2 and "--force" in r.stderr and key.read_bytes() == before
    assert run_cli("keygen", "-o", key, "--force").returncode == 0
    assert key.read_bytes() != before and key.stat().st_mode & 0o777 == 0o600


def test_signed_bundle_verifies_only_with_its_key(made):
    r = _verify(made / "signed.tar.gz", "--key", made / "release.key.pub")
    assert r.returncode == 0, r.stderr
    assert "authenticity: signed by the key" in r.stdout
    r = _verify(made / "signed.tar.gz")
    assert r.returncode == 0 and "authenticity NOT checked: signed by key sha256:" in r.stdout
    r = _verify(made / "signed.tar.gz", "--key", made / "other.key.pub")
    _refused(r, "manifest.json.sig", "not with the given key", "other.key.pub")


def test_unsigned_bundle_fails_with_key(made):
    _refused(_verify(made / "plain.tar.gz", "--key", made / "release.key.pub"), "not signed")


def test_change_after_signing_fails(made, tmp_path):
    (tmp_path / "b").mkdir()
    model = bytearray(_members(made / "signed.tar.gz")[MODEL])
    model[len(model) // 2] ^= 0xFF
    key = ("--key", made / "release.key.pub")
    # the model changed, the manifest re-hashed to match: the signature no longer does
    rehashed = _craft(
        made / "signed.tar.gz", tmp_path / "b" / "rehashed.tar.gz", changes={MODEL: bytes(model)}
    )
    _refused(_verify(rehashed, *key), "manifest.json does not match its signature")
    # the signature changed
    sig = json.loads(_members(made / "signed.tar.gz")["manifest.json.sig"])
    raw = bytearray(base64.b64decode(sig["signature"]))
    raw[0] ^= 1
    sig["signature"] = base64.b64encode(bytes(raw)).decode()
    forged = _craft(
        made / "signed.tar.gz",
        tmp_path / "b" / "forged.tar.gz",
        changes={"manifest.json.sig": json.dumps(sig).encode()},
        rehash=False,
    )
    _refused(_verify(forged, *key), "manifest.json.sig", "changed after signing")
    # the signature removed
    stripped = _craft(
        made / "signed.tar.gz",
        tmp_path / "b" / "stripped.tar.gz",
        changes={"manifest.json.sig": None},
        rehash=False,
    )
    _refused(_verify(stripped, *key), "not signed")


def test_bad_keys_are_usage_errors(made, tmp_path):
    r = run_cli("verify", made / "signed.tar.gz", "--key", made / "release.key")
    assert r.returncode == 2 and "private key" in r.stderr
    r = run_cli("verify", made / "signed.tar.gz", "--key", tmp_path / "none.pub")
    assert r.returncode == 2 and "none.pub" in r.stderr
    junk = tmp_path / "junk.key"
    junk.write_text("not a key")
    out = tmp_path / "b.tar.gz"
    r = run_cli("package", made / "tiny.onnx", "-o", out, "--sign", junk)
    assert r.returncode == 2 and "junk.key" in r.stderr and not out.exists()


def test_verify_never_executes_run_py(made, tmp_path):
    """Before: a re-hashed run.py with raw samples in the manifest ran as `run.py --check-raw`."""
    (tmp_path / "b").mkdir()
    marker = tmp_path / "MARKER"
    evil = f"open({str(marker)!r}, 'w').write('executed')\n".encode()
    size = len(_members(made / "plain.tar.gz")["run.py"])
    evil += b"#" * (size - len(evil))  # the same size: caught by its sha256 alone

    def raw_samples(m: dict) -> None:  # what made the old verify run `run.py --check-raw`
        m["preprocessing"]["raw_samples"] = {
            "texts": "samples/inputs.npz",
            "reference_outputs": "samples/reference_outputs.npz",
        }

    cases = {
        "hash-mismatch": dict(changes={"run.py": evil}, rehash=False),
        "rehashed": dict(changes={"run.py": evil}),
        "rehashed-raw": dict(changes={"run.py": evil}, edit=raw_samples),
    }
    for name, how in cases.items():
        bad = _craft(made / "plain.tar.gz", tmp_path / "b" / f"{name}.tar.gz", **how)
        r = _verify(bad)
        assert not marker.exists(), f"{name}: verify executed the bundle's run.py"
        if name == "hash-mismatch":
            _refused(r, "run.py", "sha256")
        elif name == "rehashed":  # run.py is data to verify: the model still checks out
            assert r.returncode == 0, r.stderr
            assert "authenticity NOT checked: the bundle is unsigned" in r.stdout
        else:
            _refused(r, "raw-input samples")


def test_runner_checks_the_signature_on_the_device(made, tmp_path):
    dest = tmp_path / "device"
    dest.mkdir()
    with tarfile.open(made / "signed.tar.gz") as tar:
        tar.extractall(dest, filter="data")

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, cwd=dest, env=env
        )

    ok = run("-I", "run.py", "--check", "--key", str(made / "release.key.pub"))
    assert ok.returncode == 0 and "ok" in ok.stdout and "signature ok" in ok.stderr, ok.stderr
    # a trusted runner kept in the device image checks the unpacked bundle from outside it
    trusted = Path(__file__).parents[1] / "edgeopt" / "package" / "runner_template.py"
    ok = run("-I", str(trusted), "--bundle", str(dest), "--key", str(made / "release.key.pub"))
    assert ok.returncode == 0 and "signature ok" in ok.stderr, ok.stderr
    wrong = run("-I", "run.py", "--key", str(made / "other.key.pub"))
    assert wrong.returncode == 1 and "not with the given key" in wrong.stderr
    assert "shape" not in wrong.stdout  # refused before the model was loaded
    fake = tmp_path / "nocrypto" / "cryptography"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('absent')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    none = run("run.py", "--key", str(made / "release.key.pub"), env=env)
    assert none.returncode == 1 and "`cryptography` package is not installed" in none.stderr
    with open(dest / MODEL, "ab") as f:
        f.write(b"x")
    bad = run("-I", "run.py", "--key", str(made / "release.key.pub"))
    assert bad.returncode == 1 and MODEL in bad.stderr and "shape" not in bad.stdout


@pytest.mark.parametrize(
    "name",
    ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a/", "a\\b", "C:x", "a\x00b", 7, None],
)
def test_path_rules(name):
    """The one rule every manifest reader applies (verify, package, run.py)."""
    from edgeopt.package.manifest import path_problem

    assert path_problem(name)
    assert path_problem("model/digits-cnn.onnx") is None


def test_manifest_rules_name_each_bad_entry():
    from edgeopt.package.manifest import manifest_problems

    meta = {"sha256": "a" * 64, "bytes": 1}
    good = {
        "model": {"file": "model/m.onnx", "runtime": "onnxruntime"},
        "samples": {"inputs": "samples/i.npz", "reference_outputs": "samples/o.npz"},
        "files": {n: meta for n in ("model/m.onnx", "samples/i.npz", "samples/o.npz")},
    }
    assert manifest_problems(good) == []
    bad = json.loads(json.dumps(good))
    bad["model"]["file"] = "model/other.onnx"  # safe, but not hashed
    bad["files"]["manifest.json.sig"] = meta
    bad["files"]["model"] = meta  # a file that is also a folder
    bad["files"]["samples/o.npz"] = {"sha256": "x", "bytes": -1}
    bad["preprocessing"] = {"raw_samples": {"images": ["../p.png"]}}
    problems = " | ".join(manifest_problems(bad))
    for words in (
        "model.file 'model/other.onnx' is not one of the hashed files",
        "'manifest.json.sig' is reserved",
        "'model' is also a folder",
        "'samples/o.npz' lacks a sha256",
        "preprocessing.raw_samples.images[0] '../p.png'",
    ):
        assert words in problems


def test_absolute_member_is_refused_before_writing(made, tmp_path):
    from edgeopt.package.manifest import BundleError
    from edgeopt.package.unpack import unpack

    files = _members(made / "plain.tar.gz")
    bad = _write(tmp_path / "abs.tar.gz", {**files, "/tmp/edgeopt-evil": b"bad"})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(BundleError, match="is absolute"):
        unpack(bad, dest)
    assert not Path("/tmp/edgeopt-evil").exists()
