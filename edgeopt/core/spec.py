"""Tensor specs: names, shapes with symbolic dims (``batch``), dtypes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from edgeopt.errors import UsageError

Dim = int | str  # an int, or a symbolic name such as "batch"
UNKNOWN_DIM = 16  # what a dynamic non-batch dim becomes in generated inputs

_DTYPES = {
    "float32": np.float32,
    "float16": np.float16,
    "float64": np.float64,
    "int64": np.int64,
    "int32": np.int32,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
}
_ALIASES = {
    "float": "float32",
    "fp32": "float32",
    "fp16": "float16",
    "half": "float16",
    "long": "int64",
    "int": "int32",
    "double": "float64",
}


def normalize_dtype(name: str | np.dtype | type) -> str:
    """Map any dtype spelling (numpy, torch, ONNX-ish) to one of our names."""
    text = str(name).replace("torch.", "").replace("tensor(", "").rstrip(")").lower()
    if text == "float":
        text = "float32"
    text = _ALIASES.get(text, text)
    if text not in _DTYPES:
        try:
            text = np.dtype(text).name
        except Exception:  # numpy parses odd strings ("01" raises SyntaxError): not a dtype
            pass
    if text not in _DTYPES:
        raise UsageError(f"unsupported dtype {name!r}", f"use one of: {', '.join(sorted(_DTYPES))}")
    return text


def numpy_dtype(name: str) -> type:
    return _DTYPES[normalize_dtype(name)]


@dataclass
class TensorSpec:
    """One input or output: name, shape (ints or symbolic names), dtype name."""

    name: str
    shape: list[Dim]
    dtype: str = "float32"
    extra: dict = field(default_factory=dict)  # e.g. int8 scale/zero point

    def __post_init__(self) -> None:
        self.dtype = normalize_dtype(self.dtype)
        self.shape = [d if isinstance(d, int) and d >= 0 else _symbol(d) for d in self.shape]

    @property
    def dynamic_dims(self) -> list[int]:
        return [i for i, d in enumerate(self.shape) if not isinstance(d, int)]

    def concrete(self, batch: int = 1, **dims: int) -> tuple[int, ...]:
        """A concrete shape: `batch` for symbolic dim 0 and dims named `batch`, `dims[name]` else.

        Any other unknown dim (a sequence length, say) becomes UNKNOWN_DIM, the same for every
        input, so that inputs sharing a dim still agree.
        """
        out = []
        for i, d in enumerate(self.shape):
            if isinstance(d, int):
                out.append(d)
            elif d == "batch" or (i == 0 and (d == "?" or d not in dims)):
                out.append(batch)
            elif d in dims:
                out.append(dims[d])
            else:
                out.append(UNKNOWN_DIM)
        return tuple(out)

    def with_batch(self, batch: Dim) -> TensorSpec:
        shape = list(self.shape)
        if shape:
            shape[0] = batch
        return TensorSpec(self.name, shape, self.dtype, dict(self.extra))

    def to_dict(self) -> dict:
        d = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.extra:
            d["extra"] = self.extra
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TensorSpec:
        return cls(d["name"], list(d["shape"]), d.get("dtype", "float32"), d.get("extra", {}))

    def __str__(self) -> str:
        return f"{self.name}:{'x'.join(str(d) for d in self.shape)}:{self.dtype}"


def _symbol(d: object) -> str:
    text = str(d) if d is not None else "?"
    if text in ("-1", "", "None", "?"):
        return "?"
    return text


_INPUT_RE = re.compile(r"^(?P<name>[^:]+):(?P<shape>[^:]*)(?::(?P<dtype>[A-Za-z0-9_]+))?$")


def parse_input_spec(text: str) -> TensorSpec:
    """Parse ``name:1x3x224x224:float32``; ``batch``, ``?`` or ``-1`` mark a dynamic dim."""
    m = _INPUT_RE.match(text.strip())
    if not m:
        raise UsageError(
            f"malformed --input {text!r}",
            "write it as name:DIMxDIM...:dtype, e.g. --input pixel_values:batchx3x224x224:float32",
        )
    dims: list[Dim] = []
    shape_text = m.group("shape")
    for part in shape_text.split("x") if shape_text else []:
        part = part.strip()
        if re.fullmatch(r"\d+", part):
            dims.append(int(part))
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|\?|-1", part):
            dims.append("?" if part in ("?", "-1") else part)
        else:
            raise UsageError(
                f"malformed dimension {part!r} in --input {text!r}",
                "each dimension is a number, 'batch', a name, or '?'",
            )
    spec = TensorSpec(m.group("name"), dims, m.group("dtype") or "float32")
    _check_size(spec, text)
    return spec


# One sample of one input above this is no edge model's input: a typo (an extra digit) that
# would otherwise surface as a memory error deep inside a step.
MAX_SAMPLE_BYTES = 2 * 2**30


def _check_size(spec: TensorSpec, text: str) -> None:
    if any(d == 0 for d in spec.shape):
        raise UsageError(
            f"--input {text!r} has a dimension of 0",
            "every dimension is at least 1; write 'batch' or '?' for a dynamic one",
        )
    per_sample = spec.concrete(batch=1)
    nbytes = int(np.prod(per_sample, dtype=np.float64)) * np.dtype(numpy_dtype(spec.dtype)).itemsize
    if nbytes > MAX_SAMPLE_BYTES:
        raise UsageError(
            f"--input {text!r} describes {nbytes / 2**30:.3g} GiB per sample "
            f"(limit {MAX_SAMPLE_BYTES // 2**30} GiB)",
            "check the dimensions for a typo",
        )


def specs_to_json(specs: list[TensorSpec]) -> list[dict]:
    return [s.to_dict() for s in specs]


def specs_from_json(items: list[dict]) -> list[TensorSpec]:
    return [TensorSpec.from_dict(d) for d in items]


def reconcile_inputs(
    declared: list[TensorSpec], given: list[TensorSpec] | None, where: str
) -> list[TensorSpec]:
    """The model's own input specs refined by the user's `--input`: a given spec may fix a dim
    the model leaves dynamic, but one that contradicts the model (count, dtype or a fixed dim)
    is an error naming both, so the sidecar and the file can never disagree."""
    if not given:
        return declared
    if not declared:
        return given
    both = (
        f"{where} takes {', '.join(map(str, declared))}; --input gave {', '.join(map(str, given))}"
    )
    if len(declared) != len(given):
        raise UsageError(
            f"--input conflicts with the model: {both}", "pass one --input per model input"
        )
    for d, g in zip(declared, given):
        fixed_differ = len(d.shape) != len(g.shape) or any(
            isinstance(a, int) and isinstance(b, int) and a != b
            for a, b in zip(d.shape[1:], g.shape[1:])
        )
        if d.dtype != g.dtype or fixed_differ:
            raise UsageError(
                f"--input {g} conflicts with the model's input {d} ({where})",
                "drop --input, or make it match the model's rank, fixed dims and dtype",
            )
    return given
