"""Shaping data to a model's inputs: dataset arrays fitted to specs, or generated inputs.

Every check, export, calibration and benchmark feeds models through these, so "what was fed"
is decided in one place.
"""

from __future__ import annotations

import numpy as np

from edgeopt.core.spec import TensorSpec, numpy_dtype
from edgeopt.data.base import Dataset
from edgeopt.data.datasets import DataRef, resolve_data
from edgeopt.errors import UsageError


def fit_inputs(ds: Dataset, specs: list[TensorSpec]) -> list[np.ndarray]:
    """Shape the dataset's arrays to the model's inputs (reshape per sample, cast dtype).

    Fails before any timing or conversion when the sizes cannot match.
    """
    if len(ds.inputs) != len(specs):
        raise UsageError(
            f"dataset {ds.spec} has {len(ds.inputs)} input array(s), "
            f"the model takes {len(specs)} ({', '.join(s.name for s in specs)})",
            "give one array per model input",
        )
    out = []
    for arr, spec in zip(ds.inputs, specs):
        per_sample = spec.shape[1:]
        arr = _channels_first(arr, per_sample)
        if all(isinstance(d, int) for d in per_sample):
            want = int(np.prod(per_sample)) if per_sample else 1
            have = int(np.prod(arr.shape[1:])) if arr.ndim > 1 else 1
            if want != have:
                raise UsageError(
                    f"dataset {ds.spec} samples have shape {tuple(arr.shape[1:])} "
                    f"({have} values) but input {spec.name} expects {tuple(per_sample)} "
                    f"({want} values)",
                    "resize images with ?size=HxW (images:, skimage:)"
                    if ds.spec.startswith(("images:", "skimage:"))
                    else "use a dataset that matches the model's input, or check --input",
                )
            arr = arr.reshape((len(arr), *per_sample))
        out.append(np.ascontiguousarray(arr.astype(caller_dtype(spec), copy=False)))
    return out


def caller_dtype(spec: TensorSpec):
    """What callers feed: real values (float32) for a quantized int8 input, which the runtime
    adapter quantizes with the recorded scale and zero point; else the spec's own dtype."""
    return np.float32 if spec.extra.get("scale") else numpy_dtype(spec.dtype)


def _channels_first(arr: np.ndarray, per_sample: list) -> np.ndarray:
    """Images come as [N, H, W, C]; a model that wants [C, H, W] gets them transposed, never
    reshaped (a reshape would keep the element count and scramble every pixel)."""
    if arr.ndim != 4 or len(per_sample) != 3 or tuple(per_sample) == arr.shape[1:]:
        return arr
    c = arr.shape[-1]
    if per_sample[0] == c and all(
        d == s or not isinstance(d, int) for d, s in zip(per_sample[1:], arr.shape[1:3])
    ):
        return arr.transpose(0, 3, 1, 2)
    return arr


def random_inputs(
    specs: list[TensorSpec], batch: int, seed: int = 0, dims: dict[str, int] | None = None
) -> list[np.ndarray]:
    """Seeded random inputs inside each spec, for models with no known dataset.

    `dims` sizes named dynamic dims (e.g. {"sequence": 33}); others get UNKNOWN_DIM.
    """
    rng = np.random.default_rng(seed)
    out = []
    for s in specs:
        shape = s.concrete(batch=batch, **(dims or {}))
        dt = caller_dtype(s)
        if np.issubdtype(dt, np.floating):
            out.append(rng.standard_normal(shape).astype(dt))
        elif dt == np.bool_:
            out.append(rng.integers(0, 2, shape).astype(bool))
        else:
            out.append(
                _integer_input(s.name.lower(), shape, dt, rng, int(s.extra.get("max_value", 100)))
            )
    return out


def _integer_input(name: str, shape: tuple, dt, rng, hi: int) -> np.ndarray:
    """Integer inputs as text models expect them: masks of ones, zero token types, positions."""
    if "mask" in name:
        return np.ones(shape, dt)
    if "type" in name or "segment" in name:
        return np.zeros(shape, dt)
    if "position" in name and len(shape) >= 2:
        return np.broadcast_to(np.arange(shape[-1], dtype=dt), shape).copy()
    return rng.integers(0, hi, shape).astype(dt)


def sample_arrays(
    specs: list[TensorSpec],
    n: int,
    dataset: DataRef = None,
    example: list[np.ndarray] | None = None,
    seed: int = 0,
) -> tuple[list[np.ndarray], str]:
    """`n` inputs for checks: the dataset's eval split when one is known, else example inputs,
    else seeded random ones. Returns (arrays, description) so results say what was used."""
    if dataset:
        ds = resolve_data(dataset, "eval", samples=n)
        arrays = fit_inputs(ds, specs)
        if len(arrays[0]) < n:  # a tiny dataset: repeat samples to fill the batch
            arrays = [np.concatenate([a] * -(-n // len(a)))[:n] for a in arrays]
        return arrays, f"{ds.spec} ({ds.split} split, {n} samples)"
    if example is not None:
        arrays = [np.concatenate([e] * -(-n // len(e)))[:n] if e.ndim else e for e in example]
        return arrays, f"example inputs repeated to batch {n}"
    return random_inputs(specs, n, seed), f"seeded random inputs (seed {seed}, batch {n})"
