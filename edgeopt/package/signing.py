"""Ed25519 signatures over a bundle's manifest.

The manifest holds every file's sha256, so one signature over the manifest's stored bytes plus
the hash check covers the whole bundle. Anyone can re-hash a manifest; only the holder of the
private key can sign it, so a verifier that pins the public key learns who made the bundle.
The checking half is shared with the bundle runner (runner_template.py).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

from edgeopt.core.files import check_writable, default_file_mode
from edgeopt.errors import UsageError
from edgeopt.package.manifest import SIGNATURE, BundleError
from edgeopt.package.runner_template import key_fingerprint, load_public_key, signature_problem


def public_key_path(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


def generate_keypair(private: Path, force: bool = False) -> tuple[Path, str]:
    """Write a new private key (PEM PKCS8, mode 0600) and KEY.pub; returns (KEY.pub, fingerprint).

    Both are written to temp files beside their names and renamed in, the private key's never
    readable by others at any moment, and existing keys are kept unless `force`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Path(private)
    public = public_key_path(private)
    check_writable([private, public], force)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _atomic_write(public, pub, default_file_mode())
    _atomic_write(private, pem, 0o600)
    return public, key_fingerprint(key.public_key())


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_private_key(path: Path):
    """The Ed25519 private key at `path`, or UsageError (before any packaging work)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as e:
        raise UsageError(f"cannot read the signing key {path}: {e.strerror}", "check --sign") from e
    except (ValueError, TypeError) as e:
        raise UsageError(
            f"{path} is not an unencrypted PEM private key ({e})",
            "make one with: optimize keygen -o release.key",
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key", "make one with: optimize keygen")
    return key


def sign_manifest(key, manifest_bytes: bytes) -> bytes:
    """The contents of manifest.json.sig for these exact manifest bytes."""
    doc = {
        "algorithm": "ed25519",
        "key_fingerprint": key_fingerprint(key.public_key()),
        "signed_file": "manifest.json",
        "signature": base64.b64encode(key.sign(manifest_bytes)).decode(),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def load_verify_key(path: Path):
    """The pinned public key given to verify --key, or UsageError."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read the key {path}: {e.strerror}", "check --key") from e
    if b"PRIVATE KEY" in data:
        raise UsageError(
            f"{path} is a private key", f"pass the public key instead ({Path(path).name}.pub)"
        )
    try:
        return load_public_key(data)
    except (ValueError, TypeError) as e:
        raise UsageError(
            f"{path} is not an Ed25519 public key in PEM ({e})", "pass the KEY.pub of keygen"
        ) from e


def check_signature(
    manifest_bytes: bytes, signature: bytes | None, key, key_path: Path, bundle: Path
) -> str:
    """BundleError unless `key` signed these manifest bytes; returns the key's fingerprint."""
    problem = signature_problem(manifest_bytes, signature, key)
    if problem:
        raise BundleError(
            f"bundle {bundle} fails its signature check against {key_path}: {problem}",
            "do not deploy it: rebuild and sign it again (optimize package --sign KEY)"
            if signature is not None
            else f"sign it: optimize package ... --sign KEY (the {SIGNATURE} goes into the bundle)",
        )
    return key_fingerprint(key)


def signer_of(signature: bytes | None) -> str | None:
    """The fingerprint a signature claims (unchecked), for the 'authenticity not checked' note."""
    if signature is None:
        return None
    try:
        return str(json.loads(signature)["key_fingerprint"])[:80]
    except (ValueError, KeyError, TypeError):
        return "unreadable"
