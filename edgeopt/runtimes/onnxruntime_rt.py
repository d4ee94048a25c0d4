"""ONNX Runtime sessions, per execution provider."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.core.text import first_line
from edgeopt.errors import UsageError
from edgeopt.runtimes.base import Session, SessionOptions

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def available_providers() -> list[str]:
    import onnxruntime as ort

    return ort.get_available_providers()


class OnnxRuntimeSession(Session):
    runtime = "onnxruntime"

    def __init__(self, path: Path, options: SessionOptions | None = None):
        super().__init__(options)
        import onnxruntime as ort

        self._ort = ort
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if self.options.spin else "0"
        )
        if self.options.threads:
            so.intra_op_num_threads = self.options.threads
            so.inter_op_num_threads = 1
        providers = self._providers()
        try:
            self.sess = ort.InferenceSession(self._model_source(path), so, providers=providers)
        except Exception as e:
            raise UsageError(
                f"ONNX Runtime cannot load {path.name}: {_load_cause(e)}",
                "check the file is a complete ONNX model (optimize inspect shows what it holds)",
            ) from e
        self.providers = self.sess.get_providers()
        # ORT drops a provider whose libraries are missing (TensorRT, often) without failing
        self.providers_missing = [
            (p[0] if isinstance(p, tuple) else p)
            for p in providers
            if (p[0] if isinstance(p, tuple) else p) not in self.providers
        ]
        if self.options.device == "gpu" and not any(p in self.providers for p in GPU_PROVIDERS):
            from edgeopt.errors import EdgeoptError

            raise EdgeoptError(
                f"no GPU execution provider took {path.name} (asked for "
                f"{', '.join(self.providers_missing)}; running would silently use the CPU)",
                "check the CUDA/cuDNN libraries that onnxruntime-gpu needs",
            )
        if self.providers_missing:
            from edgeopt.core.progress import info

            info(
                f"[edgeopt] note: {', '.join(self.providers_missing)} not in effect for "
                f"{path.name}; running on {', '.join(self.providers)}"
            )
        self.inputs = [
            TensorSpec(i.name, list(i.shape), _ort_dtype(i.type)) for i in self.sess.get_inputs()
        ]
        self.outputs = [
            TensorSpec(o.name, list(o.shape), _ort_dtype(o.type)) for o in self.sess.get_outputs()
        ]
        self._names = [i.name for i in self.inputs]
        self._fixed_from_shape()

    def _model_source(self, path: Path) -> str | bytes:
        """What InferenceSession loads: the file's path (an adapter may give bytes instead)."""
        return str(path)

    def _providers(self) -> list:
        if self.options.provider:
            return [self.options.provider, "CPUExecutionProvider"]
        if self.options.device == "gpu":
            have = available_providers()
            gpu = [p for p in GPU_PROVIDERS if p in have]
            if not gpu:
                from edgeopt.errors import EdgeoptError

                raise EdgeoptError(
                    "no GPU execution provider in this ONNX Runtime build "
                    f"(available: {', '.join(have)})",
                    "install onnxruntime-gpu on a machine with an NVIDIA GPU",
                )
            return [*gpu, "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def _fixed_from_shape(self) -> None:
        from edgeopt.runtimes.base import batch_axes

        for spec, ax in zip(self.inputs, batch_axes(self.inputs)):
            if ax is not None:  # the first input that has a batch (scalars have none)
                if isinstance(spec.shape[ax], int):
                    self.fixed_batch = spec.shape[ax]
                return

    @property
    def version(self) -> str:
        return self._ort.__version__

    def describe(self) -> dict:
        d = super().describe()
        d["providers"] = self.providers
        d["thread_spinning"] = self.options.spin
        if self.providers_missing:
            d["providers_missing"] = self.providers_missing
        return d

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        return self.sess.run(None, dict(zip(self._names, arrays)))


def _load_cause(e: Exception, limit: int = 400) -> str:
    """ORT's load error without its path preamble, and never cut before the cause: an invalid
    graph names the node first and says what is wrong with it at the end."""
    import re

    msg = first_line(e, 4000, with_type=False)
    msg = re.sub(r"^\[ONNXRuntimeError\] : \d+ : ", "", msg)
    msg = re.sub(r"Load model from .*? failed:\s*", "", msg)
    if len(msg) <= limit:
        return msg
    return f"{msg[: limit // 3]} ... {msg[-(limit - limit // 3) :]}"


def _ort_dtype(t: str) -> str:
    return {
        "tensor(float)": "float32",
        "tensor(float16)": "float16",
        "tensor(double)": "float64",
        "tensor(int64)": "int64",
        "tensor(int32)": "int32",
        "tensor(int8)": "int8",
        "tensor(uint8)": "uint8",
        "tensor(bool)": "bool",
    }.get(t, "float32")
