"""What one benchmark run is asked to do, and one artifact's state while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeopt.bench.budgets import Budgets
from edgeopt.data import DataRef
from edgeopt.metrics import latency as lat

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
    data: DataRef = None
    latency: lat.LatencyConfig = field(default_factory=lat.LatencyConfig)
    memory: bool = True
    accuracy: bool = True
    baseline_results: str | None = None
    budgets: Budgets | None = None
    on_inconclusive: str = "fail"
    target: str | None = None
    progress: bool = True
    kinds: dict[str, str] | None = None  # output name -> quality kind, overriding detection
    allow_different_baseline: bool = False  # else a baseline of another model/data is refused


@dataclass
class Entry:
    name: str
    path: Path
    role: str
    result: dict
    session: object = None
    arrays: list[np.ndarray] | None = None
    dataset: object = None
