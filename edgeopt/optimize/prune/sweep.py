"""Several sparsities side by side: size, MACs, exported ONNX size, ORT latency, accuracy.

Every candidate is exported to ONNX and timed on ONNX Runtime interleaved with the dense
model in one loop, so the latency ratio is fair even on a busy CPU. The accuracy-budget search
picks the highest sparsity whose (recovered) accuracy stays within the budget.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from edgeopt.core.progress import info, quiet, step
from edgeopt.data import DataRef, fit_inputs, resolve_data
from edgeopt.errors import EdgeoptError
from edgeopt.optimize.prune import (
    PruneConfig,
    PruneResult,
    count_ops,
    eval_dataset,
    example_inputs,
    prune_once,
    top1,
)
from edgeopt.optimize.prune.unstructured import gzip_size
from edgeopt.runtimes.base import SessionOptions

LATENCY_BATCHES = (1, 64)


def export_onnx(source, module, path: Path) -> Path:
    """Plain ONNX export of `module` with the source's inputs (dynamic batch), no parity run."""
    from edgeopt.optimize.export import exporter_for
    from edgeopt.optimize.export.common import ExportConfig

    src = dataclasses.replace(source, module=module)
    exporter_for("onnx").export(src, path, ExportConfig(to="onnx", output=path))
    return path


def timing_inputs(source, batch: int, data: DataRef) -> list:
    from edgeopt.data import random_inputs

    ds = resolve_data(data, "eval", samples=batch)
    if ds is not None:
        arrays = fit_inputs(ds, source.inputs)
        if len(arrays[0]) == batch:
            return arrays
    return random_inputs(source.inputs, batch)


def run_sweep(
    source,
    cfg: PruneConfig,
    sparsities: list[float],
    calib: list | None = None,
    seconds: float = 3.0,
    threads: int = 1,
    batches: tuple[int, ...] = LATENCY_BATCHES,
) -> tuple[list[dict], list[PruneResult]]:
    """One row per model (dense first): params, MACs, ONNX bytes, gzip bytes, latency, top-1."""
    from edgeopt.runtimes.onnxruntime_rt import OnnxRuntimeSession

    data = eval_dataset(source, cfg)
    example = example_inputs(source)
    dense_macs, dense_params = count_ops(source.module, example)
    dense_acc = top1(source.module, source, data)
    results: list[PruneResult] = []
    for s in sparsities:
        with step(f"prune at sparsity {s:g}" + (" + recovery" if cfg.finetune else "")):
            results.append(prune_once(source, cfg, s, dense_acc, calib))
    opts = SessionOptions(threads=threads)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="edgeopt-prune-") as tmp:
        files = {"dense": Path(tmp) / "dense.onnx"}
        with step("export candidates to ONNX"), quiet():
            export_onnx(source, source.module, files["dense"])
            for r in results:
                files[_key(r.sparsity)] = export_onnx(
                    source, r.module, Path(tmp) / f"{_key(r.sparsity)}.onnx"
                )
        sessions = {k: OnnxRuntimeSession(p, opts) for k, p in files.items()}
        lat = {}
        for b in batches:
            with step(f"ONNX Runtime latency, batch {b}, {threads} thread(s), interleaved"):
                lat[b] = _latency(sessions, timing_inputs(source, b, data), b, seconds)
        onnx_acc = {k: _onnx_top1(sess, source, data) for k, sess in sessions.items()}
        dense_size = files["dense"].stat().st_size
        for key, res in [("dense", None), *[(_key(r.sparsity), r) for r in results]]:
            size = files[key].stat().st_size
            row = {
                "model": key,
                "sparsity": 0.0 if res is None else res.sparsity,
                "params": dense_params if res is None else res.params,
                "macs": dense_macs if res is None else res.macs,
                "onnx_bytes": size,
                "onnx_ratio": size / dense_size,
                "onnx_gzip_bytes": gzip_size(files[key]),
            }
            for b in batches:
                row[f"latency_b{b}_ms"] = lat[b][key]["p50"]
                row[f"latency_b{b}_ratio"] = lat[b][key]["ratio"]
                row[f"latency_b{b}_ratio_ci"] = lat[b][key]["ratio_ci"]
            acc = {"before": dense_acc} if res is None else res.accuracy
            row["top1_after_prune"] = acc.get("after_prune", dense_acc)
            row["top1_recovered"] = acc.get("recovered")
            row["top1_onnx"] = onnx_acc[key]
            rows.append(row)
    return rows, results


