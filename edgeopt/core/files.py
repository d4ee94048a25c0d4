"""Writing outputs safely: temp names renamed once complete, never overwriting without --force."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgeopt.errors import UsageError


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_writable(paths: list[Path], force: bool) -> None:
    """Refuse to overwrite existing outputs unless the user asked for it."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise UsageError(
            f"output already exists: {', '.join(existing)}",
            "choose another --output, or pass --force to overwrite it",
        )


@contextlib.contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """A temp folder beside `final`, removed afterwards whatever happens.

    Files are built and verified here, then `publish` renames them into place, so an
    interrupted or failed step leaves nothing at the output path.
    """
    created = not final.parent.exists()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(final.parent.iterdir()):  # a failed step leaves no empty folder
            final.parent.rmdir()


@contextlib.contextmanager
def discard_on_failure(folder: Path, owned: bool | None = None) -> Iterator[Path]:
    """A result folder that is removed whole when its work fails or is interrupted, so nothing
    that looks like a result (a run folder without run.json, an empty compile folder) is left.
    `owned`: the folder is this work's own (default: it did not exist before)."""
    owned = not folder.exists() if owned is None else owned
    try:
        yield folder
    except BaseException:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def publish(pairs: list[tuple[Path, Path]]) -> None:
    """Rename staged files to their final names; the last pair should be the sidecar/manifest."""
    for src, dst in pairs:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_dir() and not src.is_dir():
            raise UsageError(f"output path {dst} is a folder", "give a file name with --output")
        if dst.is_dir():
            shutil.rmtree(dst)
        os.replace(src, dst)


def default_file_mode() -> int:
    """0o666 less the umask: what open() would give (mkstemp's files are 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def replaced_atomically(path: Path) -> Iterator[tuple[int, str]]:
    """(fd, temp name) beside `path`: write it, and on success it is renamed over `path` with
    normal file modes; on any failure the temp file is removed and `path` is untouched."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        yield fd, tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as (fd, _), os.fdopen(fd, "w") as f:
        f.write(text)


def human_bytes(n: float) -> str:
    from edgeopt.core.fmt import size  # one way to print a size, everywhere

    return size(n)
