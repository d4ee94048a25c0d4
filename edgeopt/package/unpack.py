"""Unpacking a bundle that may be hostile: one streaming pass, every member judged by its
header before a byte of it is written.

manifest.json must be the first member; it is read into memory and checked (package.manifest)
before anything else. Then each member must be a regular file the manifest lists, with exactly
the size the manifest records; links, devices, sparse files, duplicates and paths that are
absolute or climb out are refused. Data is copied in chunks, hashed on the way and cut off as
soon as more bytes arrive than declared; the total is capped (EDGEOPT_BUNDLE_MAX_BYTES, default
4 GiB) and the decompressed stream itself is counted, so a gzip bomb stops at the cap. The
caller unpacks into a temp folder it removes, so a failure leaves nothing half-extracted.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from edgeopt.core.files import human_bytes
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.package.manifest import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    MAX_SIGNATURE_BYTES,
    SIGNATURE,
    BundleError,
    parse_manifest,
    path_problem,
    show,
)

DEFAULT_MAX_BYTES = 4 << 30
MAX_BYTES_ENV = "EDGEOPT_BUNDLE_MAX_BYTES"
CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 20  # a PAX or GNU long-name header: tarfile reads it whole into memory
_META = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
REBUILD = "do not use this bundle; rebuild it with optimize package"


@dataclass
class Unpacked:
    manifest: dict
    manifest_bytes: bytes  # as stored: what a signature covers
    signature: bytes | None
    signer: str | None = None  # fingerprint of the key checked, when one was given
    files: int = 0
    total_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def max_bytes() -> int:
    """The cap on a bundle's unpacked size: EDGEOPT_BUNDLE_MAX_BYTES, or 4 GiB."""
    raw = os.environ.get(MAX_BYTES_ENV)
    if raw is None or raw == "":
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise UsageError(
            f"{MAX_BYTES_ENV}={raw!r} is not a positive number of bytes",
            f"e.g. {MAX_BYTES_ENV}={8 << 30} for 8 GiB, or unset it for 4 GiB",
        )
    return value


def _cap_error(bundle: Path, limit: int) -> BundleError:
    return BundleError(
        f"bundle {bundle} unpacks to more than {human_bytes(limit)}; stopped before writing more",
        f"raise the cap with {MAX_BYTES_ENV}=BYTES if the bundle is trusted and this large",
    )


class _Counted:
    """The decompressed stream, cut off once it yields more than `limit` bytes (+ tar framing)."""

    def __init__(self, raw, limit: int, bundle: Path):
        self.raw, self.limit, self.bundle, self.count = raw, limit + (1 << 20), bundle, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(CHUNK if n is None or n < 0 else min(n, CHUNK))
        self.count += len(data)
        if self.count > self.limit:
            raise _cap_error(self.bundle, self.limit - (1 << 20))
        return data


class _HeaderTooBig(Exception):
    pass


class _TarInfo(tarfile.TarInfo):
    """Refuses oversized PAX and GNU long-name headers, which tarfile would read into memory."""

    def _proc_member(self, tar):  # tarfile's hook for every header it parses
        if self.type in _META and self.size > MAX_HEADER_BYTES:
            raise _HeaderTooBig(self.size)
        return super()._proc_member(tar)


def _kind(m: tarfile.TarInfo) -> str:
    if m.issym():
        return "a symbolic link"
    if m.islnk():
        return "a hard link"
    if m.ischr() or m.isblk():
        return "a device"
    if m.isfifo():
        return "a FIFO"
    if m.issparse():
        return "a sparse file"
    return f"of tar type {m.type!r}"


def unpack(
    bundle: Path,
    dest: Path,
    limit: int | None = None,
    on_signature=None,
) -> Unpacked:
    """Unpack `bundle` into the empty folder `dest` (see the module docstring).

    `on_signature(manifest_bytes, signature_or_None)` is called once the signature member has
    been read (it must come right after the manifest), or before the first file otherwise; it
    raises to refuse the bundle before any file is written. Hash mismatches, missing and
    unlisted files are collected and returned in `problems` (their data is never written)."""
    limit = limit or max_bytes()
    try:
        with gzip.open(bundle, "rb") as gz:
            counted = _Counted(gz, limit, bundle)
            with tarfile.open(fileobj=counted, mode="r|", tarinfo=_TarInfo) as tar:
                return _Extraction(tar, bundle, dest, limit, on_signature).run()
    except _HeaderTooBig as e:
        size = human_bytes(e.args[0])
        raise BundleError(f"bundle {bundle} has a {size} tar extension header", REBUILD) from e
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise _damaged(bundle, e) from e
    except OSError as e:
        if e.filename is None:  # reading the bundle (writes are reported by _write)
            raise _damaged(bundle, e) from e
        raise