def _latency(sessions: dict, inputs: list, batch: int, seconds: float) -> dict[str, dict]:
    """p50 of each model and its latency ratio to the dense one (first), measured interleaved
    by the benchmark harness."""
    from edgeopt.metrics.latency import compare_latency

    keys = list(sessions)
    res = compare_latency(
        [sessions[k] for k in keys],
        baseline=0,
        arrays=[inputs] * len(keys),
        max_time=seconds,
        batch=batch,
    )
    out = {}
    for k, r in zip(keys, res):
        ratio = r["ratio"] or {"estimate": 1.0, "ci": [1.0, 1.0]}
        out[k] = {"p50": r["summary"]["p50"], "ratio": ratio["estimate"], "ratio_ci": ratio["ci"]}
    return out


def _key(s: float) -> str:
    return f"s{s:g}"


def _onnx_top1(session, source, data: DataRef) -> float | None:
    from edgeopt.metrics.accuracy import classification_metrics, predict

    ds = resolve_data(data, "eval")
    if ds is None or ds.labels is None:
        return None
    (logits, *_) = predict(session, fit_inputs(ds, source.inputs))
    return classification_metrics(logits, ds.labels)["top1"]


def final_top1(row: dict) -> float | None:
    return (
        row["top1_recovered"] if row.get("top1_recovered") is not None else row["top1_after_prune"]
    )


def pick_within_budget(rows: list[dict], budgets: dict[str, float]) -> dict | None:
    """The highest-sparsity row whose final top-1 meets every budget (drop in points against
    the dense row, or an absolute minimum)."""
    dense = final_top1(rows[0])
    if dense is None:
        raise EdgeoptError(
            "--accuracy-budget needs labelled evaluation data",
            "pass --data DATASET (with labels) or use a built-in model",
        )

    def meets(top1: float | None) -> bool:
        if top1 is None:
            return False
        drop_ok = (dense - top1) * 100 <= budgets.get("accuracy_drop_max_points", 100.0) + 1e-9
        return drop_ok and top1 >= budgets.get("accuracy_min", 0.0) - 1e-12

    ok = [r for r in rows[1:] if meets(final_top1(r))]
    return max(ok, key=lambda r: r["sparsity"]) if ok else None


def describe_budgets(budgets: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in budgets.items())


def format_table(rows: list[dict], batches: tuple[int, ...] = LATENCY_BATCHES) -> str:
    """A plain-text table, one row per model, ratios against the dense row."""
    head = ["sparsity", "params", "MACs", "onnx bytes", "(ratio)", "gzip bytes"]
    for b in batches:
        head += [f"ort b{b} ms", "(ratio)"]
    head += ["top1 pruned", "top1 recovered", "top1 onnx"]
    lines = [head]
    for r in rows:
        line = [
            f"{r['sparsity']:g}" if r["sparsity"] else "dense",
            f"{r['params']:,}",
            f"{r['macs']:,}",
            f"{r['onnx_bytes']:,}",
            f"{r['onnx_ratio']:.2f}",
            f"{r['onnx_gzip_bytes']:,}",
        ]
        for b in batches:
            line += [f"{r[f'latency_b{b}_ms']:.4f}", f"{r[f'latency_b{b}_ratio']:.2f}"]
        line += [_pct(r["top1_after_prune"]), _pct(r["top1_recovered"]), _pct(r["top1_onnx"])]
        lines.append(line)
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(x, widths)) for x in lines)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def log_budget_choice(chosen: dict | None, budgets: dict[str, float]) -> None:
    if chosen is None:
        info(f"[edgeopt] no sparsity in the sweep meets {describe_budgets(budgets)}")
    else:
        info(
            f"[edgeopt] highest sparsity meeting {describe_budgets(budgets)}: {chosen['sparsity']:g}"
        )
