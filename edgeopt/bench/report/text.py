"""Terminal table and strict JSON (non-finite numbers become null: "unbounded")."""

from __future__ import annotations

import json
import math


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


def fnum(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.{digits}g}"


def ci_text(ci) -> str:
    if not ci:
        return "-"
    return f"[{fnum(ci[0])}, {fnum(ci[1])}]"


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
    ("size_mb", "MB"),
    ("mem_mb", "peak MB"),
    ("load_s", "load s"),
    ("first_ms", "1st ms"),
]


def cell(key: str, v) -> str:
    if key.endswith("_ci"):
        return ci_text(v)
    if key == "cv":
        return "-" if v is None else f"{v:.1%}"
    if isinstance(v, float):
        return fnum(v)
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
