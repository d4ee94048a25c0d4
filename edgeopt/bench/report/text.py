"""Terminal table and strict JSON (non-finite numbers become null: "unbounded")."""

from __future__ import annotations

import json
import math

from edgeopt.core import fmt


def clean(obj):
    """JSON-safe copy: inf/nan -> None, numpy scalars -> Python numbers."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def render_json(results: dict) -> str:
    return json.dumps(clean(results), indent=1, allow_nan=False) + "\n"


def ci_text(ci) -> str:
    return fmt.interval(ci)


def rows(results: dict) -> list[dict]:
    """One flat row per artifact: the fields every view shows."""
    out = []
    for a in results["artifacts"]:
        lat = a.get("latency") or {}
        acc = a.get("accuracy") or {}
        r = a.get("ratio") or a.get("stored_ratio")
        out.append(
            {
                "artifact": a["name"],
                "runtime": (a.get("session") or {}).get("runtime", "-"),
                "precision": (a.get("session") or {}).get("precision") or "-",
                "n": lat.get("samples", 0),
                "p50": lat.get("p50"),
                "p50_ci": lat.get("ci_p50"),
                "p90": lat.get("p90"),
                "p90_ci": lat.get("ci_p90"),
                "p99": lat.get("p99"),
                "mean": lat.get("mean"),
                "cv": lat.get("cv"),
                "ratio": r["estimate"] if r else None,
                "ratio_ci": r["ci"] if r else None,
                "ratio_kind": "stored" if (r and not a.get("ratio")) else "same-run",
                "throughput": (a.get("throughput") or {}).get("samples_per_s"),
                "top1": acc.get("top1"),
                "agree": (acc.get("vs_reference") or {}).get("top1_agreement"),
                "cosine": _cosine(acc),
                "size_mb": (a.get("size") or {}).get("total_bytes", 0) / 1048576
                if a.get("size")
                else None,
                "gzip_mb": (a.get("size") or {}).get("gzip_bytes", 0) / 1048576
                if a.get("size")
                else None,
                "mem_mb": (a.get("memory") or {}).get("peak_rss_mb"),
                "load_s": a.get("load_s"),
                "first_ms": a.get("first_inference_ms"),
                "error": a.get("error"),
            }
        )
    return out


def _cosine(acc: dict) -> float | None:
    """Output cosine to the reference: a regression model has no top-1 agreement, and a
    broken int8 file must show in the table, not only in --json."""
    vs = acc.get("vs_reference") or {}
    if vs.get("cosine") is not None:
        return vs["cosine"]
    first = next(iter((acc.get("quality") or {}).values()), {})
    return first.get("cosine_mean")


COLUMNS = [
    ("artifact", "artifact"),
    ("runtime", "runtime"),
    ("precision", "prec"),
    ("n", "samples"),
    ("p50", "p50 ms"),
    ("p50_ci", "p50 95% CI"),
    ("p90", "p90 ms"),
    ("p99", "p99 ms"),
    ("cv", "cv"),
    ("ratio", "ratio"),
    ("ratio_ci", "ratio 95% CI"),
    ("throughput", "samples/s"),
    ("top1", "top-1"),
    ("agree", "agree"),
    ("cosine", "cos"),
    ("size_mb", "MB"),
    ("mem_mb", "peak MB"),
    ("load_s", "load s"),
    ("first_ms", "1st ms"),
]


# how each column reads: latencies in ms (the unit is in the header), 3 significant digits
CELL_FORMAT = {
    "n": fmt.count,
    "p50_ci": fmt.interval,
    "p90_ci": fmt.interval,
    "ratio": fmt.ratio,
    "ratio_ci": lambda ci: fmt.interval(ci, fmt.ratio),
    "cv": lambda v: fmt.percent(v, 2),
    "throughput": lambda v: fmt.sig(v, 3),
    "top1": fmt.percent,
    "agree": fmt.percent,
    "cosine": lambda v: "-" if v is None else f"{v:.4f}",
    "size_mb": lambda v: fmt.sig(v, 3),
    "gzip_mb": lambda v: fmt.sig(v, 3),
    "mem_mb": lambda v: fmt.sig(v, 3),
    "load_s": lambda v: fmt.sig(v, 2),
}


def cell(key: str, v) -> str:
    if key in CELL_FORMAT:
        return CELL_FORMAT[key](v)
    if isinstance(v, float):
        return fmt.sig(v, 3)
    return "-" if v is None else str(v)


def render_table(results: dict) -> str:
    table = [[h for _, h in COLUMNS]]
    for r in rows(results):
        if r["error"]:
            table.append(
                [r["artifact"], "LOAD FAILED: " + r["error"][:80]] + [""] * (len(COLUMNS) - 2)
            )
            continue
        table.append([cell(k, r[k]) for k, _ in COLUMNS])
    widths = [
        max(len(row[i]) for row in table if not row[1].startswith("LOAD FAILED") or i == 0)
        for i in range(len(COLUMNS))
    ]
    lines = []
    for row in table:
        if row[1].startswith("LOAD FAILED"):
            lines.append(row[0].ljust(widths[0]) + "  " + row[1])
        else:
            lines.append(
                "  ".join(
                    c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
                )
            )
    for w in results.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)
