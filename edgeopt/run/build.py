"""Building one candidate: prune -> export -> quantize -> compile, every step cached by content.

The run's data is resolved once (RunData) and the loaded splits are passed down to every
step; the formats and precisions a candidate may name come from the target and the precision
vocabulary (edgeopt.core.precision).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from edgeopt.artifacts.cache import ArtifactCache, cache_key, place
from edgeopt.bench.budgets import budgets_from_dict
from edgeopt.core.files import sha256_file
from edgeopt.core.precision import FLOAT, QuantMode, mode_for_precision
from edgeopt.core.progress import info, step
from edgeopt.core.spec import parse_input_spec
from edgeopt.core.text import first_line
from edgeopt.data import Dataset, load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.formats import format_of
from edgeopt.models.source import load_source
from edgeopt.run.recipe import Candidate, Recipe
from edgeopt.targets.registry import get_target


@dataclass
class Built:
    """A candidate's final artifact and the steps that made it (with cache hits)."""

    candidate: Candidate
    path: Path | None = None
    steps: list[dict] = field(default_factory=list)
    error: str | None = None
    failure: str | None = None  # the error's class: AccuracyError means "missed the budget"
    quantized: Path | None = None  # the quantize step's output (its sidecar holds the quality)


@dataclass
class RunData:
    """The run's datasets, each split loaded once and shared by every step."""

    evaluation: Dataset | None
    calibration: Dataset | None
    training: Dataset | None

    @classmethod
    def resolve(cls, recipe: Recipe, default: str | None) -> RunData:
        def load(key: str, split: str) -> Dataset | None:
            spec = recipe.data.get(key) or default
            return load_dataset(spec, split) if spec else None

        return cls(
            load("evaluation", "eval"), load("calibration", "calib"), load("training", "train")
        )

    def specs(self) -> dict[str, str | None]:
        """The spec strings, as run.json and the cache keys record them."""
        return {
            k: (getattr(self, k).spec if getattr(self, k) is not None else None)
            for k in ("evaluation", "calibration", "training")
        }


def source_id(source) -> str:
    """What identifies a source's content: file hash, built-in weights hash, or its reference."""
    if source.path is not None:
        return sha256_file(source.path)
    if source.digest:  # a model folder (hf:DIR): its files' hash
        return source.digest
    if source.ref.startswith("builtin:"):
        from edgeopt.models.builtin import get_builtin

        return f"{source.ref}:{sha256_file(get_builtin(source.name).weights)}"
    target = source.ref.split(" ")[0].rpartition(":")[0]
    if target.endswith(".py") and Path(target).exists():
        return f"{source.ref}:{sha256_file(target)}"
    return source.ref


