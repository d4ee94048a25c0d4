"""Where candidate builds run: here one after another (`local`), or as Ray tasks (`ray`).

Only builds fan out. Each Ray task runs `Builder.build_into` for one candidate in a worker
that holds its own Builder (the model and data loaded once per worker); intermediate steps go
through the content-addressed cache, whose per-key locks make a step two candidates share
(the export every quantized variant starts from) build once while the other waits. Results
come back in the recipe's candidate order whatever order they finish in, so the choice never
depends on scheduling; timing stays on the one timing host or device, after every build
(run.runner), never in concurrent workers. A worker that dies mid-build is retried by Ray
(max_retries); a rerun after an interrupted run takes every finished step from the cache.

Multi-node: the cache folder and the run folder must be on storage every node mounts at the
same path (the README says how); the driver checks that each artifact arrived.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.run.build import Builder, Built
from edgeopt.run.recipe import Candidate

EXECUTORS = ("local", "ray")
MAX_RETRIES = 2  # a worker process or node that dies mid-build: the task runs again

Job = tuple[Candidate, Path]


def _here(kind: str, node_id: str | None = None) -> dict:
    return {"executor": kind, "node_id": node_id, "host": socket.gethostname(), "pid": os.getpid()}


class LocalExecutor:
    """Builds in this process, in order (the default)."""

    name = "local"
    hits = misses = 0  # counted by the driver's own cache

    def __init__(self) -> None:
        self.where: dict[str, dict] = {}  # dest folder -> where it was built

    def describe(self) -> dict:
        return {"executor": self.name}

    def build_all(self, builder: Builder, jobs: list[Job], on_done: Callable = lambda: None):
        out = []
        for cand, dest in jobs:
            out.append(builder.build_into(cand, dest))
            self.where[str(dest)] = _here(self.name)
            on_done()
        return out

    def close(self) -> None:
        pass


_BUILDERS: dict[tuple, Builder] = {}  # per Ray worker process: one Builder per recipe + cache


def _ray_build(recipe, cache_root: str, cand: Candidate, dest: str) -> tuple[Built, dict]:
    """One Ray task: build `cand` into `dest` in this worker (its Builder kept for the next)."""
    import ray

    from edgeopt.artifacts.cache import ArtifactCache

    key = (recipe.text, str(recipe.path), cache_root)
    if key not in _BUILDERS:
        _BUILDERS[key] = Builder(recipe, ArtifactCache(Path(cache_root)))
    built = _BUILDERS[key].build_into(cand, Path(dest))
    return built, _here("ray", ray.get_runtime_context().get_node_id())


class RayExecutor:
    """Candidate builds as Ray tasks on a local runtime (started here) or a cluster."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError as e:
            raise UsageError(
                "--executor ray needs Ray, which is not installed",
                "pip install 'edgeopt[ray]' (or pip install ray)",
            ) from e
        self.ray = ray
        self.where: dict[str, dict] = {}
        self.hits = self.misses = 0
        self.started = not ray.is_initialized()
        kw: dict = {"log_to_driver": False, "include_dashboard": False}
        if address:
            kw["address"] = address
        elif num_cpus:
            kw["num_cpus"] = num_cpus
        try:
            if self.started:
                ray.init(**kw)
        except Exception as e:  # a bad address, a cluster that does not answer
            raise EdgeoptError(
                f"cannot start or join Ray ({address or 'local runtime'}): {e}",
                "check --ray-address (ray://HOST:10001 or HOST:6379 of the head node)"
                if address
                else "check that this machine can start Ray (ray start --head works?)",
            ) from e
        self.remote = ray.remote(max_retries=MAX_RETRIES, num_cpus=1)(_ray_build)

    def describe(self) -> dict:
        r = self.ray
        nodes = [n for n in r.nodes() if n.get("Alive")]
        return {
            "executor": self.name,
            "nodes": len(nodes),
            "cpus": int(r.cluster_resources().get("CPU", 0)),
            "driver_node_id": r.get_runtime_context().get_node_id(),
        }

    def build_all(self, builder: Builder, jobs: list[Job], on_done: Callable = lambda: None):
        """Submit every job, then collect in job order (deterministic, whatever finishes
        first); `on_done` is called as each finishes, for the progress bar."""
        r = self.ray
        recipe = r.put(builder.recipe)
        cache = str(builder.cache.root)
        refs = [self.remote.remote(recipe, cache, c, str(d)) for c, d in jobs]
        pending = list(refs)
        while pending:
            ready, pending = r.wait(pending, num_returns=1)
            on_done()
        out = []
        for (cand, dest), ref in zip(jobs, refs):
            try:
                built, where = r.get(ref)
            except r.exceptions.RayError as e:  # retries used up: recorded like a failed build
                msg = str(e).strip().splitlines()[-1][:300] if str(e).strip() else type(e).__name__
                built, where = Built(cand, error=f"Ray task failed: {msg}", failure="RayError"), {}
            if built.path is not None and not Path(built.path).exists():
                built = Built(
                    cand,
                    error=f"built on {where.get('host')} but {built.path} is not visible here: "
                    "the run and cache folders must be on storage shared by every node",
                    failure="RayError",
                )
            self.where[str(dest)] = where
            for st in built.steps:  # counted in the workers' caches, not the driver's
                self.hits += st["cache"] == "hit"
                self.misses += st["cache"] != "hit"
            out.append(built)
        return out

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def make_executor(name: str, address: str | None = None, cpus: int | None = None):
    if name not in EXECUTORS:
        raise UsageError(f"unknown executor {name!r}", f"use {' or '.join(EXECUTORS)}")
    if (address or cpus) and name != "ray":
        raise UsageError("--ray-address and --ray-cpus need --executor ray", "add --executor ray")
    return RayExecutor(address, cpus) if name == "ray" else LocalExecutor()
