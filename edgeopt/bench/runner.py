"""One benchmark run: load every artifact, check data, time them interleaved, measure the rest.

`run_bench(BenchConfig) -> results dict` is data first (JSON-ready, schema_version, raw
samples); the terminal table and the reports are views of it.
"""

from __future__ import annotations

import contextlib
import math
import time
from datetime import UTC, datetime
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.bench import gate as gatemod
from edgeopt.bench import machine
from edgeopt.bench.baseline import check_baseline
from edgeopt.bench.config import RESULTS_SCHEMA_VERSION, BenchConfig, Entry
from edgeopt.bench.memory import peak_memory, size_of
from edgeopt.bench.reference import accuracy_vs_reference, stored_baseline
from edgeopt.bench.sessions import describe_session, open_artifact, session_plan
from edgeopt.core import fmt, progress
from edgeopt.core.progress import info
from edgeopt.core.text import first_line
from edgeopt.data import data_ref_name
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.metrics import latency as lat
from edgeopt.metrics import stats


def _unique_names(paths: list[tuple[str, str]]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for p, role in paths:
        base = Path(p).name + (" (baseline)" if role == "baseline" else "")
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return out


def _load(cfg: BenchConfig, e: Entry) -> None:
    r = e.result
    try:
        art = Artifact.load(e.path)
        r["format"] = art.format if art else None
        r["precision"] = art.precision if art else None
        r["target"] = cfg.target or (art.target if art else None) or "cpu"
        r["dataset"] = art.dataset if art else None
        r["task"] = art.task if art else None
        t0 = time.perf_counter()
        e.session = open_artifact(cfg, e.path)
        r["load_s"] = time.perf_counter() - t0
        r["session"] = describe_session(e.session, r.get("precision"))
    except Exception as ex:  # any load failure: named, the others still measured
        msg = ex.message if isinstance(ex, EdgeoptError) else f"{type(ex).__name__}: {ex}"
        r["error"] = first_line(msg, 400)
        r.setdefault("target", cfg.target or "cpu")
        info(f"[edgeopt] {e.name}: failed to load: {r['error']}")


def _datasets(cfg: BenchConfig, entries: list[Entry], warnings: list[str]) -> None:
    """Fit each loaded artifact's evaluation data now: a mismatch stops before any timing."""
    from edgeopt.data import fit_inputs, random_inputs, resolve_data

    known = next((e.result.get("dataset") for e in entries if e.result.get("dataset")), None)
    for e in entries:
        if e.session is None:
            continue
        ref = cfg.data or e.result.get("dataset") or known
        if ref:
            e.dataset = resolve_data(ref, "eval")
            try:
                e.arrays = fit_inputs(e.dataset, e.session.inputs)
            except UsageError as ex:
                raise UsageError(f"{e.name}: {ex.message}", ex.hint) from ex
            e.result["data"] = e.dataset.describe()
        else:
            e.arrays = random_inputs(e.session.inputs, max(64, cfg.batch), seed=0)
            e.result["data"] = {"spec": None, "note": "no dataset known: seeded random inputs"}
            warnings.append(
                f"{e.name}: no dataset known (pass --data); timed on random inputs "
                "and accuracy not measured"
            )


def _stop_rule(
    cfg: BenchConfig,
    entries: list[Entry],
    runs: list[lat.Timed],
    base: int | None,
    stored: dict | None,
):
    if cfg.budgets is None:
        return None
    limits = {
        e.name: {
            k: v
            for k, v in cfg.budgets.for_target(e.result.get("target")).items()
            if k in gatemod.LATENCY_KEYS and not (k == "throughput_min" and cfg.requests > 1)
        }
        for e in entries
    }
    default = lambda rs: lat.default_stop(rs, base, cfg.latency)  # noqa: E731

    def stop(rs: list[lat.Timed]) -> bool:
        any_budget = False
        for k, t in enumerate(rs):
            if k == base and len(rs) > 1:
                continue
            lim = limits.get(t.name, {})
            if not lim:
                continue
            any_budget = True
            a = _latency_view(t, cfg, rs, base, k, stored, n_boot=200)
            if not gatemod.latency_conclusive(a, lim):
                return False
        return True if any_budget else default(rs)

    return stop


def _latency_view(t: lat.Timed, cfg, rs, base, k, stored, n_boot=1000) -> dict:
    summ = t.summary()
    a = {"name": t.name, "latency": summ, "throughput": lat.sequential_throughput(summ, cfg.batch)}
    if base is not None and k != base:
        a["ratio"] = lat.ratio_vs(rs, base, k)
    if stored is not None and t.name in stored:
        a["stored_ratio"] = stats.independent_ratio(stored[t.name], t.samples, n_boot=n_boot)
    return a


def run_bench(cfg: BenchConfig, remote=None) -> dict:
    """Measure every artifact (see module doc); never raises for one artifact's load failure.

    `remote` (a devices.RemoteTimer) times them on a device instead of here: same harness,
    same statistics, figures labelled with the device."""
    t_start = time.perf_counter()
    results = _new_results(cfg)
    entries = _entries(cfg, results)
    for e in entries:
        _load(cfg, e)
    mismatch = check_baseline(
        entries, bool(cfg.data), cfg.allow_different_baseline, results["warnings"]
    )
    if mismatch:
        results["baseline_mismatch"] = mismatch
    _datasets(cfg, entries, results["warnings"])
    stored, stored_info = stored_baseline(cfg, entries)
    if stored_info:
        results["stored_baseline"] = stored_info
    runs = _first_inference(cfg, entries)
    live = [e for e in entries if e.session is not None]
    _time(cfg, runs, live, stored, stored_info, results, remote)
    if cfg.accuracy:
        if cfg.progress and live:
            info("[edgeopt] accuracy on the evaluation data ...")
        accuracy_vs_reference(cfg, entries, results)
    _size_and_memory(cfg, entries, results)
    for e in live:
        e.session.close()
    results["machine"]["load_end"] = machine.load_average()
    results["warnings"].extend(machine.noise_warnings(results["machine"], results["artifacts"]))
    if stored_info:
        results["warnings"].append(stored_info["note"])
    if cfg.budgets is not None:
        results["gate"] = gatemod.evaluate_gate(results, cfg.budgets, cfg.on_inconclusive)
    results["elapsed_s"] = round(time.perf_counter() - t_start, 3)
    return results


def _new_results(cfg: BenchConfig) -> dict:
    m = machine.describe()
    m["threads_requested"] = cfg.threads
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(),
        "machine": m,
        "settings": {
            "batch": cfg.batch,
            "threads": cfg.threads,
            "precision": cfg.precision,
            "runtime": cfg.runtime,
            "requests": cfg.requests,
            "data": data_ref_name(cfg.data),
            "max_time_s": cfg.latency.max_time,
            "min_samples": cfg.latency.min_samples,
            "ci_target": cfg.latency.ci_target,
            "percentile": cfg.latency.percentile,
            "confidence": stats.CONF,
        },
        "artifacts": [],
        "warnings": [],
    }


