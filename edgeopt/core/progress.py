"""Progress lines on stderr, and silencing the chatter of converters (C++ logs included)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator

_verbose = False


def set_verbose(flag: bool) -> None:
    global _verbose
    _verbose = flag


def info(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Print `label ...` then `done (1.2s)` or `failed`, so long steps show they are alive."""
    info(f"[edgeopt] {label} ...")
    t0 = time.perf_counter()
    try:
        yield
    except BaseException:
        info(f"[edgeopt] {label}: failed after {time.perf_counter() - t0:.1f}s")
        raise
    info(f"[edgeopt] {label}: done ({time.perf_counter() - t0:.1f}s)")


class CapturedOutput:
    text: str = ""

    def tail(self, n: int = 15) -> str:
        return "\n".join(self.text.strip().splitlines()[-n:])


@contextlib.contextmanager
def quiet() -> Iterator[CapturedOutput]:
    """Send stdout/stderr (Python and C level) to a temp file unless --verbose.

    Exporters print hundreds of lines; users need them only when something fails,
    so the captured text is kept for error messages.
    """
    cap = CapturedOutput()
    if _verbose:
        yield cap
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            with contextlib.redirect_stdout(sys.stdout), contextlib.redirect_stderr(sys.stderr):
                yield cap
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            cap.text = tmp.read().decode("utf-8", "replace")
