"""PyTorch eager execution of an nn.Module (the reference for parity)."""

from __future__ import annotations

import numpy as np

from edgeopt.core.spec import TensorSpec
from edgeopt.runtimes.base import Session, SessionOptions


def eval_mode(module):
    """module.eval(), except for torch.export modules, which refuse it (they are traced as run)."""
    try:
        return module.eval()
    except NotImplementedError:
        return module


class TorchSession(Session):
    runtime = "torch"

    def __init__(
        self,
        module,
        inputs: list[TensorSpec],
        output_names: list[str] | None = None,
        options: SessionOptions | None = None,
    ):
        super().__init__(options)
        import torch

        self._torch = torch
        self.module = eval_mode(module)
        self.inputs = inputs
        self.outputs = [TensorSpec(n, ["batch"]) for n in (output_names or [])]
        if self.options.threads:
            torch.set_num_threads(self.options.threads)

    @property
    def version(self) -> str:
        return self._torch.__version__

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            out = self.module(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
        flat = _flatten(out)
        if not self.outputs:
            self.outputs = [TensorSpec(f"output_{i}", ["batch"]) for i in range(len(flat))]
        return [t.detach().cpu().numpy() for t in flat]


def _flatten(out) -> list:
    """Outputs as a flat list: tensors, tuples/lists and dict-like model outputs."""
    if hasattr(out, "detach"):
        return [out]
    if isinstance(out, dict) or hasattr(out, "to_tuple"):
        values = out.to_tuple() if hasattr(out, "to_tuple") else tuple(out.values())
        return [t for v in values for t in _flatten(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in _flatten(v)]
    raise TypeError(f"model returned {type(out).__name__}, expected tensors")
