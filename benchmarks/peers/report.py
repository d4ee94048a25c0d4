"""The Markdown table, the machine and the versions."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from peers.problems import Problem
from peers.runners import Row
from peers.settings import REPO, THREADS
from peers.timing import QUIET_CORES


def machine_info() -> dict:
    from importlib import metadata

    flags: set[str] = set()
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    wanted = ("amx_tile", "amx_int8", "amx_bf16", "avx512_bf16", "avx512_vnni", "avx_vnni",
              "avx512f", "avx2")  # fmt: skip
    versions = {}
    for pkg in ("torch", "onnx", "onnxruntime", "openvino", "nncf", "ai-edge-litert",
                "litert-torch", "ai-edge-quantizer", "transformers", "numpy", "edgeopt"):  # fmt: skip
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        import openvino as ov

        caps = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:
        caps = []
    import edgeopt

    src = Path(edgeopt.__file__).parent
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    changed = []  # files of the edgeopt in use that differ from the commit
    external = src.resolve() != (REPO / "edgeopt").resolve()  # --edgeopt-src: not comparable
    for f in [] if external else sorted(src.rglob("*.py")):
        rel = f"edgeopt/{f.relative_to(src)}"
        head = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=REPO, capture_output=True)
        if head.returncode != 0 or head.stdout != f.read_bytes():
            changed.append(rel)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cpu_flags": {f: f in flags for f in wanted},
        "openvino_cpu_capabilities": caps,
        "python": platform.python_version(),
        "versions": versions,
        "edgeopt_source": str(src),
        "edgeopt_commit": None if external else commit,
        "edgeopt_changed_from_commit": changed,
        "threads": THREADS,
    }


def _fmt_metric(p: Problem, m: dict) -> str:
    if not m:
        return "-"
    if p.kind == "classification":
        return f"drop {m['accuracy_drop_points']:.2f} pt, agreement {m['agreement']:.4f}"
    return f"cosine mean {m['cosine_mean']:.5f}, min {m['cosine_min']:.4f}"


def _quiet(t: dict) -> str:
    q, b = t.get("quiet_median_ms"), t.get("busy_median_ms")
    n, total = t.get("quiet_blocks", 0), len(t.get("round_medians", []))
    text = (f"{q:.4g}" if q else "-") + (f" / {b:.4g}" if b else " / -")
    text += f" ({n}/{total - n} blocks)"
    if t.get("quiet_ratio_to_best_peer"):
        text += f", {t['quiet_ratio_to_best_peer']:.2f}"
    return text


def markdown(p: Problem, rows: list[Row], best: Row | None, eo: dict, meta: dict) -> str:
    key, limit = p.budget
    lines = [
        f"# Peer pipelines: {p.name}",
        "",
        f"Budget `{key} = {limit:g}` against torch fp32 on the evaluation split "
        f"({len(p.evaluation[0])} samples, batch 1). {THREADS} threads per row, batch 1, "
        f"{meta['rounds']} interleaved rounds (shuffled order, ~{meta['block_s']} s block per "
        "row per round) after warm-up, all rows in one process. ONNX Runtime sessions with "
        "spinning off (`session.intra_op.allow_spinning=0`), as edgeopt opens them.",
        "",
        "| row | runtime (precision) | median ms | round medians min-max | ratio to best peer: "
        "medians (per-round median, min-max) | quiet / busy blocks: median ms (quiet ratio) "
        "| metric | meets budget |",
        "|---|---|---:|---:|---:|---:|---|:-:|",
    ]
    for r in rows:
        rt = r.info.get("runtime") or "-"
        prec = r.info.get("precision")
        rt = f"{rt} ({prec})" if prec else rt
        if r.error:
            lines.append(f"| {r.name} | {rt} | failed: {r.error} | | | | | |")
            continue
        t = r.timing
        ratio = (
            f"{t['ratio_to_best_peer']:.2f} ({t['ratio_round_median']:.2f}, "
            f"{t['ratio_round_range'][0]:.2f}-{t['ratio_round_range'][1]:.2f})"
            if "ratio_to_best_peer" in t
            else "-"
        )
        name = f"**{r.name}**" if not r.peer else r.name + (" (best peer)" if r is best else "")
        lines.append(
            f"| {name} | {rt} | {t.get('median_ms', float('nan')):.4g} | "
            f"{t['round_spread_ms'][0]:.4g}-{t['round_spread_ms'][1]:.4g} | {ratio} | "
            f"{_quiet(t)} | {_fmt_metric(p, r.metrics)} | {'yes' if r.meets else 'no'} |"
        )
    ch = next((r for r in rows if not r.peer), None)  # the first: the plain runtime call
    if best and ch and ch.timing.get("median_ms"):
        speed = best.timing["median_ms"] / ch.timing["median_ms"]
        paired = 1.0 / ch.timing["ratio_round_median"]
        fastest = min(best.timing["round_medians"]) / min(ch.timing["round_medians"])
        lines += [
            "",
            f"edgeopt's choice vs the best in-budget peer ({best.name}): **{speed:.2f}x** "
            f"{'faster' if speed >= 1 else 'slower'} by the medians, {paired:.2f}x by the median "
            f"of the per-round ratios, {fastest:.2f}x by the fastest round of each (the least "
            "disturbed by other processes); speed-up = best peer ms / edgeopt ms.",
        ]
        if ch.timing.get("quiet_ratio_to_best_peer"):
            q = 1.0 / ch.timing["quiet_ratio_to_best_peer"]
            lines.append(
                f"Quiet blocks only (other processes below {QUIET_CORES} core): best in-budget "
                f"peer {ch.timing['quiet_best_peer']}, edgeopt's choice **{q:.2f}x** "
                f"{'faster' if q >= 1 else 'slower'}."
            )
    lines += ["", "## Rows", ""]
    lines += [f"- {r.name}: {r.recipe}" for r in rows]
    lines += ["", "## edgeopt run", ""]
    lines.append(
        f"`optimize run` wall time {eo.get('wall_s', '-')} s (cold cache: {not eo.get('reused')};"
        f" other processes kept {eo.get('other_processes_cores', '-')} cores busy on average"
        " meanwhile),"
        f" run.json timings {eo.get('timings_s')}; chose `{eo.get('chosen')}` ({eo.get('reason')})."
    )
    if eo.get("stages_s"):
        lines.append(f"Stages (s): {', '.join(f'{k} {v}' for k, v in eo['stages_s'].items())}.")
    lines += ["", "| route | stage | status | probe p50 ms | quality | reason |", "|---|---|---|---:|---|---|"]  # fmt: skip
    for r in eo.get("routes", []):
        probe = f"{r['probe_p50_ms']:.4g}" if r.get("probe_p50_ms") else "-"
        lines.append(
            f"| {r['name']} | {r.get('stage')} | {r['status']} | {probe} | {r.get('quality') or ''}"
            f" | {r.get('reason') or ''} |"
        )
    m = meta["machine"]
    flags = ", ".join(f for f, on in m["cpu_flags"].items() if on) or "none of the listed"
    lines += [
        "",
        "## Machine",
        "",
        f"{m['cpu']}, {m['cores']} cores, flags: {flags}; OpenVINO capabilities: "
        f"{', '.join(m['openvino_cpu_capabilities'])}. Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; edgeopt {m['edgeopt_source']}"
        + (
            " (a source tree given with --edgeopt-src)."
            if m["edgeopt_commit"] is None
            else f" at {m['edgeopt_commit']}"
            + (
                f" with changes in {', '.join(m['edgeopt_changed_from_commit'])}."
                if m["edgeopt_changed_from_commit"]
                else " (unchanged)."
            )
        ),
        "Absolute times on this shared 2-core machine are noisy, and the runtimes do not slow "
        "down alike when another process takes a core (a 2-thread pool with a static split "
        "waits for its descheduled half): each block records how many cores other processes "
        f"used meanwhile, and blocks under {QUIET_CORES} core count as quiet.",
    ]
    if p.notes:
        lines += ["", "Data: " + "; ".join(p.notes)]
    return "\n".join(lines) + "\n"