def _damaged(bundle: Path, e: BaseException) -> BundleError:
    return BundleError(
        f"{bundle} is truncated or not a .tar.gz bundle ({type(e).__name__}: {e})",
        "copy the bundle again, or rebuild it with optimize package",
    )


class _Extraction:
    def __init__(self, tar: tarfile.TarFile, bundle: Path, dest: Path, limit: int, on_signature):
        self.tar, self.bundle, self.dest, self.limit = tar, bundle, dest, limit
        self.on_signature = on_signature
        self.signature_checked = on_signature is None

    def run(self) -> Unpacked:
        members = iter(self.tar)
        first = next(members, None)
        if first is None or first.name != MANIFEST or not first.isfile() or first.issparse():
            raise BundleError(
                f"{self.bundle}: {MANIFEST} is not the bundle's first member",
                "bundles from optimize package start with it; rebuild this one",
            )
        data = self._read(first, MAX_MANIFEST_BYTES)
        got = Unpacked(parse_manifest(data, str(self.bundle)), data, None)
        files: dict = got.manifest["files"]
        folders = {n.rsplit("/", i)[0] for n in files for i in range(1, n.count("/") + 1)}
        seen: set[str] = {MANIFEST}
        hashes: dict[str, str] = {}
        unlisted: list[str] = []
        for m in members:
            why = path_problem(m.name)
            if why:
                raise BundleError(f"{self.bundle.name}: member {show(m.name)} {why}", REBUILD)
            if m.name in seen:
                raise BundleError(
                    f"{self.bundle.name}: member {show(m.name)} appears twice", REBUILD
                )
            seen.add(m.name)
            if m.isdir() and m.name in folders:
                continue  # a folder of listed files: created as their parent, never on its own
            if not m.isfile() or m.issparse():
                if m.isdir():
                    unlisted.append(f"{m.name}/: not listed in the manifest")
                    continue
                raise BundleError(
                    f"{self.bundle.name}: member {show(m.name)} is {_kind(m)}: bundles hold regular files only",
                    REBUILD,
                )
            if m.name == SIGNATURE:
                got.signature = self._read(m, MAX_SIGNATURE_BYTES)
                self._check_signature(got)
                continue
            self._check_signature(got)  # before the first file: the signature comes second
            if m.name not in files:
                self._count(got, m.size)  # skipped, never written, but still read: capped
                unlisted.append(f"{m.name}: not listed in the manifest")
                continue
            declared = files[m.name]["bytes"]
            if m.size != declared:
                raise BundleError(
                    f"{self.bundle.name}: member {m.name} is {m.size} bytes but the manifest says "
                    f"{declared}; refused before unpacking it",
                    REBUILD,
                )
            self._count(got, m.size)
            hashes[m.name] = self._write(m, declared)
            got.files += 1
        self._check_signature(got)
        for name, meta in files.items():
            if name not in hashes:
                got.problems.append(f"{name}: missing")
            elif hashes[name] != meta["sha256"]:
                got.problems.append(f"{name}: sha256 differs from the manifest (file was modified)")
        got.problems += unlisted
        return got

    def _check_signature(self, got: Unpacked) -> None:
        if not self.signature_checked:
            self.signature_checked = True
            got.signer = self.on_signature(got.manifest_bytes, got.signature)

    def _count(self, got: Unpacked, size: int) -> None:
        if got.total_bytes + size > self.limit:
            raise _cap_error(self.bundle, self.limit)
        got.total_bytes += size

    def _read(self, m: tarfile.TarInfo, most: int) -> bytes:
        if m.size > most:
            raise BundleError(
                f"{self.bundle.name}: member {m.name} is {human_bytes(m.size)}, more than {human_bytes(most)}",
                REBUILD,
            )
        src = self.tar.extractfile(m)
        assert src is not None
        return src.read()

    def _write(self, m: tarfile.TarInfo, declared: int) -> str:
        """Copy one member in chunks, hashing it; stops at the first byte past `declared`."""
        src = self.tar.extractfile(m)
        assert src is not None
        path = self.dest / m.name
        h, n = hashlib.sha256(), 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            raise self._disk(m, e) from e
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):  # read errors: damage, reported by unpack
                n += len(chunk)
                if n > declared:
                    raise BundleError(
                        f"{self.bundle.name}: member {m.name} holds more than the {declared} bytes the "
                        "manifest declares; stopped",
                        REBUILD,
                    )
                h.update(chunk)
                try:
                    out.write(chunk)
                except OSError as e:
                    raise self._disk(m, e) from e
        return h.hexdigest()

    def _disk(self, m: tarfile.TarInfo, e: OSError) -> EdgeoptError:
        return EdgeoptError(
            f"cannot unpack {m.name} into {self.dest}: {e.strerror or e}",
            "free space in the temp folder, or point TMPDIR elsewhere",
        )
