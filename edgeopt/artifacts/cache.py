"""A content-addressed cache of intermediate artifacts (keyed by parent hash + step + settings).

Running the same step on the same input with the same settings and tools reuses the stored
result, so a recipe rerun with one change rebuilds only what that change touches.

What a hit may be trusted for: every entry records the sha256 of each of its files when it is
stored (`entry.json`, written last), and a hit is rehashed against that record; a mismatch is
reported and the entry rebuilt. Files are stored read-only and only ever *copied* out (a
reflink where the file system can), never hard-linked, so editing a run folder's model cannot
reach the cache. Entries are built in a temp folder in the cache and renamed into place, under
a per-key lock, so concurrent builders of one key never see or leave a half-written entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edgeopt import __version__
from edgeopt.artifacts.artifact import artifact_files
from edgeopt.artifacts.keys import cache_key
from edgeopt.core.files import replaced_atomically, sha256_file
from edgeopt.core.progress import info
from edgeopt.errors import UsageError

ENTRY_FILE = "entry.json"
ENTRY_SCHEMA = 2
_LOCKS = ".locks"  # per-key lock files; names starting with "." are never entries
_TMP, _TRASH = ".tmp-", ".trash-"
_FICLONE = 0x40049409  # Linux ioctl: share extents copy-on-write (btrfs, xfs, ...)

__all__ = ["ArtifactCache", "CacheInfo", "Corrupt", "cache_key", "copy_file", "place"]


def default_base_dir() -> Path:
    """$EDGEOPT_CACHE, else ~/.cache/edgeopt (the artifact cache is its `artifacts` folder)."""
    return Path(os.environ.get("EDGEOPT_CACHE") or Path.home() / ".cache" / "edgeopt")


def default_cache_dir() -> Path:
    return default_base_dir() / "artifacts"


@dataclass
class Corrupt:
    """An entry that failed verification, and why."""

    key: str
    path: Path
    problem: str


@dataclass
class CacheInfo:
    root: Path
    entries: int
    bytes: int
    oldest: datetime | None  # by last use
    newest: datetime | None
    leftovers: int  # temp/trash folders of interrupted builds


def _readonly(path: Path) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _rmtree(path: Path) -> None:
    """Remove a folder of read-only files (Windows refuses to unlink those until chmodded)."""

    def retry(func, p, _exc) -> None:
        with contextlib.suppress(OSError):
            os.chmod(p, stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
            func(p)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


def _files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ENTRY_FILE)


def _inside(name: str) -> bool:
    p = Path(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class ArtifactCache:
    """Entries are folders named by key holding the step's files and `entry.json` (the record:
    main file, sha256 and size of every file), which is what makes a folder an entry."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self.hits = 0
        self.misses = 0
        self.rebuilt: list[Corrupt] = []

    @classmethod
    def at(cls, base: Path | None = None) -> ArtifactCache:
        """The cache of a base folder (`--cache DIR`), default $EDGEOPT_CACHE or ~/.cache/edgeopt."""
        if base is not None and Path(base).exists() and not Path(base).is_dir():
            raise UsageError(f"cache location {base} is a file", "give a folder with --cache")
        return cls(Path(base) / "artifacts" if base is not None else None)

    # -- reading -----------------------------------------------------------------------------

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name[0] != ".")

    def record(self, key: str) -> tuple[dict | None, str | None]:
        """(record, None) for a readable record, else (None, why not)."""
        marker = self.root / key / ENTRY_FILE
        if not marker.exists():
            return None, f"incomplete: no {ENTRY_FILE}"
        try:
            rec = json.loads(marker.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            return None, f"unreadable {ENTRY_FILE}: {e}"
        if not isinstance(rec, dict) or not isinstance(rec.get("files"), dict):
            return None, "no checksums recorded (made by an older edgeopt)"
        if rec.get("key") != key:
            return None, f"{ENTRY_FILE} belongs to entry {rec.get('key')!r}, not this one"
        names = [rec.get("file"), *rec["files"]]
        if not all(isinstance(n, str) and _inside(n) for n in names):
            return None, f"{ENTRY_FILE} names a file outside its entry"
        if rec["file"] not in rec["files"]:
            return None, f"{ENTRY_FILE} does not list its main file"
        return rec, None

    def problem(self, key: str) -> str | None:
        """Why the entry cannot be trusted (None: every recorded file is there, unchanged)."""
        rec, why = self.record(key)
        if rec is None:
            return why
        entry = self.root / key
        for name, want in sorted(rec["files"].items()):
            f = entry / name
            if not isinstance(want, dict):
                return f"{ENTRY_FILE} has no checksum for {name}"
            if not f.is_file():
                return f"{name} is missing"
            if f.stat().st_size != want.get("size"):
                return f"{name} is {f.stat().st_size} bytes, {want.get('size')} when stored"
            if sha256_file(f) != want.get("sha256"):
                return f"{name} does not match the sha256 recorded when it was stored"
        return None

    def lookup(self, key: str) -> Path | None:
        """The verified main file of `key`, or None (absent or failing verification)."""
        if self.problem(key) is not None:
            return None
        rec, _ = self.record(key)
        return self.root / key / rec["file"] if rec else None

    # -- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, key: str, wait: bool = True) -> Iterator[bool]:
        """An exclusive lock on one key across processes (yields False when wait=False and it is
        held), so one builds and the others then hit. Without it (no fcntl, a read-only cache)
        the rename in get_or_build still keeps every entry whole."""
        try:
            import fcntl
        except ImportError:
            yield True
            return
        try:
            (self.root / _LOCKS).mkdir(parents=True, exist_ok=True)
            f = open(self.root / _LOCKS / f"{key}.lock", "a+b")
        except OSError:  # a read-only cache: hits need no lock, a build fails on its own
            yield True
            return
        with f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _discard(self, path: Path) -> None:
        """Take a folder out of the key space at once (rename), then delete it."""
        if not path.exists():
            return
        trash = Path(tempfile.mkdtemp(prefix=f"{_TRASH}{path.name}-", dir=self.root))
        os.replace(path, trash / path.name)
        _rmtree(trash)

    def _seal(self, folder: Path, key: str, main: Path) -> None:
        """Make every file read-only, hash it, and write the record last."""
        files = {}
        for f in _files_of(folder):
            _readonly(f)
            rel = f.relative_to(folder).as_posix()
            files[rel] = {"sha256": sha256_file(f), "size": f.stat().st_size}
        rec = {
            "schema": ENTRY_SCHEMA,
            "key": key,
            "file": main.relative_to(folder).as_posix(),
            "files": files,
            "created": datetime.now(UTC).isoformat(),
            "edgeopt": __version__,
        }
        marker = folder / ENTRY_FILE
        marker.write_text(json.dumps(rec, indent=2) + "\n")
        _readonly(marker)

    def get_or_build(self, key: str, build: Callable[[Path], Path]) -> tuple[Path, bool]:
        """(path, hit): the verified cached artifact for `key`, or build(folder) -> path on a
        miss. A corrupt entry is reported, removed and rebuilt."""
        self.root.mkdir(parents=True, exist_ok=True)
        entry = self.root / key
        with self._lock(key):
            if entry.exists():
                problem = self.problem(key)
                if problem is None:
                    self.hits += 1
                    with contextlib.suppress(OSError):  # last use, for `cache clean --older-than`
                        os.utime(entry / ENTRY_FILE)
                    return entry / self.record(key)[0]["file"], True
                info(
                    f"[edgeopt] warning: cache entry {entry} is corrupt ({problem}); rebuilding it"
                )
                self.rebuilt.append(Corrupt(key, entry, problem))
                self._discard(entry)
            self.misses += 1
            tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP}{key}-", dir=self.root))
            try:
                rel = Path(build(tmp)).relative_to(tmp)
                self._seal(tmp, key, tmp / rel)
                try:
                    os.rename(tmp, entry)
                except OSError:  # another builder (no lock on this system) got there first
                    if self.problem(key) is not None:
                        self._discard(entry)
                        os.rename(tmp, entry)
            finally:
                if tmp.exists():
                    _rmtree(tmp)
            rec, _ = self.record(key)
        return entry / (rec["file"] if rec else rel), False

    # -- maintenance (`optimize cache`) ------------------------------------------------------

    def verify(self, repair: bool = False) -> tuple[int, list[Corrupt]]:
        """(entries checked, the corrupt ones): every file rehashed; repair removes those."""
        bad = []
        keys = self.keys()
        for key in keys:
            with self._lock(key, wait=False) as free:
                if not free:
                    continue  # being built right now: not yet an entry
                problem = self.problem(key)
                if problem is not None:
                    bad.append(Corrupt(key, self.root / key, problem))
                    if repair:
                        self._discard(self.root / key)
        return len(keys), bad

    def info(self) -> CacheInfo:
        used = []
        for key in self.keys():
            marker = self.root / key / ENTRY_FILE
            t = (marker if marker.exists() else self.root / key).stat().st_mtime
            used.append(datetime.fromtimestamp(t, UTC))
        leftovers = [p for p in self.root.glob(".*") if p.name.startswith((_TMP, _TRASH))]
        return CacheInfo(
            self.root,
            len(used),
            _size(self.root) if self.root.is_dir() else 0,
            min(used, default=None),
            max(used, default=None),
            len(leftovers),
        )

    def clean(self, older_than_days: float | None = None) -> list[tuple[str, int]]:
        """Remove entries (all, or those unused for more than `older_than_days`) and the
        leftovers of interrupted builds; (name, bytes) of each thing removed."""
        if not self.root.is_dir():
            return []
        cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
        removed = []
        for p in sorted(self.root.iterdir()):
            if not p.is_dir() or p.name == _LOCKS:
                continue
            leftover = p.name.startswith((_TMP, _TRASH))
            if p.name.startswith(".") and not leftover:
                continue
            marker = p / ENTRY_FILE
            last = (marker if marker.exists() else p).stat().st_mtime
            if cutoff is not None and last >= cutoff:
                continue
            size = _size(p)
            if p.name.startswith(_TRASH):
                _rmtree(p)
            else:
                key = p.name[len(_TMP) :].rpartition("-")[0] if leftover else p.name
                with self._lock(key, wait=False) as free:
                    if not free:
                        continue  # a build of this key is under way
                    if leftover:
                        _rmtree(p)
                    else:
                        self._discard(p)
            removed.append((p.name, size))
        if older_than_days is None:  # everything: the lock files of idle keys too
            for lock in sorted((self.root / _LOCKS).glob("*.lock")):
                with self._lock(lock.stem, wait=False) as free:
                    if free:
                        lock.unlink(missing_ok=True)
        return removed


def _reflink(src_fd: int, dst_fd: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import fcntl

        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        return True
    except OSError:
        return False


def copy_file(src: Path, dst: Path) -> None:
    """A private, writable copy of src at dst (a reflink where the file system can, else the
    bytes), renamed into place: never a hard link, and an existing dst (even a hard link to
    something else) is replaced, not written through."""
    with replaced_atomically(dst) as (fd, tmp):
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            cloned = _reflink(inp.fileno(), out.fileno())
        if not cloned:
            shutil.copyfile(src, tmp)


def place(path: Path, dest_dir: Path) -> Path:
    """Copy an artifact with its companions and sidecar (last) out of the cache into dest_dir."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for f in artifact_files(path):
        if f.exists():
            copy_file(f, dest_dir / f.name)
    return dest_dir / Path(path).name
