"""A baseline is only a baseline for the same model on the same data: ratios and accuracy drops
against anything else are numbers about nothing, so a mismatch stops the run unless allowed."""

from __future__ import annotations

from edgeopt.core.spec import TensorSpec
from edgeopt.errors import UsageError


def _io_differences(base: list[TensorSpec], other: list[TensorSpec], what: str) -> list[str]:
    if len(base) != len(other):
        return [f"{len(other)} {what}(s) against the baseline's {len(base)}"]
    out = []
    for b, o in zip(base, other):
        quantized_io = "scale" in b.extra or "scale" in o.extra  # int8 I/O carries real values
        fixed_differ = len(b.shape) != len(o.shape) or any(
            isinstance(x, int) and isinstance(y, int) and x != y
            for x, y in zip(b.shape[1:], o.shape[1:])
        )
        if fixed_differ or (b.dtype != o.dtype and not quantized_io):
            out.append(f"{what} {o} against the baseline's {b}")
    return out


def baseline_mismatches(entries: list, same_data_given: bool) -> dict[str, list[str]]:
    """Per candidate name, how it differs from the baseline entry (inputs, outputs, data)."""
    base = next((e for e in entries if e.role == "baseline" and e.session is not None), None)
    if base is None:
        return {}
    found: dict[str, list[str]] = {}
    for e in entries:
        if e is base or e.session is None:
            continue
        diffs = _io_differences(base.session.inputs, e.session.inputs, "input")
        diffs += _io_differences(base.session.outputs, e.session.outputs, "output")
        b_data, e_data = base.result.get("dataset"), e.result.get("dataset")
        if not same_data_given and b_data and e_data and b_data != e_data:
            diffs.append(f"evaluation data {e_data} against the baseline's {b_data}")
        if diffs:
            found[e.name] = diffs
    return found


def check_baseline(entries: list, same_data_given: bool, allow: bool, warnings: list[str]) -> dict:
    """Refuse a baseline that is another model or other data; with `allow`, record it loudly."""
    found = baseline_mismatches(entries, same_data_given)
    if not found:
        return {}
    first_name, first = next(iter(found.items()))
    if not allow:
        raise UsageError(
            f"the baseline is not comparable with {first_name}: {first[0]}",
            "compare artifacts of the same model on the same data, or pass "
            "--allow-different-baseline to accept it (every report will say so)",
        )
    for name, diffs in found.items():
        warnings.append(
            f"DIFFERENT BASELINE (--allow-different-baseline): {name}: {'; '.join(diffs)}"
        )
    return found
