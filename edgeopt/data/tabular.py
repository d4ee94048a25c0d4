"""Tabular datasets: ``csv:FILE?label=COLUMN``.

The first row names the columns. Every column but the label is a float32 feature, in file
order ([N, features], one model input); the label column holds class ids (integers) or class
names (mapped to ids in sorted order). Bad cells are refused with their file and line.
"""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

from edgeopt.data.base import Dataset
from edgeopt.data.text import read_lines
from edgeopt.errors import UsageError


def load_csv(rest: str) -> Dataset:
    target, _, query = rest.partition("?")
    opts = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if set(opts) - {"label"}:
        raise UsageError(
            f"unknown csv: option {sorted(set(opts) - {'label'})[0]!r}", "use csv:FILE?label=COLUMN"
        )
    path = Path(target)
    if not path.is_file():
        raise UsageError(f"dataset file not found: {path}", "check the path after csv:")
    lines = read_lines(path)
    rows = list(csv.reader([s for _, s in lines]))
    header, body = rows[0], rows[1:]
    if not body:
        raise UsageError(f"{path} has a header but no rows", "add one sample a line")
    label_col = opts.get("label")
    if label_col is not None and label_col not in header:
        raise UsageError(
            f"label column {label_col!r} is not in {path} (columns: {', '.join(header)})",
            "name the label column with ?label=COLUMN",
        )
    li = header.index(label_col) if label_col is not None else None
    features = np.empty((len(body), len(header) - (li is not None)), np.float32)
    raw_labels = []
    for r, ((line, _), row) in enumerate(zip(lines[1:], body)):
        if len(row) != len(header):
            raise UsageError(
                f"{path} line {line} has {len(row)} cells, the header {len(header)}",
                "give every row one value per column",
            )
        values = [v for j, v in enumerate(row) if j != li]
        try:
            features[r] = [float(v) for v in values]
        except ValueError:
            bad = next(v for v in values if not _is_number(v))
            raise UsageError(
                f"{path} line {line}: {bad!r} is not a number", "feature columns hold numbers"
            ) from None
        if li is not None:
            raw_labels.append(row[li].strip())
    labels, names = _labels(raw_labels) if li is not None else (None, None)
    return Dataset(f"csv:{rest}", [features], labels, class_names=names)


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _labels(raw: list[str]) -> tuple[np.ndarray, list[str] | None]:
    try:
        return np.array([int(v) for v in raw], np.int64), None
    except ValueError:
        names = sorted(set(raw))
        index = {n: i for i, n in enumerate(names)}
        return np.array([index[v] for v in raw], np.int64), names
