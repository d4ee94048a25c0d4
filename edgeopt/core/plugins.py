"""Resolving "package.module:attribute" references, the way entry points name objects.

Registries (formats, runtimes) name the code that implements a capability with such a
reference instead of importing it: a low layer can then say *which* exporter or runtime serves
a format without importing the higher layer that holds it, and nothing heavy is imported
until a capability is used.
"""

from __future__ import annotations

import importlib
from functools import cache


@cache
def load(ref: str) -> object:
    """The object named by `ref` ("pkg.mod:attr" or "pkg.mod" for the module itself)."""
    module_name, _, attr = ref.partition(":")
    module = importlib.import_module(module_name)
    obj: object = module
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj
