"""Route search for `routes = "auto"`: build each runtime's best routes, drop the hopeless ones
early, repair the accuracy of the fastest that miss the budget, and hand the survivors to the
full interleaved measurement (run/runner.py).

1. routes: the target's own list for the model's traits (Target.auto_routes);
2. build: every route, quantized ones kept even when they miss the quality budget;
3. quick probe: all built routes timed together, briefly (a ranking aid, never a choice);
4. repair: the fastest routes that miss the budget rebuilt with layers kept in float;
5. shapes: the fastest survivors also exported at the deployment shape (static);
6. survivors within `keep_within` of the fastest in-budget route go to the full measurement.
Every route's fate and its reason are recorded for run.json and the report.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.progress import info, step
from edgeopt.data import fit_inputs, random_inputs
from edgeopt.formats import format_of, get_format, names
from edgeopt.metrics.latency import compare_latency
from edgeopt.metrics.quality import QualityReport
from edgeopt.optimize.fusion import has_attention
from edgeopt.optimize.quantize import backend_for, classify_content
from edgeopt.run.build import Builder, Built
from edgeopt.run.recipe import Candidate
from edgeopt.targets.base import ModelTraits
from edgeopt.targets.registry import get_target, open_target_session


@dataclass
class SearchSettings:
    """The recipe's [search] table."""

    probe_seconds: float = 6.0  # quick interleaved timing of every built route, all together
    probe_samples: int = 32  # distinct inputs cycled through by the probe
    repair_routes: int = 2  # fastest budget-missing routes that get an accuracy repair
    repair_layers: int = 4  # layers one repair may keep in float
    measure_top: int = 5  # routes given the full interleaved measurement
    keep_within: float = 1.3  # probe median within this factor of the fastest: still measured

    @classmethod
    def from_recipe(cls, table: dict) -> SearchSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in table.items() if k in known})


@dataclass
class Route:
    """One route's build, probe figures and fate."""

    candidate: Candidate
    built: Built
    probe_ms: float | None = None
    met: bool | None = None  # the quality budget (None: not quantized, so not judged here)
    quality: str = ""
    status: str = "built"  # built | measured | dropped | failed
    reason: str = ""
    stage: str = "build"

    @property
    def ok(self) -> bool:
        return self.built.path is not None and self.met is not False

    def record(self) -> dict:
        return {
            "name": self.candidate.name,
            "candidate": self.candidate.to_dict(),
            "status": self.status,
            "reason": self.reason,
            "stage": self.stage,
            "probe_p50_ms": self.probe_ms,
            "quality": self.quality,
            "path": str(self.built.path) if self.built.path else None,
        }


@dataclass
class Search:
    builder: Builder
    target: str
    run_dir: Path
    settings: SearchSettings
    routes: list[Route] = field(default_factory=list)

    def build(self, cand: Candidate, stage: str) -> Route:
        dest = self.run_dir / "routes" / self.target / cand.name
        built = self.builder.build_into(cand, dest, enforce=bool(cand.repair))
        route = Route(cand, built, stage=stage)
        if built.path is None:
            route.status, route.reason = "failed", built.error or "build failed"
        elif built.quantized is not None:
            acc = Artifact.load(built.quantized).extra.get("accuracy")
            if acc:
                route.met = acc["met"]
                route.quality = QualityReport(acc["quality"]).describe(acc["budgets"])
        self.routes.append(route)
        return route

    def probe(self, routes: list[Route]) -> None:
        """Time `routes` together, briefly, with the data they are evaluated on."""
        live = [r for r in routes if r.built.path is not None]
        if not live:
            return
        sessions = [open_target_session(r.built.path) for r in live]
        arrays = [self._inputs(s) for s in sessions]
        seconds = max(self.settings.probe_seconds, 0.4 * len(live))
        with step(f"probe latency of {len(live)} route(s) together ({seconds:g}s)"):
            res = compare_latency(sessions, baseline=None, arrays=arrays, max_time=seconds)
        for r, m in zip(live, res):
            r.probe_ms = float(m["summary"]["p50"])

    def _inputs(self, session) -> list[np.ndarray]:
        ds = self.builder.run_data.evaluation
        n = self.settings.probe_samples
        if ds is None:
            return random_inputs(session.inputs, n)
        return [a[:n] for a in fit_inputs(ds, session.inputs)]

    def fastest_ok(self) -> Route | None:
        ok = [r for r in self.routes if r.ok and r.probe_ms is not None and r.status != "dropped"]
        return min(ok, key=lambda r: r.probe_ms) if ok else None


def traits_of(builder: Builder, baseline: Built) -> ModelTraits:
    """Content and attention from the baseline export's graph; formats the source reaches."""
    fmt = format_of(baseline.path)
    counts = get_format(fmt).inspector.op_counts(baseline.path)
    content, _, _ = classify_content(backend_for(fmt), counts)
    if builder.source.is_torch:
        from edgeopt.optimize.export.tflite_backend import litert_torch_available

        exportable = [f for f in names("exporter") if f != "tflite" or litert_torch_available()]
    else:
        exportable = [builder.source.format]
    return ModelTraits(content, has_attention(counts), tuple(exportable))


