"""Budgets files (TOML): what a release must meet, defaults plus per-target overrides.

```toml
latency_p90_ms = 5.0        # top-level keys apply to every candidate
latency_ratio_max = 1.05    # candidate p50 / baseline p50, measured in the same run
agreement_min = 0.99        # quality in the model's own metric (edgeopt.metrics.quality)
accuracy_drop_max_points = 1.0

[targets.arm]               # overrides for artifacts whose target is "arm"
latency_p90_ms = 20.0
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from edgeopt.errors import UsageError
from edgeopt.metrics.quality import QUALITY_KEYS, RENAMED, check_quality_value

# key -> (direction, unit, description). "max": measured must stay at or below; "min": above.
# Speed and footprint keys live here; quality keys (their units explicit) in metrics/quality.py.
MEASURE_KEYS: dict[str, tuple[str, str, str]] = {
    "latency_p50_ms": ("max", "ms", "median latency"),
    "latency_p90_ms": ("max", "ms", "90th percentile latency"),
    "latency_p99_ms": ("max", "ms", "99th percentile latency"),
    "latency_ratio_max": ("max", "x", "median latency relative to the baseline"),
    "throughput_min": ("min", "samples/s", "throughput"),
    "size_mb_max": ("max", "MB", "size on disk including sidecars"),
    "peak_memory_mb_max": ("max", "MB", "peak resident memory of load and run"),
}
BUDGET_KEYS: dict[str, tuple[str, str, str]] = {
    **MEASURE_KEYS,
    **{k: (q.direction, q.unit, q.description) for k, q in QUALITY_KEYS.items()},
}
SECTIONS = ("targets",)


@dataclass
class Budgets:
    path: str
    defaults: dict[str, float] = field(default_factory=dict)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)

    def for_target(self, target: str | None) -> dict[str, float]:
        """The budgets of one artifact: defaults overridden by its target's section."""
        out = dict(self.defaults)
        if target and target in self.targets:
            out.update(self.targets[target])
        return out

    def all_keys(self) -> set[str]:
        keys = set(self.defaults)
        for t in self.targets.values():
            keys |= set(t)
        return keys

    def to_dict(self) -> dict:
        return {"path": self.path, "defaults": self.defaults, "targets": self.targets}


def _check_values(table: dict, where: str) -> dict[str, float]:
    out = {}
    for key, value in table.items():
        if key in QUALITY_KEYS or key in RENAMED:
            out[RENAMED.get(key, key)] = check_quality_value(key, value, where)
            continue
        if key not in BUDGET_KEYS:
            raise UsageError(
                f"unknown budget key {key!r} in {where}",
                f"valid keys: {', '.join(BUDGET_KEYS)}"
                + ("; per-target budgets go in [targets.NAME]" if where == "the top level" else ""),
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise UsageError(
                f"budget {key!r} in {where} must be a number, got {type(value).__name__} {value!r}",
                f"write e.g. {key} = 1.5",
            )
        if value <= 0 or math.isinf(value):
            raise UsageError(
                f"budget {key!r} in {where} must be positive, got {value}", "use a positive number"
            )
        out[key] = float(value)
    return out


def parse_budgets(text: str, path: str = "<budgets>") -> Budgets:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(
            f"budgets file {path} is not valid TOML: {e}", "fix the TOML syntax"
        ) from e
    return budgets_from_dict(data, path)


def budgets_from_dict(data: dict, path: str = "<budgets>", allow_empty: bool = False) -> Budgets:
    """Validate a parsed budgets table (a budgets file, or a recipe's [budgets] table)."""
    b = Budgets(path)
    top = {k: v for k, v in data.items() if k not in SECTIONS}
    nested = [k for k, v in top.items() if isinstance(v, dict)]
    if nested:
        raise UsageError(
            f"unknown section [{nested[0]}] in {path}",
            f"valid sections: [targets.NAME]; valid keys: {', '.join(BUDGET_KEYS)}",
        )
    b.defaults = _check_values(top, "the top level")
    targets = data.get("targets", {})
    if not isinstance(targets, dict):
        raise UsageError(f"'targets' in {path} must be a table", "write [targets.NAME] sections")
    for name, table in targets.items():
        if not isinstance(table, dict):
            raise UsageError(
                f"'targets.{name}' in {path} must be a table",
                f"write [targets.{name}] followed by budget keys",
            )
        from edgeopt.targets.registry import TARGETS

        if name not in TARGETS:
            raise UsageError(
                f"unknown target [targets.{name}] in {path}", f"valid targets: {', '.join(TARGETS)}"
            )
        b.targets[name] = _check_values(table, f"[targets.{name}]")
    if not b.all_keys() and not allow_empty:
        raise UsageError(
            f"budgets file {path} sets no budget", f"set at least one of: {', '.join(BUDGET_KEYS)}"
        )
    return b


def load_budgets(path: str | Path) -> Budgets:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"budgets file not found: {path}", "check the path given to --budgets")
    return parse_budgets(path.read_text(), str(path))
