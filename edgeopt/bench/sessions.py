"""How bench opens an artifact: as its target runs it (runtime, device, hints), CLI options on top.

Timing, the throughput phase and the memory probe all open artifacts through `session_plan`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.bench.config import BenchConfig
from edgeopt.runtimes import SessionOptions, open_session, runtimes_for
from edgeopt.targets.registry import target_of


def _runtime_for(cfg: BenchConfig, path: Path) -> str | None:
    """--runtime applies to the formats it can run; the others keep their default runtime."""
    return cfg.runtime if cfg.runtime and cfg.runtime in runtimes_for(path) else None


def open_artifact(cfg: BenchConfig, path: Path):
    return open_session(path, *session_plan(cfg, path))


def session_plan(cfg: BenchConfig, path: Path):
    """(runtime, SessionOptions) to run an artifact as its target does (runtime, device, hints);
    options given on the command line override. Timing and the memory probe both use it."""
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
