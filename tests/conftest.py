"""Shared fixtures: the real `optimize` executable, and exported artifacts reused across tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_cli(
    *args: str,
    cwd: Path | None = None,
    check: bool = False,
    timeout: int = 600,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run the installed `optimize` console script in a subprocess, as a user would."""
    exe = BIN / "optimize"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "edgeopt"]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run(
        [*cmd, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"optimize {' '.join(map(str, args))} failed ({proc.returncode}):\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """Export built-in models once per session: exported(model, fmt) -> Path."""
    from edgeopt.formats import get_format
    from edgeopt.models.source import load_source
    from edgeopt.optimize.export import ExportConfig, export_model

    root = tmp_path_factory.mktemp("exported")
    cache: dict[tuple[str, str], Path] = {}

    def get(model: str, fmt: str) -> Path:
        key = (model, fmt)
        if key not in cache:
            out = root / f"{model}{get_format(fmt).suffix}"
            export_model(load_source(f"builtin:{model}"), ExportConfig(to=fmt, output=out))
            cache[key] = out
        return cache[key]

    return get