class Builder:
    def __init__(self, recipe: Recipe, cache: ArtifactCache):
        self.recipe = recipe
        self.cache = cache
        specs = [parse_input_spec(s) for s in recipe.inputs] or None
        self.source = load_source(recipe.model, specs, task=recipe.task)
        self.source_id = source_id(self.source)
        self.run_data = RunData.resolve(recipe, self.source.dataset)
        self.data = self.run_data.specs()
        self.budgets = budgets_from_dict(recipe.budgets or {}, "recipe [budgets]", allow_empty=True)

    def _step(
        self, built: Built, name: str, parent_id: str, params: dict, make, config=None
    ) -> Path:
        """One cached step. `params` is what run.json shows; the key also covers `config`, the
        step's whole resolved configuration (every field, defaults included), so a changed
        default is a different key."""
        key = cache_key(parent_id, name, {"params": params, "config": config})
        path, hit = self.cache.get_or_build(key, make)
        built.steps.append(
            {
                "step": name,
                "params": params,
                "cache": "hit" if hit else "built",
                "key": key,
                "file": path.name,
            }
        )
        return path

    def build(self, cand: Candidate, enforce: bool = True) -> Built:
        """Build `cand`; with enforce=False a quantized result that misses the budgets is kept
        (its sidecar says so) for the route search to probe."""
        built = Built(cand)
        target = get_target(cand.target)
        source, parent_id = self.source, self.source_id
        if cand.sparsity:
            path = self._prune(built, cand.sparsity)
            source, parent_id = load_source(str(path)), sha256_file(path)
        fmt = target.export_format(cand.format)
        path = self._export_step(built, source, parent_id, fmt, cand.shape == "static")
        if cand.fusion:
            parent = path
            path = self._step(
                built,
                "fuse",
                sha256_file(parent),
                {"model_type": "bert"},
                lambda d: self._fuse(parent, d),
                {"samples": self.run_data.evaluation},
            )
        if cand.precision != FLOAT and target.fixed_precision is None:
            mode = mode_for_precision(cand.precision)  # None: the mode the content calls for
            parent = path
            params = {
                "mode": mode and str(mode),
                "calib": self.data["calibration"],
                "budget": self.quality_budgets(cand.target),
                "repair": cand.repair,
                "enforce": enforce,
            }
            qcfg = self._quantize_config(mode, cand, enforce)
            path = self._step(
                built,
                "quantize",
                sha256_file(parent),
                params,
                lambda d: self._quantize(parent, qcfg, d),
                qcfg,
            )
            built.quantized = path
        parent = path
        threads = cand.threads or self.recipe.bench.get("threads")
        params = {
            "target": cand.target,
            "threads": threads,
            "format": cand.format,
            "execution": cand.execution,
            "data": self.data["evaluation"],
            "calib": self.data["calibration"],
        }
        options = self._compile_options(threads, cand)
        path = self._step(
            built,
            "compile",
            sha256_file(parent),
            params,
            lambda d: self._compile(parent, cand, options, d),
            {"options": options, "pick": cand.format},
        )
        built.path = path
        return built

    def quality_budgets(self, target: str) -> dict[str, float] | None:
        """The recipe's quality budgets for a target: what quantize is held to (None: its
        default floor)."""
        from edgeopt.metrics.quality import QUALITY_KEYS

        keys = {k: v for k, v in self.budgets.for_target(target).items() if k in QUALITY_KEYS}
        return keys or None

    def baseline_candidate(self, target: str, cands: list[Candidate]) -> Candidate:
        """The plain dense fp32 export every candidate of a target is compared with: the
        first candidate's export format (the target's first format for auto routes)."""
        t = get_target(target)
        first = cands[0] if cands else None
        fmt = t.export_format(first.format) if first else t.formats[0]
        if not self.source.is_torch and self.source.format in t.formats:
            fmt = self.source.format  # a model file's baseline is the file itself
        return Candidate(target, fmt, threads=first.threads if first else None)

    def build_into(
        self, cand: Candidate, dest: Path, plain: bool = False, enforce: bool = True
    ) -> Built:
        """Build (or take from the cache) and place the result in `dest`; a failure is recorded
        on the result, so one candidate's failure never stops the others."""
        label = "baseline (plain export)" if plain else cand.name
        try:
            with step(f"build {cand.target}/{label}"):
                built = self.build_plain(cand) if plain else self.build(cand, enforce)
            built.path = place(built.path, dest)
            hits = sum(s["cache"] == "hit" for s in built.steps)
            info(f"[edgeopt]   {len(built.steps)} step(s), {hits} from the cache")
        except Exception as e:
            msg = e.message if isinstance(e, EdgeoptError) else f"{type(e).__name__}: {e}"
            built = Built(cand, error=first_line(msg), failure=type(e).__name__)
            info(f"[edgeopt]   {cand.name} could not be built: {first_line(msg)}")
        return built

    def build_plain(self, cand: Candidate) -> Built:
        """The dense fp32 export alone: the baseline every candidate is compared with."""
        built = Built(cand)
        fmt = get_target(cand.target).export_format(cand.format)
        built.path = self._export_step(built, self.source, self.source_id, fmt)
        return built

    def _export_step(
        self, built: Built, source, parent_id: str, fmt: str, static: bool = False
    ) -> Path:
        from edgeopt.formats import get_format
        from edgeopt.optimize.export import ExportConfig

        params = {
            "to": fmt,
            "data": self.data["evaluation"],
            "inputs": self.recipe.inputs,
            "static": static,
        }
        name = Path(f"{source.name}{get_format(fmt).suffix}")  # placed in the entry's folder
        cfg = ExportConfig(to=fmt, output=name, data=self.run_data.evaluation, static=static)
        return self._step(
            built, "export", parent_id, params, lambda d: self._export(source, cfg, d), cfg
        )

    def _prune(self, built: Built, sparsity: float) -> Path:
        from edgeopt.optimize.prune import PruneConfig, prune_once, save_pruned

        p = self.recipe.prune
        cfg = PruneConfig(
            sparsity=sparsity,
            finetune=self.run_data.training,
            epochs=int(p.get("epochs", 8)),
            distill=bool(p.get("distill", True)),
            data=self.run_data.evaluation,
        )
        cfg.validate()
        params = {**cfg.params(), "sparsity": sparsity, "inputs": self.recipe.inputs}

        def make(d: Path) -> Path:
            result = prune_once(self.source, cfg, sparsity)
            out = d / f"{self.source.name}-pruned{round(sparsity * 100)}.pt2"
            save_pruned(
                self.source,
                result,
                cfg,
                out,
                {"accuracy": result.accuracy, "params": result.params, "macs": result.macs},
            )
            return out

        return self._step(built, "prune", self.source_id, params, make, cfg)

    def _export(self, source, cfg, d: Path) -> Path:
        from edgeopt.optimize.export import export_model, take_file

        out = d / cfg.output.name
        if not source.is_torch and source.format == cfg.to:
            return take_file(source, out)  # a model file in the wanted format: the file itself
        export_model(source, dataclasses.replace(cfg, output=out))
        return out

    def _fuse(self, parent: Path, d: Path) -> Path:
        from edgeopt.optimize.fusion import fuse_transformer

        out = d / f"{parent.stem}.fused.onnx"
        return fuse_transformer(parent, out, samples=self.run_data.evaluation).path

    def _quantize_config(self, mode: QuantMode | None, cand: Candidate, enforce: bool):
        """The quantize step's whole configuration, built before the cache key is taken."""
        from edgeopt.optimize.quantize import QuantizeConfig

        return QuantizeConfig(
            mode=mode,
            calib=self.run_data.calibration,
            evaluation=self.run_data.evaluation,
            latency_seconds=0,
            accuracy_budget=self.quality_budgets(cand.target),
            max_search_steps=cand.repair,
            kinds=self.recipe.kinds or None,
            enforce=enforce,
        )

    def _quantize(self, parent: Path, cfg, d: Path) -> Path:
        from edgeopt.formats import get_format
        from edgeopt.optimize.quantize import choose_mode, default_output, quantize_artifact

        mode = cfg.mode
        if mode is None:  # "int8": the mode the model's content calls for
            fmt = format_of(parent)
            mode, _ = choose_mode(fmt, get_format(fmt).inspector.op_counts(parent))
        out = d / default_output(parent, mode).name
        return quantize_artifact(parent, dataclasses.replace(cfg, mode=mode, output=out)).path

    def _compile_options(self, threads: int | None, cand: Candidate):
        """The compile step's whole options, built before the cache key is taken."""
        from edgeopt.targets import CompileOptions

        return CompileOptions(
            threads=threads,
            precision=cand.execution,
            data=self.run_data.evaluation,
            calibration=self.run_data.calibration,
        )

    def _compile(self, parent: Path, cand: Candidate, options, d: Path) -> Path:
        target = get_target(cand.target)
        options = dataclasses.replace(options, output_dir=d)
        return target.pick(target.compile(parent, options), cand.format).path
