"""The `optimize` entry point: the group from app.py with every `*_cmd` verb module loaded.

Each verb module attaches itself to the group when imported, so there is no list of verbs to
keep in sync: adding a verb is adding one `cli/NAME_cmd.py`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from edgeopt.cli.app import fail
from edgeopt.cli.app import main as group
from edgeopt.errors import EdgeoptError


def _register_verbs() -> None:
    for mod in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if mod.name.endswith("_cmd"):
            importlib.import_module(f"edgeopt.cli.{mod.name}")


def main() -> None:
    """Load the verbs (their option choices read the registries, plugins included), then run."""
    try:
        _register_verbs()
    except EdgeoptError as e:  # a broken plugin, say: one line, like any other error
        fail(e, "--debug" in sys.argv)
    group()


__all__ = ["main"]
