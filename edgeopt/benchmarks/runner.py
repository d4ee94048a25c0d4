"""One benchmark run: load every artifact, check data, time them interleaved, measure the rest.

`run_bench(BenchConfig) -> results dict` is data first (JSON-ready, schema_version, raw
samples); the terminal table and the reports are views of it.
"""

from __future__ import annotations

import gzip
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from edgeopt.benchmarks import gate as gatemod
from edgeopt.benchmarks import latency as lat
from edgeopt.benchmarks import machine, stats
from edgeopt.benchmarks.budgets import Budgets
from edgeopt.core.artifact import Artifact, companion_files, sidecar_path
from edgeopt.core.progress import info
from edgeopt.errors import EdgeoptError, UsageError

RESULTS_SCHEMA_VERSION = 1


@dataclass
class BenchConfig:
    artifacts: list[str]
    baseline: str | None = None
    reference: str | None = None
    runtime: str | None = None
    threads: int | None = None
    precision: str | None = None
    batch: int = 1
    requests: int = 1
    throughput_time: float = 3.0
    data: str | None = None
    latency: lat.LatencyConfig = field(default_factory=lat.LatencyConfig)
    memory: bool = True
    accuracy: bool = True
    baseline_results: str | None = None
    budgets: Budgets | None = None
    on_inconclusive: str = "fail"
    target: str | None = None
    progress: bool = True


@dataclass
class Entry:
    name: str
    path: Path
    role: str
    result: dict
    session: object = None
    arrays: list[np.ndarray] | None = None
    dataset: object = None


