"""Text datasets: ``text:FILE`` (one example per line) and ``jsonl:FILE`` (``text``, optional
``text_pair`` and ``label`` per line), tokenized with a Hugging Face folder's tokenizer.

Options after ``?``: ``max_length=N`` (default 128; every example is truncated and padded to
it, as a fixed-shape deployment feeds it) and ``tokenizer=DIR`` (filled in from the ``hf:``
source when left out, see hf_folder.bind). Blank lines are skipped. Bad data is refused with
the file and line: undecodable bytes, malformed JSON, a missing text, a label outside the
model's label set.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

from edgeopt.data import hf_folder
from edgeopt.data.base import Dataset
from edgeopt.errors import UsageError

OPTIONS = ("max_length", "tokenizer")


def parse(kind: str, rest: str) -> tuple[Path, dict]:
    target, _, query = rest.partition("?")
    opts = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise UsageError(
            f"unknown {kind}: option {unknown[0]!r}",
            f"use {' and '.join(o + '=' for o in OPTIONS)}, e.g. {kind}:FILE?max_length=128",
        )
    try:
        max_length = int(opts.get("max_length", hf_folder.DEFAULT_MAX_LENGTH))
    except ValueError:
        max_length = 0
    if max_length < 2:
        raise UsageError(
            f"max_length={opts['max_length']!r} in {kind}:{rest} is not a length >= 2",
            "e.g. ?max_length=128",
        )
    if not opts.get("tokenizer"):
        raise UsageError(
            f"{kind}: data needs a tokenizer, and {kind}:{rest} names none",
            "use it with an hf: model, or add &tokenizer=DIR (the model's folder) to the spec",
        )
    path = Path(target)
    if not path.is_file():
        raise UsageError(f"dataset file not found: {path}", f"check the path after {kind}:")
    return path, {"max_length": max_length, "tokenizer": Path(opts["tokenizer"])}


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every non-blank line; undecodable bytes name their line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UsageError(
            f"{path} line {line} is not UTF-8 text ({e.reason})", "save the file as UTF-8"
        ) from e
    lines = [(i, s.strip()) for i, s in enumerate(text.lstrip("\ufeff").splitlines(), 1)]
    lines = [(i, s) for i, s in lines if s]
    if not lines:
        raise UsageError(f"{path} is empty (no examples)", "give one example per line")
    return lines


def load(kind: str, rest: str) -> Dataset:
    path, opts = parse(kind, rest)
    lines = read_lines(path)
    if kind == "text":
        examples = [(s, None, None) for _, s in lines]
    else:
        examples = [_json_example(path, i, s) for i, s in lines]
    labels, names = _labels(path, lines, [e[2] for e in examples], opts["tokenizer"])
    arrays = tokenize(opts["tokenizer"], [e[0] for e in examples], [e[1] for e in examples], opts)
    return Dataset(
        f"{kind}:{rest}",
        list(arrays.values()),
        labels,
        class_names=names,
        names=list(arrays),
    )


def tokenize(folder: Path, texts: list[str], pairs: list, opts: dict) -> dict[str, np.ndarray]:
    """input_ids, attention_mask, token_type_ids as [N, max_length] int64 arrays."""
    tok = hf_folder.load_tokenizer(folder, opts["max_length"], pad_to=opts["max_length"])
    if any(p is not None for p in pairs):
        encs = tok.encode_batch([(t, p) if p is not None else t for t, p in zip(texts, pairs)])
    else:
        encs = tok.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encs], np.int64),
        "attention_mask": np.array([e.attention_mask for e in encs], np.int64),
        "token_type_ids": np.array([e.type_ids for e in encs], np.int64),
    }


def _json_example(path: Path, line: int, text: str) -> tuple[str, str | None, object]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(
            f"{path} line {line} is not JSON: {e.msg}", "write one object a line"
        ) from e
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"]:
        raise UsageError(
            f'{path} line {line} has no "text" string', 'write {"text": "...", "label": ...}'
        )
    pair = obj.get("text_pair")
    if pair is not None and not isinstance(pair, str):
        raise UsageError(f'{path} line {line}: "text_pair" is not a string', "make it a string")
    return obj["text"], pair, obj.get("label")


def _labels(path: Path, lines: list, values: list, folder: Path):
    """Class indices (and names) for the labels, checked against the model's label set."""
    given = [v is not None for v in values]
    if not any(given):
        return None, None
    if not all(given):
        line = lines[given.index(False)][0]
        raise UsageError(f"{path} line {line} has no label, others do", "label every line or none")
    label_set = hf_folder.label_set(folder)
    if label_set is None:
        raise UsageError(
            f"{path} has labels but the model in {folder} has no label set (config.json id2label)",
            "drop the labels, or use a classification model",
        )
    names: dict[int, str] = {}
    for name, i in label_set.items():
        names.setdefault(i, name)
    out = []
    for (line, _), v in zip(lines, values):
        idx = label_set.get(str(v)) if not isinstance(v, int) or isinstance(v, bool) else v
        if idx is None or idx not in names:
            raise UsageError(
                f"{path} line {line}: label {v!r} is not in the model's label set "
                f"({', '.join(names[i] for i in sorted(names))})",
                "use the model's label names or ids (config.json id2label)",
            )
        out.append(idx)
    return np.array(out, np.int64), [names[i] for i in sorted(names)]
