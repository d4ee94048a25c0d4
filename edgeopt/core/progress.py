"""Progress on stderr, and silencing the chatter of converters (C++ logs included).

Three modes, chosen once per process: a live `rich` line per long step with elapsed and
remaining time when stderr is a terminal; plain lines (a few per step) when it is not or under
CI (`CI=true`), so logs stay readable; nothing at all with `--quiet`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator

from edgeopt.core import fmt

_verbose = False
_quiet = False
_live = None  # the active rich Progress, if any: info() prints above its line
PLAIN_EVERY_S = 5.0  # plain mode: at most one progress line per this many seconds


def set_verbose(flag: bool) -> None:
    global _verbose
    _verbose = flag


def set_quiet(flag: bool) -> None:
    """--quiet: no progress and no step lines (results and errors are printed elsewhere)."""
    global _quiet
    _quiet = flag


def live_allowed() -> bool:
    """A live line only on a terminal, and never under CI (CI logs keep every redraw)."""
    if _quiet or os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def info(msg: str) -> None:
    if _quiet:
        return
    if _live is not None:
        _live.console.print(msg, markup=False, highlight=False, soft_wrap=True)
        return
    print(msg, file=sys.stderr, flush=True)


class Task:
    """One long step's progress: `advance()` by items, or `update(done)` for a time window."""

    def __init__(self, label: str, total: float | None, unit: str) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done = 0.0
        self.t0 = time.perf_counter()
        self._last_line = self.t0
        self._bar = None
        self._id = None

    def advance(self, n: float = 1.0) -> None:
        self.update(self.done + n)

    def update(self, done: float) -> None:
        self.done = done
        if self._bar is not None:
            self._bar.update(
                self._id, completed=min(done, self.total or done), done_text=self.amount()
            )
        elif not _quiet:
            now = time.perf_counter()
            small = self.total is not None and self.total <= 20 and self.unit != "s"
            if small or now - self._last_line >= PLAIN_EVERY_S:
                self._last_line = now
                info(f"[edgeopt] {self.label}: {self.status(now)}")

    def amount(self) -> str:
        """`3/8 built` or, for a time window, `2.2 s of 4 s`."""
        if not self.total:
            return ""
        if self.unit == "s":
            return f"{fmt.seconds(min(self.done, self.total))} of {fmt.seconds(self.total)}"
        return f"{fmt.count(self.done)}/{fmt.count(self.total)} {self.unit}".strip()

    def status(self, now: float | None = None) -> str:
        """`3/8 epochs, 12.0 s elapsed, about 20.0 s left` (plain lines and the final line)."""
        elapsed = (now or time.perf_counter()) - self.t0
        parts = [self.amount()] if self.total else []
        parts.append(f"{fmt.seconds(elapsed)} elapsed")
        if self.total and 0 < self.done < self.total:
            # a time window has its own clock; items extrapolate from the pace so far
            left = (
                self.total - self.done
                if self.unit == "s"
                else elapsed * (self.total - self.done) / self.done
            )
            parts.append(f"about {fmt.seconds(left)} left")
        return ", ".join(parts)


def _rich_progress():
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # a duplicate of the terminal's descriptor: the line stays visible while quiet() sends
    # fd 2 to a temp file around a converter
    stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    console = Console(file=stream, stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("[edgeopt] {task.description}"),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[done_text]}"),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        redirect_stdout=False,
        redirect_stderr=False,
        transient=True,
    )


@contextlib.contextmanager
def task(label: str, total: float | None = None, unit: str = "") -> Iterator[Task]:
    """Progress of one long step (recovery epochs, calibration samples, candidates built, the
    timing window in seconds): a live line on a terminal, a few plain lines otherwise."""
    global _live
    t = Task(label, total, unit)
    owner = False
    if live_allowed():
        if _live is None:
            _live = _rich_progress()
            _live.start()
            owner = True
        t._bar = _live
        t._id = _live.add_task(label, total=total, done_text=t.amount())
    info(f"[edgeopt] {label} ...")
    try:
        yield t
    except BaseException:
        info(f"[edgeopt] {label}: failed after {fmt.seconds(time.perf_counter() - t.t0)}")
        raise
    finally:
        if t._bar is not None:
            t._bar.remove_task(t._id)
        if owner:
            _live.stop()
            _live.console.file.close()
            _live = None
    info(f"[edgeopt] {label}: done ({t.status()})")


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Print `label ...` then `done (1.2s)` or `failed`, so long steps show they are alive."""
    info(f"[edgeopt] {label} ...")
    t0 = time.perf_counter()
    try:
        yield
    except BaseException:
        info(f"[edgeopt] {label}: failed after {fmt.seconds(time.perf_counter() - t0)}")
        raise
    info(f"[edgeopt] {label}: done ({fmt.seconds(time.perf_counter() - t0)})")


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
