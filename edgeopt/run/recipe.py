"""Recipes (TOML): model, data, candidate grid per target, budgets, output folder.

```toml
name = "digits-cnn"
[model]
source = "builtin:digits-cnn"          # any model reference `optimize export` takes
inputs = []                            # optional --input style specs
# task = "text-classification"        # hf:DIR sources only: the task (default: config.json)
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
precision = ["fp32", "int8"]           # fp32, int8 (mode from content), or a mode tag
sparsity = [0.0, 0.5]
shape = ["dynamic", "static"]          # static: export at the deployment batch and dims
fusion = [false, true]                 # ONNX: fuse transformer attention/LayerNorm/GELU
execution = ["f32", "bf16"]            # OpenVINO: runtime precision in effect
[candidates.arm]
routes = "auto"                        # the route space from the model and the target
[search]                               # auto routes: probes, repair, full measurement
measure_top = 6
[metrics]
kinds = { embedding = "embedding" }    # output name -> classification|embedding|regression
[budgets]                              # the gate's budget keys; [budgets.targets.arm] overrides
accuracy_drop_max_points = 1.0
latency_ratio_max = 1.0
```
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from edgeopt.core.precision import recipe_precisions
from edgeopt.errors import UsageError
from edgeopt.targets.registry import TARGETS

TOP_KEYS = {
    "name",
    "model",
    "data",
    "prune",
    "bench",
    "candidates",
    "budgets",
    "output",
    "search",
    "metrics",
}
SECTION_KEYS = {
    "model": {"source", "inputs", "task"},
    "data": {"evaluation", "calibration", "training"},
    "prune": {"epochs", "distill"},
    "bench": {"max_time", "min_samples", "threads", "rel_ci"},
    "output": {"dir"},
    "search": {"probe_samples", "probe_seconds", "repair_routes", "measure_top"},
    "metrics": {"kinds"},
}


def _is_str(v) -> bool:
    return isinstance(v, str)


def _is_count(v) -> bool:  # an int >= 1 (bool is an int in Python: not here)
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _is_positive(v) -> bool:  # a finite number > 0 (NaN fails the comparison)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < float("inf")


# (section, key) -> (check, what the value must be): every value is checked before any work
VALUE_RULES = {
    ("model", "source"): (_is_str, "a model reference string"),
    ("model", "task"): (_is_str, 'a task name for hf: folders, e.g. "text-classification"'),
    ("model", "inputs"): (
        lambda v: isinstance(v, list) and all(map(_is_str, v)),
        'a list of --input strings, e.g. ["x:batchx3x224x224:float32"]',
    ),
    ("data", "evaluation"): (_is_str, "a dataset spec string"),
    ("data", "calibration"): (_is_str, "a dataset spec string"),
    ("data", "training"): (_is_str, "a dataset spec string"),
    ("prune", "epochs"): (lambda v: v == 0 or _is_count(v), "a whole number >= 0"),
    ("prune", "distill"): (lambda v: isinstance(v, bool), "true or false"),
    ("bench", "max_time"): (_is_positive, "seconds > 0"),
    ("bench", "min_samples"): (_is_count, "a whole number >= 1"),
    ("bench", "threads"): (_is_count, "a whole number >= 1"),
    ("bench", "rel_ci"): (lambda v: _is_positive(v) and v < 1, "a fraction in (0, 1)"),
    ("output", "dir"): (_is_str, "a folder path string"),
    ("search", "probe_samples"): (_is_count, "a whole number >= 1"),
    ("search", "probe_seconds"): (_is_positive, "seconds > 0"),
    ("search", "repair_routes"): (lambda v: v == 0 or _is_count(v), "a whole number >= 0"),
    ("search", "measure_top"): (_is_count, "a whole number >= 1"),
}


def _check_values(doc: dict) -> None:
    for (section, key), (ok, what) in VALUE_RULES.items():
        table = doc.get(section)
        if isinstance(table, dict) and key in table and not ok(table[key]):
            raise UsageError(
                f"[{section}] {key} = {table[key]!r} in the recipe must be {what}",
                f"fix {key} in [{section}]",
            )


SHAPES = ("dynamic", "static")
AUTO = "auto"

DEMO_RECIPE = Path(__file__).with_name("demo_recipe.toml")


@dataclass(frozen=True)
class Candidate:
    """One route to a deployable artifact: the options of each step that builds it.

    Its fields are the recipe grid's keys (Olive-style: a step's typed options double as its
    search space), so a new dimension is one field here plus its check in `_check_grid`.
    """

    target: str
    format: str  # what is deployed (an export format, or what compile writes from one)
    precision: str = "fp32"  # quantize: fp32, int8 (mode from content) or a mode's tag
    sparsity: float = 0.0  # prune: fraction of channels/units removed
    shape: str = "dynamic"  # export: dynamic, or static at the deployment batch and dims
    fusion: bool = False  # ONNX: transformer fusion (attention, LayerNorm, GELU) before quantize
    execution: str | None = None  # runtime precision in effect (OpenVINO f32/bf16/f16)
    threads: int | None = None  # runtime threads
    repair: int = 0  # accuracy repair: up to this many costly layers kept in float

    @property
    def name(self) -> str:
        parts = [self.format, self.precision]
        if self.sparsity:
            parts.append(f"pruned{int(round(self.sparsity * 100))}")
        if self.shape != "dynamic":
            parts.append(f"{self.shape}-shape")
        if self.fusion:
            parts.append("fused")
        if self.execution:
            parts.append(self.execution)
        if self.threads:
            parts.append(f"t{self.threads}")
        if self.repair:
            parts.append("repaired")
        return "-".join(parts)

    def to_dict(self) -> dict:
        return {"name": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}


GRID_KEYS = {f.name for f in fields(Candidate)} - {"target", "repair"}
_DEFAULTS = {f.name: f.default for f in fields(Candidate) if f.name in GRID_KEYS}


@dataclass
class Recipe:
    path: Path | None
    text: str
    name: str
    model: str
    inputs: list[str] = field(default_factory=list)
    task: str | None = None  # hf: folders: the task, overriding config.json
    data: dict = field(default_factory=dict)
    prune: dict = field(default_factory=dict)
    bench: dict = field(default_factory=dict)
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    budgets: dict = field(default_factory=dict)
    output_dir: Path | None = None
    auto: set[str] = field(default_factory=set)  # targets whose routes come from the search
    search: dict = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # output name -> quality kind
    devices: dict[str, str] = field(default_factory=dict)  # target -> device that times it

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
    """Every value a target's grid names must be one the target can build."""
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
    for s in values["sparsity"]:
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < 1:
            raise UsageError(
                f"sparsity {s!r} in {where} is outside [0, 1)",
                "use 0 for the dense model, e.g. [0.0, 0.5]",
            )
    for shape in values["shape"]:
        if shape not in SHAPES:
            raise UsageError(f"unknown shape {shape!r} in {where}", f"use {' or '.join(SHAPES)}")
    for fused in values["fusion"]:
        if not isinstance(fused, bool):
            raise UsageError(
                f"fusion must be true or false in {where}", "e.g. fusion = [false, true]"
            )
    for t in values["threads"]:
        if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 1):
            raise UsageError(
                f"threads {t!r} in {where} must be a positive integer", "e.g. threads = 2"
            )
    exports = {target.export_format(f) for f in values["format"]}
    if True in values["fusion"] and "onnx" not in exports:
        raise UsageError(
            f"fusion applies to ONNX candidates only ({where})", "drop fusion or add onnx"
        )
    allowed = {e for f in exports for e in target.execution_precisions.get(f, ())}
    for e in values["execution"]:
        if e is not None and e not in allowed:
            raise UsageError(
                f"execution {e!r} in {where}: the {'/'.join(sorted(exports))} runtimes here "
                "cannot set it",
                f"runtime precisions for these formats: {', '.join(sorted(allowed)) or 'none'}",
            )


