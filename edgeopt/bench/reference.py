"""What candidates are compared against: a stored run's samples, and the reference's outputs."""

from __future__ import annotations

import json
from pathlib import Path

from edgeopt.bench.config import RESULTS_SCHEMA_VERSION, BenchConfig, Entry
from edgeopt.bench.sessions import open_artifact
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.metrics.quality import measure_quality


def stored_baseline(cfg: BenchConfig, entries: list[Entry]) -> tuple[dict | None, dict | None]:
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


def accuracy_vs_reference(cfg: BenchConfig, entries: list[Entry], results: dict) -> None:
    from edgeopt.metrics.accuracy import evaluate, per_class_drop

    ref_out, ref_metrics = None, None
    ref_entry = next((e for e in entries if e.role == "baseline" and e.session), None)
    if cfg.reference:
        ds = next((e.dataset for e in entries if e.dataset is not None), None)
        if ds is not None:
            try:
                sess = open_artifact(cfg, Path(cfg.reference))
                ref_metrics, ref_out = evaluate(sess, ds, batch=cfg.batch)
                results["reference"] = {"path": cfg.reference, "accuracy": ref_metrics}
            except EdgeoptError as ex:
                results["reference"] = {"path": cfg.reference, "error": ex.message}
                results["warnings"].append(f"reference {cfg.reference} failed: {ex.message}")
    elif ref_entry is not None and ref_entry.dataset is not None:
        ref_metrics, ref_out = evaluate(ref_entry.session, ref_entry.dataset, batch=cfg.batch)
        results["reference"] = {"path": str(ref_entry.path), "is_baseline": True}
    for e in entries:
        if e.session is None or e.dataset is None:
            continue
        try:
            m, outs = evaluate(e.session, e.dataset, ref_out, batch=cfg.batch)
        except Exception as ex:  # keep measuring the others
            e.result["accuracy"] = {"error": f"{type(ex).__name__}: {ex}"[:300]}
            continue
        if ref_out is not None:
            report = measure_quality(
                _output_names(e), ref_out, outs, e.dataset.labels, e.result.get("task"), cfg.kinds
            )
            m["quality"] = report.outputs
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


def _output_names(e: Entry) -> list[str]:
    """Output names as the sidecar records them (runtimes may rename tensors)."""
    from edgeopt.artifacts.artifact import Artifact

    art = Artifact.load(e.path)
    declared = [o.name for o in art.outputs] if art else []
    return (
        declared if len(declared) == len(e.session.outputs) else [o.name for o in e.session.outputs]
    )
