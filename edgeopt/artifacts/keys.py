"""Cache keys: what a step's output depends on, written out in full so nothing stale is reused.

A key covers the parent's content, the step, its whole resolved configuration (every field of
the config dataclass, defaults included, and the content of the data it reads) and the version
of every tool that could have produced the file. Leaving any of these out lets an upgrade, a
changed default or edited calibration data silently reuse an artifact made under other terms.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import PurePath
from typing import Any

from edgeopt.artifacts.artifact import tool_versions

KEY_SCHEMA = 2  # bump when the key material changes shape: old entries are then never hit
_DIGESTS: dict[int, tuple[object, str]] = {}  # id(dataset) -> (the dataset, its content hash)


def _is_dataset(obj: object) -> bool:
    """Duck-typed: data.Dataset lives above this layer (spec, split, arrays per input)."""
    return all(hasattr(obj, a) for a in ("spec", "split", "inputs", "labels"))


def _array_digest(h: Any, arr: Any) -> None:
    h.update(f"{getattr(arr, 'dtype', '')}{getattr(arr, 'shape', '')}".encode())
    h.update(arr.tobytes() if hasattr(arr, "tobytes") else repr(arr).encode())


def dataset_digest(ds: Any) -> str:
    """sha256 of a loaded split's arrays: a data file edited under the same spec is new data.
    Memoised per object, since a run shares one loaded split between all its steps."""
    seen = _DIGESTS.get(id(ds))
    if seen is not None and seen[0] is ds:
        return seen[1]
    h = hashlib.sha256()
    for x in ds.inputs:
        _array_digest(h, x)
    if ds.labels is not None:
        _array_digest(h, ds.labels)
    h.update(repr(getattr(ds, "class_names", None)).encode())
    digest = h.hexdigest()
    if len(_DIGESTS) > 32:  # a process loads a handful of splits; never hold many alive
        _DIGESTS.clear()
    _DIGESTS[id(ds)] = (ds, digest)
    return digest


def canonical(obj: Any) -> Any:
    """A JSON-able, deterministic description of a configuration value (dataclasses in full)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Enum):
        return canonical(obj.value)
    if isinstance(obj, PurePath):
        return str(obj)
    if _is_dataset(obj):
        return {"dataset": obj.spec, "split": obj.split, "sha256": dataset_digest(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"__type__": type(obj).__qualname__, **fields}
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((canonical(v) for v in obj), key=repr)
    if hasattr(obj, "tobytes"):  # an array: its content, not its repr
        h = hashlib.sha256()
        _array_digest(h, obj)
        return {"array": h.hexdigest()}
    return f"{type(obj).__qualname__}:{obj}"


def cache_key(
    parent_id: str, step: str, params: Any, tools: dict[str, str | None] | None = None
) -> str:
    """Stable id of a step's output: what went in, what was done with which full settings,
    and by which tool versions (tool_versions(), the same map every sidecar records)."""
    material = {
        "schema": KEY_SCHEMA,
        "parent": parent_id,
        "step": step,
        "params": canonical(params),
        "tools": canonical(tool_versions() if tools is None else tools),
    }
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]