def _candidates(target, grid: dict, where: str) -> list[Candidate]:
    values = {k: _list(grid.get(k, _DEFAULTS.get(k)), k, where) for k in sorted(GRID_KEYS)}
    _check_grid(target, values)
    keys = list(values)
    return [
        Candidate(target.name, **dict(zip(keys, combo)))
        for combo in itertools.product(*values.values())
    ]


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def safe_name(name: object) -> str:
    """A recipe name becomes a folder name under the output folder: plain characters only, so
    no name (`../x`, `/abs`, `a/b`) can place a run folder anywhere else."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise UsageError(
            f"recipe name {name!r} is not a safe folder name",
            "use letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 100)",
        )
    return name


def _name_from_stem(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", stem).lstrip(".-")[:100] or "run"


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
    _check_values(doc)
    model = doc.get("model", {}).get("source")
    if not model:
        raise UsageError(
            f"recipe {path} names no model", 'add [model] source = "builtin:digits-cnn"'
        )
    grids = doc.get("candidates")
    if not isinstance(grids, dict) or not grids:
        raise UsageError("recipe has no [candidates.TARGET] table", "add e.g. [candidates.cpu]")
    candidates: dict[str, list[Candidate]] = {}
    auto: set[str] = set()
    devices: dict[str, str] = {}
    for target, grid in grids.items():
        if target not in TARGETS:
            raise UsageError(
                f"unknown target {target!r} in [candidates.{target}]",
                f"valid targets: {', '.join(TARGETS)}",
            )
        where = f"[candidates.{target}]"
        _check_keys(grid, GRID_KEYS | {"routes", "device"}, where)
        if "device" in grid:  # timed on this registered board (optimize devices add)
            if not isinstance(grid["device"], str) or not grid["device"]:
                raise UsageError(f"device in {where} must be a device name", 'device = "pi4"')
            devices[target] = grid["device"]
            grid = {k: v for k, v in grid.items() if k != "device"}
        if grid.get("routes", AUTO if not grid else None) == AUTO:
            if set(grid) - {"routes"}:
                raise UsageError(
                    f'{where} sets routes = "auto" and grid keys', "use one or the other"
                )
            auto.add(target)
            candidates[target] = []
            continue
        if "routes" in grid:
            raise UsageError(f'routes in {where} must be "auto"', 'write routes = "auto"')
        if "format" not in grid:
            raise UsageError(f"{where} has no format", 'add format = ["onnx"]')
        candidates[target] = _candidates(TARGETS[target], grid, where)
    kinds = doc.get("metrics", {}).get("kinds", {})
    if not isinstance(kinds, dict) or any(
        k not in {"classification", "embedding", "regression"} for k in kinds.values()
    ):
        raise UsageError(
            "[metrics] kinds must map output names to classification, embedding or regression",
            'e.g. kinds = { sentence_embedding = "embedding" }',
        )
    out = doc.get("output", {}).get("dir")
    return Recipe(
        path=path,
        text=text,
        name=safe_name(doc["name"]) if "name" in doc else _name_from_stem(path.stem),
        model=model,
        inputs=list(doc.get("model", {}).get("inputs", [])),
        task=doc.get("model", {}).get("task"),
        data=doc.get("data", {}),
        prune=doc.get("prune", {}),
        bench=doc.get("bench", {}),
        candidates=candidates,
        budgets=doc.get("budgets", {}),
        output_dir=Path(out) if out else None,
        auto=auto,
        search=doc.get("search", {}),
        kinds=dict(kinds),
        devices=devices,
    )
