"""Build wall time of a 12-candidate recipe on Ray with 1 and with 2 workers (CPUs).

usage: python benchmarks/scaleout.py [--workers 1,2] [--model builtin:tabular-mlp] [--out DIR]

Each measurement starts a fresh local Ray runtime with that many CPUs and an empty cache, and
times `RayExecutor.build_all` over every candidate (what `optimize run --executor ray` does
before timing). Ray's own start-up is reported apart. The candidates share their export step
(built once, under the cache's per-key lock), so the speed-up is below the worker count;
on a machine shared with other work the figures move by tens of percent. Writes JSON + a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

RECIPE = """
name = "scaleout"
[model]
source = "{model}"
[candidates.cpu]
format = ["onnx", "openvino"]
precision = ["fp32", "int8"]
threads = [1, 2, 3]
"""


def measure(model: str, workers: int, root: Path) -> dict:
    from edgeopt.artifacts.cache import ArtifactCache
    from edgeopt.run.executor import RayExecutor
    from edgeopt.run.recipe import load_recipe
    from edgeopt.run.runner import prepare

    work = root / f"w{workers}"
    work.mkdir()
    (work / "recipe.toml").write_text(RECIPE.format(model=model))
    recipe = load_recipe(work / "recipe.toml")
    builder = prepare(recipe, ArtifactCache(work / "cache"))
    cands = recipe.candidates["cpu"]
    t0 = time.perf_counter()
    ex = RayExecutor(num_cpus=workers)
    started = time.perf_counter() - t0
    try:
        jobs = [(c, work / "run" / c.name) for c in cands]
        t1 = time.perf_counter()
        built = ex.build_all(builder, jobs)
        wall = time.perf_counter() - t1
        pids = {w["pid"] for w in ex.where.values() if w}
    finally:
        ex.close()
    return {
        "workers": workers,
        "candidates": len(cands),
        "built": sum(b.path is not None for b in built),
        "failed": [b.error for b in built if b.path is None],
        "build_wall_s": round(wall, 2),
        "ray_start_s": round(started, 2),
        "worker_processes": len(pids),
        "steps_built": ex.misses,
        "steps_from_cache": ex.hits,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--model", default="builtin:tabular-mlp")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.workers.split(",")):
            rows.append(measure(args.model, n, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["build_wall_s"]
    print(f"\n{'workers':>7} {'built':>5} {'build wall s':>12} {'speed-up':>8} {'ray start s':>11}")
    for r in rows:
        print(
            f"{r['workers']:>7} {r['built']:>5} {r['build_wall_s']:>12.1f} "
            f"{base / r['build_wall_s']:>7.2f}x {r['ray_start_s']:>11.1f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "scaleout.json"
    meta = {"machine": platform.machine(), "node": platform.node(), "model": args.model}
    out.write_text(json.dumps({**meta, "runs": rows}, indent=2) + "\n")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