def _entries(cfg: BenchConfig, results: dict) -> list[Entry]:
    """The baseline (if any) first, then the candidates, each with a unique display name."""
    pairs = ([(cfg.baseline, "baseline")] if cfg.baseline else []) + [
        (p, "candidate") for p in cfg.artifacts
    ]
    entries = []
    for (p, role), name in zip(pairs, _unique_names(pairs)):
        r = {"name": name, "path": str(p), "role": role}
        results["artifacts"].append(r)
        entries.append(Entry(name, Path(p), role, r))
    return entries


def _first_inference(cfg: BenchConfig, entries: list[Entry]) -> list[lat.Timed]:
    """Run each loaded artifact once (timed); one that cannot run is named and dropped."""
    runs = []
    for e in [e for e in entries if e.session is not None]:
        batches = lat.inputs_for(e.session, e.arrays, cfg.batch)
        t0 = time.perf_counter()
        try:
            e.session.run(batches[0])
        except Exception as ex:  # loads but cannot run: named, the others still measured
            msg = ex.message if isinstance(ex, EdgeoptError) else f"{type(ex).__name__}: {ex}"
            e.result["error"] = f"first inference failed: {first_line(msg)}"
            info(f"[edgeopt] {e.name}: {e.result['error']}")
            e.session = None
            continue
        e.result["first_inference_ms"] = (time.perf_counter() - t0) * 1000
        runs.append(lat.Timed(e.name, e.session, batches))
    return runs


