"""Run a recipe: build every candidate (cached), bench each target's candidates together, gate,
choose, and write one run folder with everything in it."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from edgeopt.artifacts.cache import ArtifactCache
from edgeopt.artifacts.lineage import lineage
from edgeopt.bench.budgets import budgets_from_dict
from edgeopt.core.files import atomic_write_text
from edgeopt.core.progress import info, step, task
from edgeopt.errors import UsageError
from edgeopt.run.build import Builder
from edgeopt.run.recipe import Recipe
from edgeopt.run.search import search_routes
from edgeopt.run.select import choose, metrics_of, pareto_front, verdicts

RUN_SCHEMA_VERSION = 1


def new_run_dir(recipe: Recipe, out: Path | None) -> Path:
    """A fresh folder per run (never reusing an old one, so no result is overwritten)."""
    base = Path(out or recipe.output_dir or Path("runs"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = base / f"{recipe.name}-{stamp}"
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = base / f"{recipe.name}-{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def prepare(recipe: Recipe, cache: ArtifactCache, devices_file: str | None = None) -> Builder:
    """Everything that can fail on a bad recipe, before any folder or tracking run exists."""
    if recipe.budgets:
        budgets_from_dict(recipe.budgets, "recipe [budgets]")
    _check_devices(recipe, devices_file)
    with step(f"load {recipe.model}"):
        builder = Builder(recipe, cache)
    _check_file_source(builder)
    return builder


def _check_file_source(builder: Builder) -> None:
    """A model file reaches only some formats (itself, OpenVINO IR): a candidate asking for
    another would fail after every other build, so the recipe is refused up front."""
    from edgeopt.optimize.export import file_reaches
    from edgeopt.targets.registry import get_target

    src = builder.source
    if src.is_torch:
        return
    reach = file_reaches(src.format)
    for target, cands in builder.recipe.candidates.items():
        t = get_target(target)
        if target in builder.recipe.auto:
            if not any(f in reach for f in t.formats):
                raise UsageError(
                    f"target {target} takes {', '.join(t.formats)}; the model file "
                    f"{src.path.name} ({src.format}) can only be used as {', '.join(reach)}",
                    "give the PyTorch model as the recipe's model, or drop this target",
                )
            continue
        for c in cands:
            fmt = t.export_format(c.format)
            if fmt not in reach:
                raise UsageError(
                    f"candidate {target}/{c.name} needs a {fmt} model, but the recipe's model "
                    f"is the {src.format} file {src.path.name}, which can only be used as "
                    f"{', '.join(reach)}",
                    f"use format = {' or '.join(repr(f) for f in reach)} for this target, or "
                    "give the PyTorch model as the recipe's model",
                )


def run_recipe(
    builder: Builder,
    run_dir: Path,
    tracker=None,
    max_time: float | None = None,
    executor=None,
    devices_file: str | None = None,
) -> dict:
    """`executor` builds the candidates (run.executor: local by default, or Ray); a target
    with `device = NAME` is timed on that board (devices_file: the device list)."""
    from edgeopt.run.executor import LocalExecutor

    t0 = time.perf_counter()
    recipe, cache = builder.recipe, builder.cache
    executor = executor or LocalExecutor()
    if recipe.path:
        shutil.copy2(recipe.path, run_dir / "recipe.toml")
    budgets = budgets_from_dict(recipe.budgets, "recipe [budgets]") if recipe.budgets else None
    summary: dict = {
        "schema_version": RUN_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(),
        "recipe": {
            "name": recipe.name,
            "path": str(recipe.path),
            "model": recipe.model,
            "data": builder.data,
        },
        "run_dir": str(run_dir),
        "cache": str(cache.root),
        "targets": {},
    }
    build_s = 0.0
    for target, cands in recipe.candidates.items():
        tb = time.perf_counter()
        baseline = builder.build_into(
            builder.baseline_candidate(target, cands), run_dir / "baseline" / target, plain=True
        )
        routes = None
        if target in recipe.auto:
            built, routes = search_routes(builder, target, baseline, run_dir)
        else:
            jobs = [(c, run_dir / "candidates" / target / c.name) for c in cands]
            with task(f"{target}: build {len(cands)} candidate(s)", len(cands), "done") as bar:
                built = executor.build_all(builder, jobs, bar.advance)
            failed = sum(b.path is None for b in built)
            info(f"[edgeopt] {target}: {len(built) - failed} built, {failed} failed")
        build_s += time.perf_counter() - tb
        summary["targets"][target] = _measure_target(
            recipe, target, built, baseline, budgets, run_dir, max_time, devices_file
        )
        summary["targets"][target]["built_on"] = {
            b.candidate.name: executor.where.get(
                str(run_dir / "candidates" / target / b.candidate.name)
            )
            for b in built
        }
        if routes is not None:
            summary["targets"][target]["routes"] = routes
        if tracker:
            tracker.log_target(target, summary["targets"][target])
    summary["executor"] = executor.describe()
    summary["cache_stats"] = {
        "hits": cache.hits + executor.hits,
        "misses": cache.misses + executor.misses,
    }
    summary["timings_s"] = {"build": round(build_s, 2), "total": round(time.perf_counter() - t0, 2)}
    summary["passed"] = all(t["chosen"] is not None for t in summary["targets"].values())
    atomic_write_text(run_dir / "run.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _check_devices(recipe: Recipe, devices_file) -> None:
    """Named devices exist; an arm latency budget needs one (host timing is not arm's)."""
    from edgeopt.bench.gate import LATENCY_KEYS

    for target in recipe.devices:
        _timer(recipe, target, devices_file)  # an unknown name fails here
    arm = (recipe.budgets.get("targets") or {}).get("arm") or {}
    keys = sorted(k for k in arm if k in LATENCY_KEYS)
    if keys and "arm" in recipe.candidates and "arm" not in recipe.devices:
        raise UsageError(
            f"[budgets.targets.arm] {keys[0]} would gate arm latency timed on this host, "
            "which is not arm's",
            '[candidates.arm] device = "NAME" times it on a board (optimize devices add); '
            "else drop the latency budget for arm",
        )


def _timer(recipe, target: str, devices_file):
    """The device that times `target` ([candidates.T] device = NAME), else None (here)."""
    if target not in recipe.devices:
        return None
    from edgeopt.devices import RemoteTimer

    return RemoteTimer.named(recipe.devices[target], devices_file)


def _without_latency(budgets):
    from dataclasses import replace

    from edgeopt.bench.gate import LATENCY_KEYS

    def keep(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in LATENCY_KEYS}

    return replace(
        budgets,
        defaults=keep(budgets.defaults),
        targets={t: keep(v) for t, v in budgets.targets.items()},
    )


def _measure_target(
    recipe, target, built, baseline, budgets, run_dir, max_time, devices_file=None
) -> dict:
    from edgeopt.bench.config import BenchConfig
    from edgeopt.bench.report import write_reports
    from edgeopt.bench.runner import run_bench
    from edgeopt.metrics.latency import LatencyConfig

    ok = [b for b in built if b.path is not None]
    out: dict = {"candidates": [], "chosen": None, "reason": "", "report": None}
    if baseline.path is None:
        out["reason"] = f"the baseline could not be built: {baseline.error}"
        return out
    bench = recipe.bench
    cfg = BenchConfig(
        artifacts=[str(b.path) for b in ok],
        baseline=str(baseline.path),
        data=recipe.data.get("evaluation"),
        threads=None,  # each compiled candidate carries its own thread count
        latency=LatencyConfig(
            max_time=float(max_time or bench.get("max_time", 5.0)),
            min_samples=int(bench.get("min_samples", 50)),
            ci_target=float(bench.get("rel_ci", 0.02)),
        ),
        budgets=budgets,
        target=target,
    )
    info(
        f"[edgeopt] {target}: benchmarking {len(ok)} candidate(s) against the baseline, interleaved"
    )
    remote = _timer(recipe, target, devices_file)
    if target == "arm" and remote is None and budgets is not None:
        cfg.budgets = _without_latency(budgets)  # host-timed arm figures are never gated
    results = run_bench(cfg, remote=remote)
    if target == "arm" and remote is None:
        results["warnings"].append(
            "arm candidates were timed on this x86 host with the same runtime and kernels: "
            "a ranking aid, not aarch64 device latency, so no latency budget gates them (set "
            '[candidates.arm] device = "NAME" to time them on a board; optimize verify '
            "--target arm runs them on aarch64 under emulation)"
        )
    reports = write_reports(results, run_dir / "reports" / target)
    out["report"] = {k: str(v) for k, v in reports.items()}
    v = verdicts(results)
    by_path = {a["path"]: a for a in results["artifacts"]}
    rows = []
    for b in built:
        a = by_path.get(str(b.path)) if b.path else None
        name = a["name"] if a else b.candidate.name
        rows.append(
            {
                "name": b.candidate.name,
                "file": b.path.name if b.path else None,
                "candidate": b.candidate.to_dict(),
                "path": str(b.path) if b.path else None,
                "steps": b.steps,
                "metrics": metrics_of(a) if a else {},
                "precision": (a or {}).get("precision"),
                "verdict": v.get(
                    name,
                    {
                        "passed": False,
                        "failed": [],
                        "decisions": [],
                        "error": b.error or "not measured",
                    },
                ),
            }
        )
    front = set(pareto_front([r for r in rows if r["metrics"]]))
    for r in rows:
        r["pareto"] = r["name"] in front
    chosen, reason = choose(rows)
    out.update(
        candidates=rows,
        chosen=chosen["name"] if chosen else None,
        reason=reason,
        baseline={"path": str(baseline.path), "steps": baseline.steps},
        warnings=results.get("warnings", []),
        machine=results.get("machine"),
        timed_on=results.get("device") or {"kind": "host"},
    )
    if chosen:
        out["chosen_lineage"] = lineage(Path(chosen["path"]))
    info(
        f"[edgeopt] {target}: {'chose ' + chosen['name'] if chosen else 'nothing chosen'} "
        f"({reason})"
    )
    return out
