"""OpenVINO sessions, per device; precision hint recorded (this CPU defaults to bf16)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.core.text import first_line
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.runtimes.base import Session, SessionOptions


def _core():
    import openvino as ov

    return ov.Core()


def ov_devices() -> list[str]:
    return _core().available_devices


class OpenVINOSession(Session):
    runtime = "openvino"

    def __init__(self, path: Path, options: SessionOptions | None = None):
        super().__init__(options)
        import openvino as ov

        self._ov = ov
        core = _core()
        device = "GPU" if self.options.device == "gpu" else "CPU"
        if device not in core.available_devices:
            raise EdgeoptError(
                f"OpenVINO device {device} is not present (available: {', '.join(core.available_devices)})",
                "run on a machine with that device, or choose --device cpu",
            )
        config: dict = {"PERFORMANCE_HINT": (self.options.hint or "latency").upper()}
        if self.options.precision:
            config["INFERENCE_PRECISION_HINT"] = self.options.precision
        if self.options.threads:
            config["INFERENCE_NUM_THREADS"] = self.options.threads
        if self.options.cache_dir:
            config["CACHE_DIR"] = self.options.cache_dir
        try:
            if path.suffix == ".blob":
                with open(path, "rb") as f:
                    self.compiled = core.import_model(f.read(), device, config)
            else:
                self.compiled = core.compile_model(str(path), device, config)
        except Exception as e:
            raise UsageError(
                f"OpenVINO cannot load {path}: {first_line(e, 300, with_type=False)}",
                "check the .xml has its .bin beside it and both are complete",
            ) from e
        self.device = device
        self.request = self.compiled.create_infer_request()
        self.inputs = [_spec(p, i) for i, p in enumerate(self.compiled.inputs)]
        self.outputs = [_spec(p, i) for i, p in enumerate(self.compiled.outputs)]
        from edgeopt.runtimes.base import batch_axes

        for spec, ax in zip(self.inputs, batch_axes(self.inputs)):
            if ax is not None:  # the first input that has a batch (scalars have none)
                if isinstance(spec.shape[ax], int) and not spec.dynamic_dims:
                    self.fixed_batch = spec.shape[ax]
                break

    @property
    def version(self) -> str:
        return self._ov.__version__

    def precision_in_effect(self) -> str | None:
        try:
            return str(self.compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
        except Exception:
            return self.options.precision

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        res = self.request.infer(list(arrays))
        return [np.array(res[o]) for o in self.compiled.outputs]


def _spec(port, i: int) -> TensorSpec:
    names = port.get_names()
    name = sorted(names)[0] if names else f"port_{i}"
    ps = port.get_partial_shape()
    batch = _layout_batch(port)
    if batch is None:
        batch = 0
    shape = [
        d.get_length() if d.is_static else ("batch" if k == batch else "?")
        for k, d in enumerate(ps)
    ]
    return TensorSpec(name, shape, port.get_element_type().to_dtype().name)


def _layout_batch(port) -> int | None:
    """The batch axis an input's OpenVINO layout names (our export sets one for inputs whose
    batch is not on axis 0); None when it names none."""
    try:
        import openvino as ov

        layout = port.get_node().get_layout()
        if ov.layout_helpers.has_batch(layout):
            return int(ov.layout_helpers.batch_idx(layout))
    except Exception:  # outputs and older releases have no parameter layout
        return None
    return None