def _time(cfg, runs, live, stored, stored_info, results, remote=None) -> None:
    """The interleaved latency run, then each artifact's figures (and throughput phase)."""
    base = next((k for k, e in enumerate(live) if e.role == "baseline"), None)
    if runs:
        stop = _stop_rule(cfg, live, runs, base, stored)
        label = f"timing {len(runs)} artifact(s) interleaved"
        with (
            progress.task(label, cfg.latency.max_time, "s")
            if cfg.progress
            else contextlib.nullcontext()
        ) as bar:
            if remote is None:
                results["measurement"] = lat.measure_latency(
                    runs, cfg.latency, base, stop, _progress(cfg, bar)
                )
            else:  # the same loop on a device; its raw samples fill `runs`
                paths = [e.path for e in live]
                results["measurement"] = remote.measure(
                    runs, paths, cfg, base, stop, _progress(cfg, bar)
                )
                results["device"] = results["measurement"]["timed_on"]
            if bar is not None:
                bar.done = results["measurement"]["seconds"]  # it may stop before a check
    for k, (e, t) in enumerate(zip(live, runs)):
        e.result["timed_on"] = remote.labels[k] if remote else {"kind": "host"}
        if remote and k in remote.lost:  # the device dropped before this one was measured
            e.result["error"] = remote.lost[k]
            continue
        view = _latency_view(t, cfg, runs, base, k, stored)
        e.result["latency"] = {
            **view["latency"],
            "samples_ms": [round(x, 5) for x in t.samples],
            "blocks": [list(b) for b in t.blocks],
            "warmup": t.warmup,
            "block_size": t.block_size,
        }
        e.result["throughput"] = view["throughput"]
        if "ratio" in view:
            e.result["ratio"] = view["ratio"]
        if "stored_ratio" in view:
            e.result["stored_ratio"] = {**view["stored_ratio"], "note": stored_info["note"]}
        if cfg.requests > 1:
            if cfg.progress:
                info(f"[edgeopt] {e.name}: throughput with {cfg.requests} parallel requests ...")
            e.result["throughput"] = lat.throughput_windows(
                lambda p=e.path: open_artifact(cfg, p),
                e.session,
                t.batches,
                cfg.requests,
                cfg.throughput_time,
            )
            e.result["throughput_sequential"] = view["throughput"]


def _size_and_memory(cfg: BenchConfig, entries: list[Entry], results: dict) -> None:
    for e in entries:
        if e.path.exists():
            e.result["size"] = size_of(e.path)
        if cfg.memory and e.session is not None:
            if cfg.progress:
                info(f"[edgeopt] {e.name}: peak memory in a child process ...")
            mem = peak_memory(
                str(e.path), *session_plan(cfg, e.path), cfg.batch, inputs=_memory_inputs(e, cfg)
            )
            e.result["memory"] = mem
            if mem.get("error"):  # said, never a silent blank
                results["warnings"].append(f"{e.name}: {mem['error']}")


def _memory_inputs(e: Entry, cfg: BenchConfig) -> list | None:
    """The memory probe feeds the data the timing used (guessed shapes can be refused)."""
    if e.dataset is None:
        return None
    from edgeopt.data import fit_inputs

    try:
        return [a[: cfg.batch] for a in fit_inputs(e.dataset, e.session.inputs)]
    except Exception:
        return None


def _progress(cfg: BenchConfig, bar: progress.Task | None = None):
    if not cfg.progress:
        return None
    last = [0.0]

    def show(elapsed: float, runs: list[lat.Timed]) -> None:
        if bar is not None:
            bar.update(elapsed)
        if elapsed - last[0] < 2.0:
            return
        last[0] = elapsed
        parts = []
        for t in runs:
            est = stats.percentile(t.samples, cfg.latency.percentile)
            lo, hi = stats.percentile_ci(t.samples, cfg.latency.percentile)
            hw = stats.rel_half_width(lo, hi, est)
            parts.append(
                f"{t.name} n={fmt.count(len(t.samples))} "
                f"p{cfg.latency.percentile:g}={fmt.latency_ms(est)}"
                + (f" ±{fmt.percent(hw, 2)}" if math.isfinite(hw) else "")
            )
        info(f"[edgeopt]   {fmt.seconds(elapsed)}: " + "; ".join(parts))

    return show


def failed_artifacts(results: dict) -> list[dict]:
    return [a for a in results["artifacts"] if a.get("error")]
