"""PyTorch files: torch.export programs (.pt2), TorchScript, and (with consent) full pickles."""

from __future__ import annotations

from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.progress import quiet
from edgeopt.core.spec import TensorSpec, normalize_dtype, reconcile_inputs
from edgeopt.core.text import first_line
from edgeopt.errors import UsageError
from edgeopt.formats import FormatSpec
from edgeopt.models.base import SourceModel
from edgeopt.runtimes.torch_rt import eval_mode


def load_torch_file(
    path: Path, spec: FormatSpec, input_specs: list[TensorSpec] | None, trust_pickle: bool
) -> SourceModel:
    import torch

    art = Artifact.load(path)
    spec.inspector.check(path)
    module, example = None, None
    if spec.name == "torch-export":
        try:
            with quiet():  # torch logs its own traceback on a bad archive
                ep = torch.export.load(str(path))
        except Exception as e:
            raise UsageError(
                f"cannot load {path} as a torch.export program: {first_line(e, 200)}",
                "save it with torch.export.save (a TorchScript file belongs in .pt/.ts/.jit)",
            ) from e
        module = exported_program_module(ep)
        example = _example_specs_from_program(ep)
    else:
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception:
            module = _load_pickle(path, trust_pickle)
    declared = art.inputs if art and art.inputs else example
    specs = reconcile_inputs(declared or [], input_specs, str(path)) or None
    if not specs:
        raise UsageError(
            f"cannot tell the input shape of {path}",
            "pass --input name:batchx3x224x224:float32 for each input",
        )
    return SourceModel(
        ref=str(path),
        format="torch",
        name=path.stem,
        inputs=specs,
        output_names=[o.name for o in art.outputs] if art else [],
        module=eval_mode(module),
        path=path,
        dataset=art.dataset if art else None,
        task=art.task if art else None,
        artifact=art,
    )


def _load_pickle(path: Path, trust_pickle: bool):
    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        if not trust_pickle:
            raise UsageError(
                f"{path} is a full pickle: loading it can run arbitrary code",
                "pass --trust-pickle if you trust its origin, or save it as torch.export (.pt2)",
            ) from e
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=False)
        except Exception as e2:
            raise UsageError(f"cannot load {path}: {e2}", "check the file is complete") from e2
    if isinstance(obj, torch.nn.Module):
        return obj
    if isinstance(obj, dict):
        raise UsageError(
            f"{path} holds a state dict (weights only), not a model",
            "give the architecture as path/to/file.py:factory that loads these weights",
        )
    raise UsageError(f"{path} holds a {type(obj).__name__}, not a model", "save the nn.Module")


def _example_specs_from_program(ep) -> list[TensorSpec]:
    """Input specs from a torch.export program's placeholders (symbolic dims stay symbolic)."""
    specs = []
    user_inputs = set(ep.graph_signature.user_inputs)
    for node in ep.graph.nodes:
        if node.op != "placeholder" or node.name not in user_inputs:
            continue
        val = node.meta.get("val")
        if val is None or not hasattr(val, "shape"):
            continue
        shape = []
        for i, d in enumerate(val.shape):
            # a SymInt (dynamic dim) converts to its example value with int(): keep it symbolic
            shape.append(d if isinstance(d, int) else ("batch" if i == 0 else str(d)))
        specs.append(TensorSpec(node.name, shape, normalize_dtype(val.dtype)))
    return specs


def exported_program_module(ep):
    """`ep.module()` whose eval()/train() are no-ops instead of raising.

    A torch.export program stays in the mode it was exported in (eval for ours), but its
    GraphModule raises on .eval(), which every session, exporter and converter calls.
    """
    import types

    module = ep.module()

    def _frozen(self, mode: bool = True):
        return self

    module.train = types.MethodType(_frozen, module)
    module.eval = types.MethodType(_frozen, module)
    return module
