"""Numbers as people read them: every terminal line, Markdown table, HTML page and JUnit message
formats its figures here, so a latency reads the same everywhere (JSON keeps full precision).

Rules: at most 4 significant digits anywhere a person reads a float; latencies with 3
significant digits and a unit (us, ms, s); ratios as `0.50x [0.47, 0.52]`; accuracy in percent,
accuracy drops in points (`0.44 pts`), as the budget's unit says; sizes in KB/MB (1024-based).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DASH = "-"
KB = 1024.0
MB = 1024.0 * 1024.0


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def sig(v, digits: int = 3) -> str:
    """`v` rounded to `digits` significant digits, in plain notation for everyday magnitudes
    (1e-4 .. 1e6) and scientific outside them; integers keep their digits up to 4."""
    if _missing(v):
        return DASH
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    v = float(v)
    if v == 0:
        return "0"
    digits = max(1, min(digits, 4))
    mag = math.floor(math.log10(abs(v)))
    if mag < -4 or mag >= 6:
        return f"{v:.{digits}g}"  # scientific, trailing zeros dropped: 1e-05, 2.5e+07
    decimals = digits - 1 - mag
    rounded = round(v, decimals)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) > mag:  # 9.996 -> 10.0
        decimals -= 1
        rounded = round(v, decimals)
    if decimals <= 0:
        return f"{rounded:,.0f}" if abs(rounded) >= 10000 else f"{rounded:.0f}"
    return f"{rounded:.{decimals}f}".rstrip("0").rstrip(".")  # like %g: 0.0100 -> 0.01


def number(v, digits: int = 4) -> str:
    """Any figure without a known unit: ints as they are, floats to at most 4 significant digits."""
    if isinstance(v, bool) or _missing(v):
        return DASH if _missing(v) else str(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    return sig(v, digits)


def count(n) -> str:
    """Counts (samples, candidates): thousands separated."""
    return DASH if _missing(n) else f"{int(n):,}"


def latency_ms(ms, digits: int = 3) -> str:
    """A latency given in ms, with the unit that keeps it readable: `62.6 us`, `1.35 ms`, `2.1 s`."""
    if _missing(ms):
        return DASH
    if isinstance(ms, float) and math.isinf(ms):
        return "inf"
    a = abs(ms)
    if 0 < a < 1.0:
        return f"{sig(ms * 1000.0, digits)} us"
    if a >= 1000.0:
        return f"{sig(ms / 1000.0, digits)} s"
    return f"{sig(ms, digits)} ms"


def interval(ci: Sequence | None, fmt=sig) -> str:
    """`[lo, hi]` with the same formatter as the value; `-` when there is no interval."""
    if not ci or len(ci) != 2 or _missing(ci[0]) or _missing(ci[1]):
        return DASH
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def latency_ci(ms, ci: Sequence | None = None) -> str:
    """`62.6 us [60.2, 65.5]`: the interval in the value's unit."""
    if _missing(ms):
        return DASH
    text = latency_ms(ms)
    if not ci or _missing(ci[0]) or _missing(ci[1]):
        return text
    unit = text.split()[-1]
    scale = {"us": 1000.0, "ms": 1.0, "s": 0.001}.get(unit, 1.0)
    return f"{text} [{sig(ci[0] * scale)}, {sig(ci[1] * scale)}]"


def _ratio_num(v) -> str:
    if _missing(v):
        return DASH
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.2f}" if abs(v) < 10 else sig(v, 3)


def ratio(v, ci: Sequence | None = None) -> str:
    """`0.50x [0.47, 0.52]` (the interval only when given)."""
    if _missing(v):
        return DASH
    text = f"{_ratio_num(v)}x"
    if ci and len(ci) == 2 and not _missing(ci[0]) and not _missing(ci[1]):
        text += f" [{_ratio_num(ci[0])}, {_ratio_num(ci[1])}]"
    return text


def percent(fraction, digits: int = 3) -> str:
    """A fraction (0..1) as a percentage: 0.99111 -> `99.1%`."""
    if _missing(fraction):
        return DASH
    return f"{sig(fraction * 100.0, digits)}%"


def points(v, signed: bool = False, digits: int = 3) -> str:
    """Percentage points: `0.444 pts` (`+0.444 pts` with signed=True)."""
    if _missing(v):
        return DASH
    text = sig(v, digits)
    if signed and v > 0:
        text = "+" + text
    return f"{text} pts"


def size(nbytes, digits: int = 3) -> str:
    """Bytes as `243 KB` or `1.2 MB` (1024-based, as the size budgets are)."""
    if _missing(nbytes):
        return DASH
    n = float(nbytes)
    if abs(n) < KB:
        return f"{n:.0f} B"
    if abs(n) < MB:
        return f"{sig(n / KB, digits)} KB"
    if abs(n) < MB * KB:
        return f"{sig(n / MB, digits)} MB"
    return f"{sig(n / (MB * KB), digits)} GB"


def megabytes(mb, digits: int = 3) -> str:
    """A figure already in MB (peak memory, size budgets)."""
    return DASH if _missing(mb) else size(mb * MB, digits)


def seconds(s) -> str:
    """Durations: `0.42 s`, `63.9 s`, `2 min 05 s`, `1 h 02 min`."""
    if _missing(s):
        return DASH
    if s < 60:
        return f"{sig(s, 3)} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def signed_percent_change(new, old) -> str:
    """Relative change `+12.3%` / `-70.1%` of new against old."""
    if _missing(new) or _missing(old) or not old:
        return DASH
    change = (new / old - 1.0) * 100.0
    text = sig(change, 3)
    return f"+{text}%" if change > 0 else f"{text}%"


def with_unit(v, unit: str) -> str:
    """A budget value in its own unit (the budget tables' `unit` field)."""
    if _missing(v):
        return DASH
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    if unit == "x":
        return ratio(v)
    if unit == "ms":
        return f"{sig(v, 3)} ms"  # the budget's own unit, so a limit reads as it was written
    if unit == "MB":
        return megabytes(v)
    if unit == "points":
        return points(v)
    if unit == "fraction":
        return sig(v, 4)
    if unit == "samples/s":
        return f"{sig(v, 3)} samples/s"
    return number(v)


def ci_with_unit(ci: Sequence | None, unit: str) -> str:
    if not ci or len(ci) != 2 or _missing(ci[0]) or _missing(ci[1]):
        return DASH
    return f"[{with_unit(ci[0], unit)}, {with_unit(ci[1], unit)}]"


def value(v) -> str:
    """Anything that may land in a person's view (parameters, metadata): floats shortened,
    lists and dicts shown as `a, b` / `k=v` rather than Python reprs."""
    if _missing(v):
        return DASH
    if isinstance(v, float):
        return number(v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={value(x)}" for k, x in v.items() if x not in (None, [], {}, ""))
    if isinstance(v, (list, tuple)):
        return ", ".join(value(x) for x in v)
    return str(v)
