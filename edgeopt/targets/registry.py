"""The one registry of targets: a name -> instance dict built from the target classes."""

from __future__ import annotations

from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.errors import UsageError
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import Session
from edgeopt.targets.arm import ArmTarget
from edgeopt.targets.base import Target
from edgeopt.targets.cpu import CpuTarget
from edgeopt.targets.gpu import GpuTarget

TARGETS: dict[str, Target] = {t.name: t for t in (CpuTarget(), GpuTarget(), ArmTarget())}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(
            f"unknown target {name!r}", f"valid targets: {', '.join(TARGETS)}"
        ) from None


def target_of(path: Path) -> Target | None:
    """The target an artifact was compiled for (from its sidecar), if any."""
    art = Artifact.load(path)
    return TARGETS.get(art.target) if art and art.target else None


def open_target_session(path: Path) -> Session:
    """Open a compiled artifact the way its target runs it (runtime, device, hints).

    A gpu artifact on a machine without a GPU raises EdgeoptError saying so, instead of
    silently running on the CPU. Benchmarks and verify should open artifacts through this.
    """
    path = Path(path)
    art = Artifact.load(path)
    target = TARGETS.get(art.target) if art and art.target else None
    if target is None:
        return open_session(path)
    runtime, options = target.session_options(art)
    return open_session(path, runtime, options)
