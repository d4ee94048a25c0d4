"""Datasets from spec strings: ``sklearn:digits``, ``npz:file.npz``, ``py:file.py:function``.

Every dataset is split the same deterministic way (seed 0, 25% held out for evaluation,
stratified when there are labels), so calibration and training never see evaluation samples.
``SPEC@all`` uses every sample, for files that hold evaluation data only.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
from pathlib import Path

import numpy as np

from edgeopt.data.base import EVAL_FRACTION, SPLIT_SEED, Dataset
from edgeopt.errors import UsageError

SPLITS = ("train", "calib", "eval", "all")
KINDS_HINT = (
    "sklearn:digits, npz:path.npz, py:path.py:function, images:DIR, skimage:photos, "
    "text:FILE, jsonl:FILE or csv:FILE?label=COLUMN"
)

SKLEARN_SETS = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
    "iris": "load_iris",
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


DataRef = Dataset | str | None  # a loaded split, a spec string, or nothing


def data_ref_name(ref: DataRef) -> str | None:
    """The spec string of a data reference, as sidecars and cache keys record it."""
    return ref.spec if isinstance(ref, Dataset) else ref


def resolve_data(ref: DataRef, split: str, samples: int | None = None) -> Dataset | None:
    """A Dataset for `ref`: a spec is loaded (its `split`), a loaded Dataset is used as given.

    Steps take either, so a run resolves its data once and passes the objects down, while a
    single CLI step passes the user's spec. Evaluation data never serves as calibration or
    training data: a Dataset of the eval split given for those is refused.
    """
    if ref is None:
        return None
    if isinstance(ref, str):
        return load_dataset(ref, split, samples)
    if split in ("calib", "train") and ref.split == "eval":
        raise UsageError(
            f"the evaluation split of {ref.spec} was given as {split} data",
            "calibrate and train on the calib/train splits; evaluation samples stay unseen",
        )
    return ref if samples is None or len(ref) <= samples else ref.take(slice(0, samples))


def load_dataset(spec: str, split: str = "eval", samples: int | None = None) -> Dataset:
    """Load `spec` and return the requested split ("train", "calib", "eval" or "all").

    "calib" is drawn from the training part, never from evaluation samples.
    """
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    from edgeopt.data.hf_folder import bind

    spec = bind(spec)  # text and images of an hf: source: the spec names its tokenizer
    use_all = spec.endswith("@all")
    base = spec[: -len("@all")] if use_all else spec
    ds = dataclasses.replace(_load_raw_cached(base), spec=spec)
    if use_all or split == "all":
        out = ds
        out.split = "all"
    else:
        if len(ds) < 2:
            raise UsageError(
                f"{spec} holds {len(ds)} sample(s): too few to split into calibration and "
                "evaluation samples that never overlap",
                "give at least 2 samples (more for meaningful figures), or SPEC@all for eval data",
            )
        train, ev = _split_indices(len(ds), ds.labels)
        if split == "eval":
            out = ds.take(ev, "eval")
        else:
            out = ds.take(train, split)
            if split == "calib":
                perm = np.random.default_rng(SPLIT_SEED).permutation(len(out))
                out = out.take(perm, "calib")
    if not len(out):
        raise UsageError(
            f"the {split} split of {spec} is empty ({len(ds)} sample(s) in all)",
            "give more samples (each split needs at least one), or use SPEC@all for eval data",
        )
    if samples is not None:
        if samples > len(out) and split in ("calib", "train"):
            from edgeopt.core.progress import info

            info(
                f"[edgeopt] {spec}: {samples} {split} samples asked for, the {split} split has "
                f"{len(out)} ({len(ds)} in all); using {len(out)}"
            )
        out = out.take(slice(0, samples))
    return out


@functools.lru_cache(maxsize=8)
def _load_raw_cached(spec: str) -> Dataset:
    """Each spec is read and parsed once per process; splits are copies taken from it."""
    return _load_raw(spec)


def _load_raw(spec: str) -> Dataset:
    kind, _, rest = spec.partition(":")
    if not rest:
        raise UsageError(f"malformed dataset spec {spec!r}", f"use {KINDS_HINT}")
    if kind == "sklearn":
        return _sklearn(rest)
    if kind in ("npz", "py"):
        rest, drop = _nonfinite_option(rest)
        ds = _npz(Path(rest)) if kind == "npz" else _py(rest)
        return _checked(ds, drop)
    if kind in ("images", "skimage"):
        from edgeopt.data import images

        return images.load_folder(rest) if kind == "images" else images.load_skimage(rest)
    if kind in ("text", "jsonl"):
        from edgeopt.data import text

        return text.load(kind, rest)
    if kind == "csv":
        from edgeopt.data.tabular import load_csv

        return _checked(load_csv(rest), False)
    raise UsageError(f"unknown dataset kind {kind!r} in {spec!r}", f"use {KINDS_HINT}")


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
    arrays = {}
    for k in keys:
        try:
            arrays[k] = data[k]
        except ValueError as e:  # an object array: loading it would unpickle
            raise UsageError(
                f"array {k!r} in {path} holds Python objects ({e})",
                "store plain numeric arrays (numpy.savez with numeric dtypes); pickles are never loaded",
            ) from e
    return Dataset(
        f"npz:{path}", [arrays[k] for k in input_keys], arrays[label_key] if label_key else None
    )


NONFINITE_DROP = "nonfinite=drop"


def _nonfinite_option(rest: str) -> tuple[str, bool]:
    """`FILE?nonfinite=drop` drops samples holding NaN/inf instead of refusing the data."""
    base, sep, query = rest.partition("?")
    if not sep:
        return rest, False
    if query != NONFINITE_DROP:
        raise UsageError(
            f"unknown dataset option {query!r}", f"the only option here is ?{NONFINITE_DROP}"
        )
    return base, True


def _checked(ds: Dataset, drop_nonfinite: bool) -> Dataset:
    """User data that would silently poison calibration or evaluation is refused here, once:
    no samples, object or non-numeric arrays, NaN/inf (unless ?nonfinite=drop)."""
    for i, x in enumerate(ds.inputs):
        if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise UsageError(
                f"input array {i} of {ds.spec} has dtype {x.dtype}, not numbers",
                "store numeric arrays",
            )
        if x.ndim and len(x) == 0:
            raise UsageError(
                f"{ds.spec} holds 0 samples (input array {i})", "give at least one sample"
            )
    bad = np.zeros(len(ds), bool) if ds.inputs[0].ndim else np.zeros(0, bool)
    counts = []
    for i, x in enumerate(ds.inputs):
        if x.ndim and np.issubdtype(x.dtype, np.floating):
            nonfinite = ~np.isfinite(x)
            counts.append((i, int(nonfinite.sum())))
            if len(x) == len(bad):
                bad |= nonfinite.reshape(len(x), -1).any(axis=1)
    found = [(i, n) for i, n in counts if n]
    if not found:
        return ds
    described = ", ".join(f"input array {i}: {n} value(s)" for i, n in found)
    if not drop_nonfinite:
        raise UsageError(
            f"{ds.spec} holds NaN or inf ({described}); they would poison calibration and scores",
            f"clean the data, or append ?{NONFINITE_DROP} to drop those {int(bad.sum())} sample(s)",
        )
    keep = np.flatnonzero(~bad)
    if not len(keep):
        raise UsageError(f"every sample of {ds.spec} holds NaN or inf", "clean the data")
    from edgeopt.core.progress import info

    info(
        f"[edgeopt] {ds.spec}: dropped {int(bad.sum())} sample(s) holding NaN or inf ({described})"
    )
    return ds.take(keep)


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