def _unique_names(paths: list[tuple[str, str]]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for p, role in paths:
        base = Path(p).name + (" (baseline)" if role == "baseline" else "")
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return out


def size_of(path: Path) -> dict:
    files = [f for f in companion_files(path) if f.exists()]
    sc = sidecar_path(path)
    gz = 0
    for f in files:
        c = gzip.compress(f.read_bytes(), compresslevel=6)
        gz += len(c)
    model = sum(f.stat().st_size for f in files)
    side = sc.stat().st_size if sc.exists() else 0
    return {
        "model_bytes": model,
        "sidecar_bytes": side,
        "total_bytes": model + side,
        "gzip_bytes": gz,
        "files": [f.name for f in files] + ([sc.name] if side else []),
    }


def _runtime_for(cfg: BenchConfig, path: Path) -> str | None:
    """--runtime applies to the formats it can run; the others keep their default runtime."""
    from edgeopt.core.artifact import format_of
    from edgeopt.runtimes import RUNTIMES_BY_FORMAT

    if cfg.runtime and cfg.runtime in RUNTIMES_BY_FORMAT.get(format_of(path) or "", ()):
        return cfg.runtime
    return None


def _open(cfg: BenchConfig, path: Path):
    from edgeopt.runtimes import open_session

    return open_session(path, *_session_plan(cfg, path))


def _session_plan(cfg: BenchConfig, path: Path):
    """(runtime, SessionOptions) to run an artifact as its target does (runtime, device, hints);
    options given on the command line override. Timing and the memory probe both use it."""
    import dataclasses

    from edgeopt.runtimes import SessionOptions
    from edgeopt.targets.registry import target_of

    runtime = _runtime_for(cfg, path)
    options = SessionOptions(threads=cfg.threads, precision=cfg.precision)
    target = target_of(path)
    if target is not None:
        t_runtime, t_opts = target.session_options(Artifact.load(path))
        runtime = runtime or t_runtime
        options = dataclasses.replace(
            t_opts,
            threads=cfg.threads or t_opts.threads,
            precision=cfg.precision or t_opts.precision,
        )
    return runtime, options


def describe_session(session, artifact_precision: str | None = None) -> dict:
    """session.describe() with the precision in effect spelled plainly (bf16, f32, ...)."""
    d = session.describe()
    p = str(d.get("precision") or "")
    for name, short in (
        ("bfloat16", "bf16"),
        ("float16", "f16"),
        ("float32", "f32"),
        ("f32", "f32"),
        ("bf16", "bf16"),
        ("f16", "f16"),
    ):
        if name in p.lower():
            d["precision"] = short
            break
    if not d.get("precision"):
        d["precision"] = f"model ({artifact_precision or 'as stored'})"
    return d


def _load(cfg: BenchConfig, e: Entry) -> None:
    r = e.result
    try:
        art = Artifact.load(e.path)
        r["format"] = art.format if art else None
        r["precision"] = art.precision if art else None
        r["target"] = cfg.target or (art.target if art else None) or "cpu"
        r["dataset"] = art.dataset if art else None
        t0 = time.perf_counter()
        e.session = _open(cfg, e.path)
        r["load_s"] = time.perf_counter() - t0
        r["session"] = describe_session(e.session, r.get("precision"))
    except Exception as ex:  # any load failure: named, the others still measured
        msg = ex.message if isinstance(ex, EdgeoptError) else f"{type(ex).__name__}: {ex}"
        r["error"] = msg.splitlines()[0][:400]
        r.setdefault("target", cfg.target or "cpu")
        info(f"[edgeopt] {e.name}: failed to load: {r['error']}")


def _datasets(cfg: BenchConfig, entries: list[Entry], warnings: list[str]) -> None:
    """Fit each loaded artifact's evaluation data now: a mismatch stops before any timing."""
    from edgeopt.data.datasets import fit_inputs, load_dataset, random_inputs

    cache: dict[str, object] = {}
    known = next((e.result.get("dataset") for e in entries if e.result.get("dataset")), None)
    for e in entries:
        if e.session is None:
            continue
        spec = cfg.data or e.result.get("dataset") or known
        if spec:
            if spec not in cache:
                cache[spec] = load_dataset(spec, "eval")
            e.dataset = cache[spec]
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


def _stored_baseline(cfg: BenchConfig, entries: list[Entry]) -> tuple[dict | None, dict | None]:
    """Samples of a stored run, matched to candidates by name (or its only/baseline artifact)."""
    if not cfg.baseline_results:
        return None, None
    p = Path(cfg.baseline_results)
    try:
        old = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as ex:
        raise UsageError(
            f"cannot read stored results {p}: {ex}",
            "pass a results.json written by optimize bench --report",
        ) from ex
    if old.get("schema_version") != RESULTS_SCHEMA_VERSION:
        raise UsageError(
            f"{p} has results schema {old.get('schema_version')!r}, "
            f"expected {RESULTS_SCHEMA_VERSION}",
            "re-run the baseline benchmark",
        )
    arts = [a for a in old.get("artifacts", []) if (a.get("latency") or {}).get("samples_ms")]
    if not arts:
        raise UsageError(f"{p} holds no latency samples", "use a results.json from optimize bench")
    by_name = {a["name"]: a for a in arts}
    fallback = next(
        (a for a in arts if a.get("role") == "baseline"), arts[0] if len(arts) == 1 else None
    )
    out = {}
    for e in entries:
        a = by_name.get(e.name) or fallback
        if a is not None and e.role == "candidate":
            out[e.name] = a["latency"]["samples_ms"]
            e.result["stored_baseline_name"] = a["name"]
    info_ = {
        "path": str(p),
        "created": old.get("created"),
        "machine": old.get("machine"),
        "note": "cross-run comparison: the stored run was measured at another time, so "
        "machine drift is not cancelled; it is less reliable than a same-run baseline",
    }
    return out, info_


def _accuracy(cfg: BenchConfig, entries: list[Entry], results: dict) -> None:
    from edgeopt.benchmarks.accuracy import evaluate, per_class_drop

    ref_out, ref_metrics = None, None
    ref_entry = next((e for e in entries if e.role == "baseline" and e.session), None)
    if cfg.reference:
        ds = next((e.dataset for e in entries if e.dataset is not None), None)
        if ds is not None:
            try:
                sess = _open(cfg, Path(cfg.reference))
                ref_metrics, ref_out = evaluate(sess, ds)
                results["reference"] = {"path": cfg.reference, "accuracy": ref_metrics}
            except EdgeoptError as ex:
                results["reference"] = {"path": cfg.reference, "error": ex.message}
                results["warnings"].append(f"reference {cfg.reference} failed: {ex.message}")
    elif ref_entry is not None and ref_entry.dataset is not None:
        ref_metrics, ref_out = evaluate(ref_entry.session, ref_entry.dataset)
        results["reference"] = {"path": str(ref_entry.path), "is_baseline": True}
    for e in entries:
        if e.session is None or e.dataset is None:
            continue
        try:
            m, _ = evaluate(e.session, e.dataset, ref_out)
        except Exception as ex:  # keep measuring the others
            e.result["accuracy"] = {"error": f"{type(ex).__name__}: {ex}"[:300]}
            continue
        vs = {}
        if "agreement" in m:
            vs.update(
                {
                    k: m["agreement"][k]
                    for k in ("top1_agreement", "cosine", "max_abs", "mean_abs")
                    if k in m["agreement"]
                }
            )
        if ref_metrics and "top1" in ref_metrics and "top1" in m:
            vs["top1_drop"] = ref_metrics["top1"] - m["top1"]
            worst, drop = per_class_drop(ref_metrics, m)
            vs["worst_class"], vs["per_class_drop"] = worst, drop
        if vs:
            m["vs_reference"] = vs
        e.result["accuracy"] = m


def run_bench(cfg: BenchConfig) -> dict:
    """Measure every artifact (see module doc); never raises for one artifact's load failure."""
    t_start = time.perf_counter()
    m = machine.describe()
    m["threads_requested"] = cfg.threads
    results: dict = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(),
        "machine": m,
        "settings": {
            "batch": cfg.batch,
            "threads": cfg.threads,
            "precision": cfg.precision,
            "runtime": cfg.runtime,
            "requests": cfg.requests,
            "data": cfg.data,
            "max_time_s": cfg.latency.max_time,
            "min_samples": cfg.latency.min_samples,
            "ci_target": cfg.latency.ci_target,
            "percentile": cfg.latency.percentile,
            "confidence": stats.CONF,
        },
        "artifacts": [],
        "warnings": [],
    }
    pairs = ([(cfg.baseline, "baseline")] if cfg.baseline else []) + [
        (p, "candidate") for p in cfg.artifacts
    ]
    names = _unique_names(pairs)
    entries = []
    for (p, role), name in zip(pairs, names):
        r = {"name": name, "path": str(p), "role": role}
        results["artifacts"].append(r)
        entries.append(Entry(name, Path(p), role, r))
    for e in entries:
        _load(cfg, e)
    _datasets(cfg, entries, results["warnings"])
    stored, stored_info = _stored_baseline(cfg, entries)
    if stored_info:
        results["stored_baseline"] = stored_info

    runs = []
    for e in [e for e in entries if e.session is not None]:
        batches = lat.inputs_for(e.session, e.arrays, cfg.batch)
        t0 = time.perf_counter()
        try:
            e.session.run(batches[0])
        except Exception as ex:  # loads but cannot run: named, the others still measured
            msg = ex.message if isinstance(ex, EdgeoptError) else f"{type(ex).__name__}: {ex}"
            e.result["error"] = f"first inference failed: {msg.splitlines()[0][:300]}"
            info(f"[edgeopt] {e.name}: {e.result['error']}")
            e.session = None
            continue
        e.result["first_inference_ms"] = (time.perf_counter() - t0) * 1000
        runs.append(lat.Timed(e.name, e.session, batches))
    live = [e for e in entries if e.session is not None]
    base = next((k for k, e in enumerate(live) if e.role == "baseline"), None)
    if runs:
        if cfg.progress:
            info(
                f"[edgeopt] timing {len(runs)} artifact(s) interleaved, up to {cfg.latency.max_time:g}s ..."
            )
        ended = lat.measure_latency(
            runs, cfg.latency, base, _stop_rule(cfg, live, runs, base, stored), _progress(cfg)
        )
        results["measurement"] = ended
    for k, (e, t) in enumerate(zip(live, runs)):
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
                lambda p=e.path: _open(cfg, p),
                e.session,
                t.batches,
                cfg.requests,
                cfg.throughput_time,
            )
            e.result["throughput_sequential"] = view["throughput"]
    if cfg.accuracy:
        if cfg.progress and live:
            info("[edgeopt] accuracy on the evaluation data ...")
        _accuracy(cfg, entries, results)
    for e in entries:
        if e.path.exists():
            e.result["size"] = size_of(e.path)
        if cfg.memory and e.session is not None:
            if cfg.progress:
                info(f"[edgeopt] {e.name}: peak memory in a child process ...")
            from edgeopt.benchmarks.memory import peak_memory

            e.result["memory"] = peak_memory(str(e.path), *_session_plan(cfg, e.path), cfg.batch)
    for e in live:
        e.session.close()
    m["load_end"] = machine.load_average()
    results["warnings"].extend(machine.noise_warnings(m, results["artifacts"]))
    if stored_info:
        results["warnings"].append(stored_info["note"])
    if cfg.budgets is not None:
        results["gate"] = gatemod.evaluate_gate(results, cfg.budgets, cfg.on_inconclusive)
    results["elapsed_s"] = round(time.perf_counter() - t_start, 3)
    return results


def _progress(cfg: BenchConfig):
    if not cfg.progress:
        return None
    last = [0.0]

    def show(elapsed: float, runs: list[lat.Timed]) -> None:
        if elapsed - last[0] < 2.0:
            return
        last[0] = elapsed
        parts = []
        for t in runs:
            est = stats.percentile(t.samples, cfg.latency.percentile)
            lo, hi = stats.percentile_ci(t.samples, cfg.latency.percentile)
            hw = stats.rel_half_width(lo, hi, est)
            parts.append(
                f"{t.name} n={len(t.samples)} p{cfg.latency.percentile:g}={est:.4g}ms"
                + (f" ±{hw:.1%}" if math.isfinite(hw) else "")
            )
        info(f"[edgeopt]   {elapsed:.1f}s: " + "; ".join(parts))

    return show


def failed_artifacts(results: dict) -> list[dict]:
    return [a for a in results["artifacts"] if a.get("error")]
