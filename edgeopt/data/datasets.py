"""Datasets from spec strings: ``sklearn:digits``, ``npz:file.npz``, ``py:file.py:function``.

Every dataset is split the same deterministic way (seed 0, 25% held out for evaluation,
stratified when there are labels), so calibration and training never see evaluation samples.
``SPEC@all`` uses every sample, for files that hold evaluation data only.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeopt.core.spec import TensorSpec, numpy_dtype
from edgeopt.errors import UsageError

EVAL_FRACTION = 0.25
SPLIT_SEED = 0
SPLITS = ("train", "calib", "eval", "all")

SKLEARN_SETS = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
    "iris": "load_iris",
}


@dataclass
class Dataset:
    """Samples (one array per model input, first axis = sample) and optional labels."""

    spec: str
    inputs: list[np.ndarray]
    labels: np.ndarray | None
    split: str = "all"
    class_names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.inputs[0])

    def take(self, idx: np.ndarray | slice, split: str | None = None) -> Dataset:
        return Dataset(
            self.spec,
            [x[idx] for x in self.inputs],
            None if self.labels is None else self.labels[idx],
            split or self.split,
            self.class_names,
        )

    def batches(self, batch: int) -> list[list[np.ndarray]]:
        return [[x[i : i + batch] for x in self.inputs] for i in range(0, len(self), batch)]

    def describe(self) -> dict:
        return {
            "spec": self.spec,
            "split": self.split,
            "samples": len(self),
            "rule": f"seed {SPLIT_SEED}, {int(EVAL_FRACTION * 100)}% held out for eval"
            if self.split != "all"
            else "all samples",
        }


def _split_indices(n: int, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    stratify = labels if labels is not None and _stratifiable(labels) else None
    train, ev = train_test_split(
        idx, test_size=EVAL_FRACTION, random_state=SPLIT_SEED, stratify=stratify
    )
    return np.sort(train), np.sort(ev)


def _stratifiable(labels: np.ndarray) -> bool:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        return False
    _, counts = np.unique(labels, return_counts=True)
    return len(counts) > 1 and counts.min() >= 2


def load_dataset(spec: str, split: str = "eval", samples: int | None = None) -> Dataset:
    """Load `spec` and return the requested split ("train", "calib", "eval" or "all").

    "calib" is drawn from the training part, never from evaluation samples.
    """
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    use_all = spec.endswith("@all")
    base = spec[: -len("@all")] if use_all else spec
    ds = _load_raw(base)
    ds.spec = spec
    if use_all or split == "all":
        out = ds
        out.split = "all"
    else:
        train, ev = _split_indices(len(ds), ds.labels)
        if split == "eval":
            out = ds.take(ev, "eval")
        else:
            out = ds.take(train, split)
            if split == "calib":
                perm = np.random.default_rng(SPLIT_SEED).permutation(len(out))
                out = out.take(perm, "calib")
    if samples is not None:
        out = out.take(slice(0, samples))
    return out


def _load_raw(spec: str) -> Dataset:
    kind, _, rest = spec.partition(":")
    if not rest:
        raise UsageError(
            f"malformed dataset spec {spec!r}",
            "use sklearn:digits, npz:path.npz, py:path.py:function, images:DIR or skimage:photos",
        )
    if kind == "sklearn":
        return _sklearn(rest)
    if kind == "npz":
        return _npz(Path(rest))
    if kind == "py":
        return _py(rest)
    if kind in ("images", "skimage"):
        from edgeopt.data import images

        return images.load_folder(rest) if kind == "images" else images.load_skimage(rest)
    raise UsageError(
        f"unknown dataset kind {kind!r} in {spec!r}", "use sklearn:, npz: or py: datasets"
    )


def _sklearn(name: str) -> Dataset:
    import sklearn.datasets as skd

    if name not in SKLEARN_SETS:
        raise UsageError(
            f"unknown scikit-learn dataset {name!r}", f"use one of {', '.join(SKLEARN_SETS)}"
        )
    bunch = getattr(skd, SKLEARN_SETS[name])()
    names = [str(c) for c in getattr(bunch, "target_names", [])] or None
    return Dataset(
        f"sklearn:{name}",
        [bunch.data.astype(np.float32)],
        bunch.target.astype(np.int64),
        class_names=names,
    )


def _npz(path: Path) -> Dataset:
    if not path.exists():
        raise UsageError(f"dataset file not found: {path}", "check the path after npz:")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise UsageError(f"cannot read {path} as .npz: {e}", "save it with numpy.savez") from e
    keys = list(data.keys())
    label_key = next((k for k in ("labels", "y", "label", "targets") if k in keys), None)
    input_keys = [k for k in keys if k != label_key]
    if not input_keys:
        raise UsageError(f"{path} holds no input arrays", "store inputs as x=... or by input name")
    return Dataset(
        f"npz:{path}", [data[k] for k in input_keys], data[label_key] if label_key else None
    )


def _py(rest: str) -> Dataset:
    target, _, func = rest.rpartition(":")
    if not target or not func:
        raise UsageError(f"malformed py: dataset {rest!r}", "use py:path/to/file.py:function")
    if target.endswith(".py"):
        path = Path(target)
        if not path.exists():
            raise UsageError(f"dataset script not found: {path}", "check the path after py:")
        mspec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(mspec)
        mspec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    result = getattr(module, func)()
    x, y = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
    xs = [np.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]
    return Dataset(f"py:{rest}", xs, None if y is None else np.asarray(y))


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


def random_inputs(specs: list[TensorSpec], batch: int, seed: int = 0) -> list[np.ndarray]:
    """Seeded random inputs inside each spec, for models with no known dataset."""
    rng = np.random.default_rng(seed)
    out = []
    for s in specs:
        shape = s.concrete(batch=batch)
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
    dataset: str | None = None,
    example: list[np.ndarray] | None = None,
    seed: int = 0,
) -> tuple[list[np.ndarray], str]:
    """`n` inputs for checks: the dataset's eval split when one is known, else example inputs,
    else seeded random ones. Returns (arrays, description) so results say what was used."""
    if dataset:
        arrays = fit_inputs(load_dataset(dataset, "eval", samples=n), specs)
        if len(arrays[0]) < n:  # a tiny dataset: repeat samples to fill the batch
            arrays = [np.concatenate([a] * -(-n // len(a)))[:n] for a in arrays]
        return arrays, f"{dataset} (eval split, {n} samples)"
    if example is not None:
        arrays = [np.concatenate([e] * -(-n // len(e)))[:n] if e.ndim else e for e in example]
        return arrays, f"example inputs repeated to batch {n}"
    return random_inputs(specs, n, seed), f"seeded random inputs (seed {seed}, batch {n})"
