"""Recipes (TOML): model, data, candidate grid per target, budgets, output folder.

```toml
name = "digits-cnn"
[model]
source = "builtin:digits-cnn"          # any model reference `optimize export` takes
inputs = []                            # optional --input style specs
[data]                                 # default: the model's own dataset
evaluation = "sklearn:digits"          # eval split
calibration = "sklearn:digits"         # calib split (never overlaps eval)
training = "sklearn:digits"            # train split, for pruning recovery
[prune]
epochs = 8                             # recovery fine-tuning after structured pruning
[bench]
max_time = 3.0                         # seconds of timing per target (interleaved)
threads = 2
[candidates.cpu]                       # a grid: every combination is one candidate
format = ["onnx", "openvino"]
precision = ["fp32", "int8"]        # fp32, int8 (mode from content), int8-static, int8-dynamic, int8-weights, fp16
sparsity = [0.0, 0.5]
[budgets]                              # the gate's budget keys; [budgets.targets.arm] overrides
accuracy_drop_max_points = 1.0
latency_ratio_max = 1.0
```
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgeopt.core.precision import recipe_precisions
from edgeopt.errors import UsageError
from edgeopt.targets.registry import TARGETS

TOP_KEYS = {"name", "model", "data", "prune", "bench", "candidates", "budgets", "output"}
SECTION_KEYS = {
    "model": {"source", "inputs"},
    "data": {"evaluation", "calibration", "training"},
    "prune": {"epochs", "distill"},
    "bench": {"max_time", "min_samples", "threads", "rel_ci"},
    "output": {"dir"},
}
GRID_KEYS = {"format", "precision", "sparsity", "threads"}

DEMO_RECIPE = Path(__file__).with_name("demo_recipe.toml")


@dataclass(frozen=True)
class Candidate:
    target: str
    format: str
    precision: str = "fp32"
    sparsity: float = 0.0
    threads: int | None = None

    @property
    def name(self) -> str:
        parts = [self.format, self.precision]
        if self.sparsity:
            parts.append(f"pruned{int(round(self.sparsity * 100))}")
        if self.threads:
            parts.append(f"t{self.threads}")
        return "-".join(parts)

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "name": self.name,
            "format": self.format,
            "precision": self.precision,
            "sparsity": self.sparsity,
            "threads": self.threads,
        }


@dataclass
class Recipe:
    path: Path | None
    text: str
    name: str
    model: str
    inputs: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    prune: dict = field(default_factory=dict)
    bench: dict = field(default_factory=dict)
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    budgets: dict = field(default_factory=dict)
    output_dir: Path | None = None

    @property
    def targets(self) -> list[str]:
        return list(self.candidates)


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(
            f"unknown key {unknown[0]!r} in {where} of the recipe",
            f"valid keys there: {', '.join(sorted(allowed))}",
        )


def _list(value, key: str, where: str) -> list:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise UsageError(f"{where}.{key} is empty", "give at least one value")
    return items


def _check_grid(target, values: dict) -> None:
    """Every format and precision a target's grid names must be one the target can build."""
    where = f"[candidates.{target.name}]"
    for fmt in values["format"]:
        if fmt not in target.deployable():
            raise UsageError(
                f"target {target.name} cannot take {fmt} candidates ({where})",
                f"target {target.name} takes: {', '.join(target.deployable())}",
            )
    for p in values["precision"]:
        if p not in recipe_precisions():
            raise UsageError(
                f"unknown precision {p!r} in {where}", f"valid: {', '.join(recipe_precisions())}"
            )
        if target.fixed_precision and p != target.fixed_precision:
            raise UsageError(
                f"{target.name} candidates are {target.fixed_precision}, not {p}",
                f'set precision = ["{target.fixed_precision}"] in {where}',
            )


def load_recipe(path: Path | None) -> Recipe:
    """Parse and validate a recipe; None loads the built-in demo recipe."""
    path = Path(path) if path else DEMO_RECIPE
    if not path.is_file():
        raise UsageError(
            f"recipe not found: {path}", "give a recipe .toml file, or run without one for the demo"
        )
    text = path.read_text()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"recipe {path} is not valid TOML: {e}", "fix the syntax") from e
    _check_keys(doc, TOP_KEYS, "the top level")
    for section, allowed in SECTION_KEYS.items():
        if section in doc:
            if not isinstance(doc[section], dict):
                raise UsageError(f"[{section}] must be a table", f"write it as [{section}]")
            _check_keys(doc[section], allowed, f"[{section}]")
    model = doc.get("model", {}).get("source")
    if not model:
        raise UsageError(
            f"recipe {path} names no model", 'add [model] source = "builtin:digits-cnn"'
        )
    grids = doc.get("candidates")
    if not isinstance(grids, dict) or not grids:
        raise UsageError("recipe has no [candidates.TARGET] table", "add e.g. [candidates.cpu]")
    candidates: dict[str, list[Candidate]] = {}
    for target, grid in grids.items():
        if target not in TARGETS:
            raise UsageError(
                f"unknown target {target!r} in [candidates.{target}]",
                f"valid targets: {', '.join(TARGETS)}",
            )
        _check_keys(grid, GRID_KEYS, f"[candidates.{target}]")
        if "format" not in grid:
            raise UsageError(f"[candidates.{target}] has no format", 'add format = ["onnx"]')
        values = {
            k: _list(grid.get(k, default), k, f"candidates.{target}")
            for k, default in (
                ("format", None),
                ("precision", "fp32"),
                ("sparsity", 0.0),
                ("threads", None),
            )
        }
        _check_grid(TARGETS[target], values)
        for s in values["sparsity"]:
            if not isinstance(s, (int, float)) or not 0 <= s < 1:
                raise UsageError(
                    f"sparsity {s!r} in [candidates.{target}] is outside [0, 1)",
                    "use 0 for the dense model, e.g. [0.0, 0.5]",
                )
        candidates[target] = [
            Candidate(target, f, p, float(s), t)
            for f, p, s, t in itertools.product(*values.values())
        ]
    out = doc.get("output", {}).get("dir")
    return Recipe(
        path=path,
        text=text,
        name=doc.get("name", path.stem),
        model=model,
        inputs=list(doc.get("model", {}).get("inputs", [])),
        data=doc.get("data", {}),
        prune=doc.get("prune", {}),
        bench=doc.get("bench", {}),
        candidates=candidates,
        budgets=doc.get("budgets", {}),
        output_dir=Path(out) if out else None,
    )