def search_routes(builder: Builder, target: str, baseline: Built, run_dir: Path):
    """(the builds to measure in full, every route's record) for an auto target."""
    settings = SearchSettings.from_recipe(builder.recipe.search)
    if baseline.path is None:
        return [], [{"name": "baseline", "status": "failed", "reason": baseline.error}]
    traits = traits_of(builder, baseline)
    search = Search(builder, target, run_dir, settings)
    cands = list(
        dict.fromkeys(Candidate(target, **r) for r in get_target(target).auto_routes(traits))
    )
    info(
        f"[edgeopt] {target}: {len(cands)} route(s) for a {traits.content}-heavy model"
        f"{' with attention' if traits.attention else ''}: {', '.join(c.name for c in cands)}"
    )
    for cand in cands:
        search.build(cand, "build")
    search.probe(search.routes)
    _repair(search)
    _shapes(search)
    return _survivors(search), [r.record() for r in search.routes]


def _repair(search: Search) -> None:
    """Routes faster than the fastest in-budget one but missing the budget: keep layers float."""
    best = search.fastest_ok()
    missed = sorted(
        (r for r in search.routes if r.met is False and r.probe_ms is not None),
        key=lambda r: r.probe_ms,
    )
    repaired = []
    for r in missed:
        if best is not None and r.probe_ms >= best.probe_ms:
            r.status = "dropped"
            r.reason = (
                f"misses the budget ({r.quality}) and is no faster than {best.candidate.name} "
                f"in the probe ({r.probe_ms:.3g} vs {best.probe_ms:.3g} ms): a repair only slows it"
            )
            continue
        if len(repaired) >= search.settings.repair_routes:
            r.status, r.reason = "dropped", f"misses the budget ({r.quality}); repair limit reached"
            continue
        r.status = "dropped"
        r.reason = f"misses the budget ({r.quality}); repaired as a separate route"
        cand = dataclasses.replace(r.candidate, repair=search.settings.repair_layers)
        fixed = search.build(cand, "repair")
        if fixed.built.path is None:
            fixed.reason = f"accuracy repair failed: {fixed.built.error}"
        repaired.append(fixed)
    fixed = [r for r in repaired if r.built.path is not None]
    if fixed:
        search.probe(fixed + ([best] if best else []))


def _shapes(search: Search, top: int = 2) -> None:
    """The fastest in-budget routes, also exported at the deployment shape; of each pair only
    the shape that was faster in the probe goes on (the two are the same route, so a size
    tie-break between them in the full measurement would only pick the slower by a few KB)."""
    ok = sorted(
        (r for r in search.routes if r.ok and r.probe_ms is not None and r.status != "dropped"),
        key=lambda r: r.probe_ms,
    )
    pairs = []
    for r in ok[:top]:
        if r.candidate.shape == "static" or not _has_dynamic_dims(r.built.path):
            continue  # TFLite, say, is always exported at a fixed shape
        variant = search.build(dataclasses.replace(r.candidate, shape="static"), "shape")
        pairs.append((r, variant))
    if not pairs:
        return
    search.probe([*(v for _, v in pairs), *ok[:top]])
    for parent, variant in pairs:
        if not variant.ok or variant.probe_ms is None or parent.probe_ms is None:
            continue  # a failed or budget-missing variant is dropped by _survivors
        slow, fast = (parent, variant) if variant.probe_ms < parent.probe_ms else (variant, parent)
        slow.status = "dropped"
        slow.reason = (
            f"{fast.candidate.name} (the same route at the {fast.candidate.shape} shape) was "
            f"faster in the probe ({fast.probe_ms:.3g} vs {slow.probe_ms:.3g} ms)"
        )


def _has_dynamic_dims(path: Path) -> bool:
    art = Artifact.load(path)
    return bool(art and any(s.dynamic_dims for s in art.inputs))


def _survivors(search: Search) -> list[Built]:
    s = search.settings
    best = search.fastest_ok()
    for r in search.routes:
        if r.status in ("dropped", "failed"):
            continue
        if r.met is False:
            r.status, r.reason = "dropped", f"misses the budget ({r.quality})"
        elif r.probe_ms is None:
            r.status, r.reason = "dropped", "not probed"
    alive = sorted(
        (r for r in search.routes if r.status == "built"), key=lambda r: r.probe_ms or np.inf
    )
    measured = []
    for r in alive:
        slower = r.probe_ms / best.probe_ms if best else 1.0
        if slower > s.keep_within:
            r.status = "dropped"
            r.reason = f"{slower:.2f}x slower than {best.candidate.name} in the probe"
        elif len(measured) >= s.measure_top:
            r.status, r.reason = "dropped", f"not among the {s.measure_top} fastest in the probe"
        else:
            r.status, r.reason = "measured", "in budget and among the fastest in the probe"
            measured.append(r.built)
    return measured
