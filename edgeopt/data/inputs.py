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
from edgeopt.runtimes.base import batch_axes, sample_first_shape


def fit_inputs(ds: Dataset, specs: list[TensorSpec]) -> list[np.ndarray]:
    """Shape the dataset's arrays to the model's inputs (reshape per sample, cast dtype).

    Fails before any timing or conversion when the sizes cannot match. Data that names its
    arrays (tokenized text: input_ids, attention_mask, token_type_ids) gives each input its own.
    """
    if ds.names and all(s.name in ds.names for s in specs):
        ds = Dataset(ds.spec, [ds.inputs[ds.names.index(s.name)] for s in specs], ds.labels)
    if len(ds.inputs) != len(specs):
        raise UsageError(
            f"dataset {ds.spec} has {len(ds.inputs)} input array(s), "
            f"the model takes {len(specs)} ({', '.join(s.name for s in specs)})",
            "give one array per model input",
        )
    out = []
    for arr, spec, axis in zip(ds.inputs, specs, batch_axes(specs)):
        per_sample = per_sample_dims(spec, axis)
        arr = np.asarray(arr)
        if axis is None and arr.ndim == 0:  # one scalar for every sample
            arr = np.full(len(ds), arr)
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
                    else "set ?max_length= to the model's fixed sequence length"
                    if ds.spec.startswith(("text:", "jsonl:"))
                    else "use a dataset that matches the model's input, or check --input",
                )
            arr = arr.reshape((len(arr), *per_sample))
        out.append(np.ascontiguousarray(arr.astype(caller_dtype(spec), copy=False)))
    return out


def per_sample_dims(spec: TensorSpec, axis: int | None) -> list:
    """One sample's dims: the spec without its batch axis (nothing for a scalar input)."""
    if axis is None:
        return []
    return [d for i, d in enumerate(spec.shape) if i != axis]


def describe_shapes(arrays: list[np.ndarray], specs: list[TensorSpec]) -> str:
    """What was fed, for messages: `x 1x3x16x16 float32, sr scalar int64`."""
    parts = []
    for s, a in zip(specs, arrays):
        shape = "x".join(map(str, np.shape(a))) or "scalar"
        parts.append(f"{s.name} {shape} {np.asarray(a).dtype}")
    return ", ".join(parts)


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
    for s, axis in zip(specs, batch_axes(specs)):
        # sample-first (see runtimes.base.batch_axes): the session moves samples into place
        shape = sample_first_shape(s.concrete(batch=batch, **(dims or {})), axis, batch)
        if axis is None:  # a scalar is a setting (a sample rate): one value for the batch
            shape = ()
        dt = caller_dtype(s)
        if np.issubdtype(dt, np.floating):
            out.append(rng.standard_normal(shape).astype(dt))
        elif dt == np.bool_:
            out.append(rng.integers(0, 2, shape).astype(bool))
        else:
            out.append(
                _integer_input(s.name.lower(), shape, dt, rng, int(s.extra.get("max_value", 100)))
            )
        if axis is None:
            out[-1] = np.full(batch, out[-1])
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
        # a tiny dataset is used as it is: repeating samples would only pretend to more
        return arrays, f"{ds.spec} ({ds.split} split, {len(arrays[0])} samples)"
    if example is not None:
        firsts = [
            np.full(1, e) if ax is None and not np.ndim(e) else np.moveaxis(e, ax or 0, 0)
            for e, ax in zip(map(np.asarray, example), batch_axes(specs))
        ]
        arrays = [np.concatenate([e] * -(-n // len(e)))[:n] for e in firsts]
        return arrays, f"example inputs repeated to batch {n} ({describe_shapes(arrays, specs)})"
    arrays = random_inputs(specs, n, seed)
    return arrays, f"seeded random inputs (seed {seed}: {describe_shapes(arrays, specs)})"
