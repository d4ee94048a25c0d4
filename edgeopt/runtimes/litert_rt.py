"""LiteRT (TFLite) interpreter sessions; int8 inputs/outputs are (de)quantized for the caller."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.core.progress import quiet
from edgeopt.core.spec import TensorSpec
from edgeopt.core.text import first_line, natural_key
from edgeopt.errors import UsageError
from edgeopt.runtimes.base import Session, SessionOptions


class LiteRTSession(Session):
    runtime = "litert"

    def __init__(self, path: Path, options: SessionOptions | None = None):
        super().__init__(options)
        from ai_edge_litert.interpreter import Interpreter

        try:
            with quiet():
                self.interp = Interpreter(
                    model_path=str(path), num_threads=self.options.threads or None
                )
        except Exception as e:
            raise UsageError(
                f"LiteRT cannot load {path}: {first_line(e, 300, with_type=False)}",
                "check the file is a complete .tflite model",
            ) from e
        self._in, self._out = self._ordered_details()
        self.inputs = _named(path, "inputs", [_spec(d) for d in self._in])
        self.outputs = _named(path, "outputs", [_spec(d) for d in self._out])
        shaped = [d for d in self._in if len(d["shape"])]
        self._batch = int(shaped[0]["shape"][0]) if shaped else None
        self._shapes = {d["index"]: list(d["shape"]) for d in self._in}
        self._current = self._batch
        self.fixed_batch = None  # resized on demand; falls back to chunks if resizing fails
        with quiet():
            self.interp.allocate_tensors()

    def _ordered_details(self) -> tuple[list[dict], list[dict]]:
        """Inputs/outputs in signature order (args_0, args_1, ... / output_0, ...) when known."""
        details_in = self.interp.get_input_details()
        details_out = self.interp.get_output_details()
        sigs = self.interp.get_signature_list()
        if len(sigs) == 1:
            key = next(iter(sigs))
            runner = self.interp.get_signature_runner(key)
            rin, rout = runner.get_input_details(), runner.get_output_details()
            by_index_in = {d["index"]: d for d in details_in}
            by_index_out = {d["index"]: d for d in details_out}
            ins = [by_index_in[rin[k]["index"]] for k in sorted(rin, key=natural_key)]
            outs = [by_index_out[rout[k]["index"]] for k in sorted(rout, key=natural_key)]
            return ins, outs
        return details_in, details_out

    @property
    def version(self) -> str:
        from importlib import metadata

        return metadata.version("ai-edge-litert")

    def describe(self) -> dict:
        d = super().describe()
        d["fixed_batch"] = self._batch
        return d

    def _resize(self, n: int) -> bool:
        """Resize every input's batch to n; on failure restore the exported batch."""
        if self._current == n:
            return True
        try:
            self._set_batch(n)
            return True
        except Exception:
            self._set_batch(self._batch)
            return False

    def _set_batch(self, n: int) -> None:
        for d in self._in:
            shape = list(self._shapes[d["index"]])
            if not shape:  # a scalar input has no batch
                continue
            shape[0] = n
            self.interp.resize_tensor_input(d["index"], shape)
        self.interp.allocate_tensors()
        self._current = n

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        n = next((len(a) for a in arrays if np.ndim(a)), 1)
        if self._batch is not None and not self._resize(n):
            self.fixed_batch = self._batch
            return self.run(arrays)
        for d, a in zip(self._in, arrays):
            self.interp.set_tensor(d["index"], _quantize(a, d))
        self.interp.invoke()
        outs = [_dequantize(self.interp.get_tensor(d["index"]), d) for d in self._out]
        if self._batch is not None and n != self._batch and self._batch_baked_in(outs, n):
            self.fixed_batch = self._batch  # one exported batch at a time from now on
            self._set_batch(self._batch)
            return self.run(arrays)
        return outs

    def _batch_baked_in(self, outs: list[np.ndarray], n: int) -> bool:
        """A graph whose RESHAPE ops hard-code the exported batch resizes without error but
        folds the samples into another dim ([1, 57344, 16] for 64 x [1, 896, 16]): an output
        that had the exported batch on axis 0 must now have n there."""
        return any(
            len(d["shape"]) and int(d["shape"][0]) == self._batch and (o.ndim == 0 or len(o) != n)
            for d, o in zip(self._out, outs)
        )


def _named(path: Path, which: str, specs: list[TensorSpec]) -> list[TensorSpec]:
    """Converters rename TFLite tensors (serving_default_args_0, ...): use the names the
    sidecar records, so inputs are addressed the same way in every format."""
    from edgeopt.artifacts.artifact import Artifact

    try:
        art = Artifact.load(path)
    except Exception:
        return specs
    declared = getattr(art, which, None) if art else None
    if not declared or len(declared) != len(specs):
        return specs
    for s, d in zip(specs, declared):
        s.extra = {**s.extra, "runtime_name": s.name}
        s.name = d.name
    return specs


def _spec(d: dict) -> TensorSpec:
    shape = [int(x) for x in d["shape"]]
    extra = {}
    scale, zero = d.get("quantization", (0.0, 0))
    if scale:
        extra = {"scale": float(scale), "zero_point": int(zero)}
    # the caller always sees float when the tensor is quantized
    dtype = "float32" if scale else np.dtype(d["dtype"]).name
    return TensorSpec(d["name"], shape, dtype, extra)


def _quantize(a: np.ndarray, d: dict) -> np.ndarray:
    scale, zero = d.get("quantization", (0.0, 0))
    dt = np.dtype(d["dtype"])
    if scale and np.issubdtype(dt, np.integer) and np.issubdtype(a.dtype, np.floating):
        info = np.iinfo(dt)
        return np.clip(np.round(a / scale + zero), info.min, info.max).astype(dt)
    return a.astype(dt, copy=False)


def _dequantize(a: np.ndarray, d: dict) -> np.ndarray:
    scale, zero = d.get("quantization", (0.0, 0))
    if scale and np.issubdtype(a.dtype, np.integer):
        return (a.astype(np.float32) - zero) * scale
    return np.array(a)
