"""Loading a source model from a reference string: built-in name, Python factory or model file."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from edgeopt.core.spec import TensorSpec, normalize_dtype, reconcile_inputs
from edgeopt.errors import UsageError
from edgeopt.formats import all_formats, spec_of
from edgeopt.models.base import SourceModel
from edgeopt.models.files import load_file_source
from edgeopt.models.torch_files import load_torch_file


def _source_suffixes() -> str:
    return " ".join(sfx for f in all_formats() if f.runnable or f.torch for sfx in f.suffixes)


def load_source(
    ref: str,
    input_specs: list[TensorSpec] | None = None,
    trust_pickle: bool = False,
    factory_args: dict | None = None,
    task: str | None = None,
) -> SourceModel:
    """Resolve `ref` (see README: built-in names, hf:DIR, file.py:factory, pkg.mod:factory,
    files).

    `factory_args` are keyword arguments for a factory (e.g. a module class's constructor);
    `task` overrides the task of an hf: folder.
    """
    ref = ref.strip()
    if ref.startswith("hf:"):
        from edgeopt.models.hf import load_hf_source

        return load_hf_source(ref, input_specs, task)
    if task:
        raise UsageError(
            f"a task (--task, [model] task) applies to hf: folders, not {ref}", "leave it out"
        )
    if ref.startswith("builtin:"):
        return _builtin(ref[len("builtin:") :], input_specs)
    from edgeopt.models.builtin import BUILTINS

    if ref in BUILTINS:
        return _builtin(ref, input_specs)
    path_part, sep, func = ref.rpartition(":")
    if sep and path_part and func.isidentifier() and not Path(ref).exists():
        return _factory(ref, path_part, func, input_specs, factory_args or {})
    path = Path(ref)
    if not path.exists():
        raise UsageError(
            f"model not found: {ref}",
            f"give a model file ({_source_suffixes()}), a built-in name "
            "(see `optimize models`), hf:DIR, or path/to/file.py:factory",
        )
    if path.is_dir():
        raise UsageError(
            f"{ref} is a folder, not a model file",
            f"point at the model file itself, or write hf:{ref} for a Hugging Face model folder",
        )
    spec = spec_of(path)
    if spec is not None and spec.torch:
        return load_torch_file(path, spec, input_specs, trust_pickle)
    if spec is not None and spec.runnable:
        return load_file_source(path, spec, input_specs)
    raise UsageError(
        f"unrecognised model file {ref} (suffix {path.suffix or 'none'})",
        f"supported: {_source_suffixes()}",
    )


def _builtin(name: str, input_specs: list[TensorSpec] | None) -> SourceModel:
    from edgeopt.models.builtin import get_builtin

    spec = get_builtin(name)
    declared = [TensorSpec(s.name, list(s.shape), s.dtype) for s in spec.inputs]
    return SourceModel(
        ref=f"builtin:{name}",
        format="torch",
        name=name,
        inputs=reconcile_inputs(declared, input_specs, f"builtin:{name}"),
        output_names=[spec.output],
        module=spec.load(),
        dataset=spec.dataset,
        task=spec.task,
    )


def _import_target(target: str):
    if target.endswith(".py"):
        path = Path(target)
        if not path.exists():
            raise UsageError(f"model script not found: {target}", "check the path before ':'")
        name = f"edgeopt_user_{path.stem}"
        mspec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent.resolve()))
        try:
            mspec.loader.exec_module(module)
        except Exception as e:
            raise UsageError(
                f"importing {target} failed: {type(e).__name__}: {e}",
                "fix the script so it imports cleanly",
            ) from e
        finally:
            sys.path.pop(0)
        return module
    try:
        return importlib.import_module(target)
    except ImportError as e:
        raise UsageError(
            f"cannot import module {target!r}: {e}",
            "install the package that provides it, or give path/to/file.py:factory",
        ) from e


def _factory(ref: str, target: str, func: str, input_specs: list[TensorSpec] | None, kwargs: dict):
    import torch

    from edgeopt.core.progress import quiet

    with quiet():  # importing big libraries (transformers, ...) logs pages of warnings
        module = _import_target(target)
    factory = getattr(module, func, None)
    if factory is None or not callable(factory):
        raise UsageError(
            f"{target} has no callable {func!r}", "name a function that builds the model"
        )
    try:
        with quiet():
            result = factory(**kwargs)
    except Exception as e:
        raise UsageError(
            f"factory {ref} raised {type(e).__name__}: {e}", "fix the factory, then retry"
        ) from e
    example = None
    if isinstance(result, tuple) and result and isinstance(result[0], torch.nn.Module):
        model, rest = result[0], result[1:]
        if rest:
            ex = rest[0]
            example = list(ex) if isinstance(ex, (tuple, list)) else [ex]
    elif isinstance(result, torch.nn.Module):
        model = result
    else:
        raise UsageError(
            f"factory {ref} returned {type(result).__name__}, not a torch.nn.Module",
            "return a module, or (module, example_inputs)",
        )
    example_np = None
    if example is not None:
        if not all(isinstance(t, torch.Tensor) for t in example):
            raise UsageError(
                f"example inputs from {ref} must be torch tensors", "return (module, (tensor, ...))"
            )
        example_np = [t.detach().cpu().numpy() for t in example]
    specs = reconcile_inputs(_specs_from_example(example, model), input_specs, ref)
    if input_specs and example is None:
        _probe(model, specs, ref)
    if not specs:
        raise UsageError(
            f"cannot tell the input shape of {ref}",
            "return (module, example_inputs) from the factory or pass --input name:1x3x224x224:float32",
        )
    return SourceModel(
        ref=ref + (f" {kwargs}" if kwargs else ""),
        format="torch",
        name=func if func not in ("model", "build", "create", "factory") else Path(target).stem,
        inputs=specs,
        module=model.eval(),
        example=example_np,
    )


def _specs_from_example(example, model) -> list[TensorSpec]:
    import inspect

    if not example:
        return []
    try:
        params = [
            p for p in inspect.signature(model.forward).parameters if p not in ("args", "kwargs")
        ]
    except (TypeError, ValueError):
        params = []
    specs = []
    for i, t in enumerate(example):
        name = params[i] if i < len(params) else f"input_{i}"
        shape = ["batch", *t.shape[1:]] if t.dim() > 0 else []
        specs.append(TensorSpec(name, shape, normalize_dtype(t.dtype)))
    return specs


def _probe(model, specs: list[TensorSpec], ref: str) -> None:
    """Run the module once on inputs built from the user's --input, so a spec the model cannot
    take (channels, rank, dtype) is a usage error naming the spec, not a failure deep in export."""
    import torch

    from edgeopt.core.text import first_line
    from edgeopt.data.inputs import random_inputs

    arrays = random_inputs(specs, batch=2)
    try:
        with torch.no_grad():
            model.eval()(*[torch.from_numpy(a) for a in arrays])
    except Exception as e:
        fed = ", ".join(
            f"{s.name}:{'x'.join(map(str, a.shape))}:{a.dtype}" for s, a in zip(specs, arrays)
        )
        raise UsageError(
            f"{ref} cannot take the inputs --input describes ({fed}): {first_line(e, 200)}",
            "make --input match the model's inputs (count, rank, channels, dtype)",
        ) from e
