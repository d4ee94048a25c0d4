"""Text helpers for messages: the first line of an exception, natural sort keys."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def first_line(exc: BaseException | str, limit: int = 300, with_type: bool = True) -> str:
    """`Type: first non-empty line` of an exception (never fails on an empty message)."""
    lines = strip_ansi(str(exc)).strip().splitlines()
    msg = next((ln.strip() for ln in lines if ln.strip()), "")[:limit]
    if isinstance(exc, str) or not with_type:
        return msg or (exc if isinstance(exc, str) else type(exc).__name__)
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def natural_key(text: str) -> list:
    """Sort key that orders "args_2" before "args_10" (numbers compared as numbers)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]
