"""The one interface every runtime implements; parity, benchmarks and verify all use it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.errors import UsageError


@dataclass
class SessionOptions:
    threads: int | None = None  # None: the runtime's default
    device: str = "cpu"  # cpu | gpu
    precision: str | None = None  # runtime precision hint, e.g. OpenVINO "f32" or "bf16"
    provider: str | None = None  # ONNX Runtime execution provider override
    cache_dir: str | None = None
    hint: str | None = None  # OpenVINO PERFORMANCE_HINT (latency | throughput); default latency
    # ONNX Runtime's worker threads spin after each run by default; with several sessions
    # measured in turn (interleaved benchmarks) the idle ones' spinning steals the cores the
    # running one needs (measured: self-vs-self ratio CIs of +-25% instead of +-2% on 2 cores)
    spin: bool = False


# for parity and accuracy checks: OpenVINO would otherwise run bf16 on CPUs that have it
PARITY_OPTIONS = SessionOptions(precision="f32")


def batch_axes(specs: list[TensorSpec]) -> list[int | None]:
    """Where the samples of a batch lie in each input: None for a scalar (rank 0), the dim
    named ``batch`` wherever it is (a recurrent state ``[layers, batch, hidden]``), the dim
    that shares another input's batch symbol, else axis 0.

    Every array handed to `Session.run` is sample-first (axis 0 = sample, a scalar input one
    value per sample); the session moves samples to these axes, so slicing, padding and
    repeating batches is the same for every input everywhere else.
    """
    firsts = {s.shape[0] for s in specs if s.shape and not isinstance(s.shape[0], int)}
    firsts.discard("?")
    out: list[int | None] = []
    for s in specs:
        if not s.shape:
            out.append(None)
        elif "batch" in s.shape:
            out.append(s.shape.index("batch"))
        elif not isinstance(s.shape[0], int):
            out.append(0)
        else:
            shared = [i for i, d in enumerate(s.shape) if isinstance(d, str) and d in firsts]
            out.append(shared[0] if shared else 0)
    return out


def sample_first_shape(shape: tuple[int, ...], axis: int | None, n: int) -> tuple[int, ...]:
    """The sample-first shape of a model-layout shape whose batch lies on `axis`."""
    if axis is None:
        return (n,)
    rest = list(shape)
    del rest[axis]
    return (n, *rest)


def model_layout(specs: list[TensorSpec], arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Sample-first arrays as the model takes them: samples moved to each input's batch axis,
    a scalar input given as a scalar (its samples must agree; `Session.run` groups them)."""
    out = []
    for s, a, ax in zip(specs, arrays, batch_axes(specs)):
        a = np.asarray(a)
        if ax is None:
            a = a.reshape(-1)[0] if a.ndim else a
            out.append(np.asarray(a))
        elif ax and a.ndim == len(s.shape):
            out.append(np.ascontiguousarray(np.moveaxis(a, 0, ax)))
        else:
            out.append(a)
    return out


def _n_samples(specs: list[TensorSpec], arrays: list[np.ndarray]) -> int:
    axes = batch_axes(specs)
    sized = [a for a, ax in zip(arrays, axes) if ax is not None and np.ndim(a)]
    if sized:
        return len(sized[0])
    return max((len(a) for a in arrays if np.ndim(a)), default=1)


class Session(ABC):
    """A loaded model ready to run: `run(list of arrays in input order) -> list of outputs`."""

    runtime: str = "?"
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    fixed_batch: int | None = None  # set for runtimes/models that only take one batch size

    def __init__(self, options: SessionOptions | None = None):
        self.options = options or SessionOptions()

    @abstractmethod
    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Run one batch that the model accepts as is."""

    def run(self, arrays: list[np.ndarray] | dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run a batch of any size: a fixed-batch model is run in chunks (the last padded)."""
        if isinstance(arrays, dict):
            arrays = [arrays[s.name] for s in self.inputs]
        if len(arrays) != len(self.inputs):
            raise UsageError(
                f"{self.runtime} model takes {len(self.inputs)} input(s) "
                f"({', '.join(s.name for s in self.inputs)}), got {len(arrays)}",
                "give one array per input",
            )
        specs = self.layout_specs()
        arrays = [np.asarray(a) for a in arrays]
        n = _n_samples(specs, arrays)
        fb = self.fixed_batch
        if self._scalars_differ(specs, arrays, n):
            fb = 1  # a scalar input (a sample rate, say) cannot vary inside one batch
        if not fb or n == fb:
            return self._run(model_layout(specs, arrays))
        chunks: list[list[np.ndarray]] = []
        for i in range(0, n, fb):
            part = [a[i : i + fb] if a.ndim else a for a in arrays]
            real = min(fb, n - i)
            if real < fb:  # pad with copies of the last sample, then drop them
                part = [
                    np.concatenate([p, np.repeat(p[-1:], fb - real, axis=0)]) if p.ndim else p
                    for p in part
                ]
            outs = self._run(model_layout(specs, part))
            chunks.append([_take(o, ax, real) for o, ax in zip(outs, self._out_axes(outs))])
        return [
            np.concatenate([c[k] for c in chunks], axis=ax or 0)
            if np.ndim(chunks[0][k])
            else chunks[0][k]
            for k, ax in zip(range(len(chunks[0])), self._out_axes(chunks[0]))
        ]

    declared_inputs: list[TensorSpec] | None = None  # the sidecar's specs (set by open_session)
    declared_outputs: list[TensorSpec] | None = None

    def layout_specs(self) -> list[TensorSpec]:
        """The specs that place each input's samples: the sidecar's when they fit the file
        (a user's --input may name a batch axis the file leaves anonymous), else the file's."""
        d = self.declared_inputs
        if (
            d
            and len(d) == len(self.inputs)
            and all(len(a.shape) == len(b.shape) for a, b in zip(d, self.inputs))
        ):
            return d
        return self.inputs

    def _out_axes(self, outs: list[np.ndarray]) -> list[int | None]:
        d = self.declared_outputs
        specs = d if d and len(d) == len(self.outputs) else self.outputs
        if len(specs) != len(outs):
            return [0] * len(outs)
        axes = []
        for s, ax in zip(specs, batch_axes(specs)):
            dyn = s.dynamic_dims
            if ax == 0 and s.shape and isinstance(s.shape[0], int) and len(dyn) == 1:
                ax = dyn[0]  # [layers, ?, hidden]: the one dynamic dim is the batch
            axes.append(ax)
        return [ax if ax is None or ax < np.ndim(o) else 0 for ax, o in zip(axes, outs)]

    @staticmethod
    def _scalars_differ(specs, arrays, n: int) -> bool:
        return any(
            ax is None and a.ndim and a.size > 1 and not np.all(a == a.reshape(-1)[0])
            for a, ax in zip(arrays, batch_axes(specs))
        )

    @property
    def version(self) -> str:
        return ""

    def describe(self) -> dict:
        """What this session is: recorded with every measurement."""
        return {
            "runtime": self.runtime,
            "version": self.version,
            "device": self.options.device,
            "threads": self.options.threads,
            "precision": self.precision_in_effect(),
            "fixed_batch": self.fixed_batch,
        }

    def precision_in_effect(self) -> str | None:
        return self.options.precision

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def _take(a: np.ndarray, axis: int | None, n: int) -> np.ndarray:
    """The first `n` samples of an output whose batch lies on `axis`."""
    if axis is None or not np.ndim(a):
        return a
    return np.take(a, range(n), axis=axis)
