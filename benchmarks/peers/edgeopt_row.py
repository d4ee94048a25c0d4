"""edgeopt's row: `optimize run` on an auto recipe, its choice opened as edgeopt opens it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from peers.problems import Problem
from peers.runners import Row, litert_row, ort_row, ov_row, size_of
from peers.settings import REPO, THREADS
from peers.timing import CpuMeter


def edgeopt_recipe(p: Problem) -> str:
    key, value = p.budget
    return (
        f'name = "peer-pipelines-{p.name}"\n'
        f'[model]\nsource = "{p.source}"\n'
        f'[data]\nevaluation = "{p.data_spec}"\ncalibration = "{p.data_spec}"\n'
        f"[bench]\nthreads = {THREADS}\nmax_time = 4.0\n"
        f'[candidates.cpu]\nroutes = "auto"\n'
        f"[budgets]\n{key} = {value}\n"
    )


def run_edgeopt(
    p: Problem, work: Path, cache: Path, reuse: Path | None, src: Path | None = None
) -> dict:
    """Run `optimize run` on the recipe (or reuse a run folder); what it chose and how long.
    `src`: an edgeopt source tree to run instead of the installed one (PYTHONPATH)."""
    recipe = work / f"peer-pipelines-{p.name}.toml"
    recipe.write_text(edgeopt_recipe(p))
    tomllib.loads(recipe.read_text())
    out: dict = {"recipe": recipe.read_text(), "recipe_path": str(recipe)}
    if reuse is None:
        exe = Path(sys.executable).with_name("optimize")
        cmd = [str(exe), "run", str(recipe), "-o", str(work / "runs"), "--cache", str(cache)]
        out["command"] = " ".join(cmd)
        log = work / "optimize-run.log"
        print(f"[edgeopt] {out['command']} (log: {log})", file=sys.stderr, flush=True)
        t0, meter = time.perf_counter(), CpuMeter()
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        if src:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
            out["edgeopt_src"] = str(src)
        with log.open("w") as fh:
            proc = subprocess.run(
                cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False
            )
        out["wall_s"] = round(time.perf_counter() - t0, 1)
        out["other_processes_cores"] = round(meter.others(), 2)  # load while it searched
        out["exit_code"] = proc.returncode
        text = log.read_text()
        out["stages_s"] = stage_times(text)
        m = re.search(r"run folder: (\S+)", text)
        run_dir = Path(m.group(1)) if m else work / "runs"
        if not run_dir.is_absolute():
            run_dir = REPO / run_dir
    else:
        run_dir = reuse
        out["reused"] = True
    if not (run_dir / "run.json").exists():  # the peers are still built, timed and reported
        log = work / "optimize-run.log"
        text = log.read_text() if log.exists() and reuse is None else f"no run.json in {run_dir}"
        tail = [ln for ln in text.splitlines() if ln][-3:]
        out.update(chosen=None, path=None, reason="optimize run failed: " + " | ".join(tail))
        return out
    summary = json.loads((run_dir / "run.json").read_text())
    t = summary["targets"]["cpu"]
    out.update(
        run_dir=str(run_dir),
        timings_s=summary.get("timings_s"),
        cache_stats=summary.get("cache_stats"),
        chosen=t.get("chosen"),
        reason=t.get("reason"),
        routes=[
            {k: r.get(k) for k in ("name", "status", "stage", "probe_p50_ms", "quality", "reason")}
            for r in t.get("routes", [])
        ],
        measured=[
            {
                "name": c["name"],
                "p50_ms": c["metrics"].get("p50_ms"),
                "quality": c["metrics"].get("quality"),
                "passed": c["verdict"].get("passed"),
            }
            for c in t.get("candidates", [])
        ],
    )
    chosen = next((c for c in t.get("candidates", []) if c["name"] == t.get("chosen")), None)
    out["path"] = chosen["path"] if chosen else None
    return out


def stage_times(log: str) -> dict:
    """Seconds per top-level stage of `optimize run`, from its progress lines."""
    stages: dict[str, float] = {}
    for m in re.finditer(
        r"^\[edgeopt\] (build \S+|probe latency|timing|accuracy)[^\n]*?: done \(([\d.]+)s\)",
        log,
        re.M,
    ):
        stages[m.group(1)] = round(stages.get(m.group(1), 0.0) + float(m.group(2)), 1)
    return stages


def edgeopt_rows(info: dict) -> list[Row]:
    """The chosen artifact opened as edgeopt opens it (open_target_session applies the sidecar's
    threads, hints and precision), timed through the same plain runtime call as the peers; and
    the same session through edgeopt's Session.run, to show that wrapper's own overhead."""
    row = Row(f"edgeopt choice: {info.get('chosen')}", 'optimize run, routes = "auto"', peer=False)
    if not info.get("path"):
        row.error = f"nothing chosen: {info.get('reason')}"
        return [row]
    from edgeopt.targets.registry import open_target_session

    path = Path(info["path"])
    sess = open_target_session(path)
    d = sess.describe()
    if d["runtime"] == "onnxruntime":
        ort_row(row, path, sess.sess)
    elif d["runtime"] == "openvino":
        ov_row(row, None, path, sess.compiled)
    elif d["runtime"] == "litert":
        litert_row(row, path, sess.interp)
    else:
        row.prepare, row.call = list, sess.run
        row.output = lambda out: np.asarray(out[0], np.float32)
    row.info.update(
        precision=row.info.get("precision") or d.get("precision"),
        threads=d.get("threads"),
        thread_spinning=d.get("thread_spinning"),
        file=str(path),
        size_bytes=size_of(path),
        opened_with="edgeopt.targets.registry.open_target_session (sidecar settings)",
    )
    wrapped = Row(
        f"(edgeopt choice through edgeopt's Session.run: {info.get('chosen')})",
        "the same session called through edgeopt's Session.run wrapper (informational)",
        peer=False,
    )
    wrapped.prepare, wrapped.call = list, sess.run
    wrapped.output = lambda out: np.asarray(out[0], np.float32)
    wrapped.info = dict(row.info)
    return [row, wrapped]
