"""`optimize prune`: shrink a PyTorch model before export, recover accuracy, save it as .pt2.

One algorithm per kind (structured.py with torch-pruning, unstructured.py with
torch.nn.utils.prune); recovery.py fine-tunes; sweep.py measures several sparsities and picks
the highest one within an accuracy budget. The result is a torch.export program (the pruned
architecture has new shapes, so a state dict would not do) that `optimize export` loads as is.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from edgeopt.artifacts.artifact import Artifact, sidecar_path
from edgeopt.core.files import check_writable, publish, sha256_file, staging_dir
from edgeopt.core.spec import TensorSpec
from edgeopt.data import DataRef, data_ref_name, resolve_data
from edgeopt.errors import UsageError
from edgeopt.optimize.prune.config import PruneConfig
from edgeopt.optimize.prune.structured import find_classifier, resolve_ignore, structured_prune
from edgeopt.optimize.prune.unstructured import CAVEAT, unstructured_prune, weight_sparsity


@dataclass
class PruneResult:
    """One pruned model and what was measured on it."""

    sparsity: float
    module: nn.Module
    info: dict
    accuracy: dict = field(default_factory=dict)  # before / after_prune / recovered (top-1)
    params: int = 0
    macs: int = 0
    recovery: dict | None = None


def check_source(source) -> None:
    if not source.is_torch:
        raise UsageError(
            f"{source.ref} is a {source.format} file; pruning acts on the PyTorch model",
            "prune the PyTorch source (builtin:NAME, file.py:factory or .pt2), then export it",
        )
    if not isinstance(source.module, nn.Module):
        raise UsageError(f"{source.ref} did not load as a torch.nn.Module", "give a PyTorch model")
    if isinstance(source.module, torch.fx.GraphModule) and not any(
        isinstance(m, (nn.Conv2d, nn.Linear)) for m in source.module.modules()
    ):
        raise UsageError(
            f"{source.ref} is a torch.export program: its layers are flattened into a graph, "
            "so channels cannot be pruned structurally",
            "prune the original model (builtin:NAME or file.py:factory) instead",
        )


def eval_dataset(source, cfg: PruneConfig) -> DataRef:
    """Evaluation data: --data, the model's own dataset, else the eval split of --finetune's."""
    return cfg.data or source.dataset or data_ref_name(cfg.finetune)


def example_inputs(source, batch: int = 2) -> tuple:
    from edgeopt.optimize.export.common import torch_example

    return torch_example(source, batch)


def top1(module: nn.Module, source, data: DataRef) -> float | None:
    """Top-1 on the eval split through a TorchSession (None without labelled data)."""
    from edgeopt.data import fit_inputs
    from edgeopt.metrics.accuracy import classification_metrics, predict
    from edgeopt.runtimes.torch_rt import TorchSession

    ds = resolve_data(data, "eval")
    if ds is None or ds.labels is None:
        return None
    (logits, *_) = predict(TorchSession(module, source.inputs), fit_inputs(ds, source.inputs))
    return classification_metrics(logits, ds.labels)["top1"]


def count_ops(module: nn.Module, example: tuple) -> tuple[int, int]:
    """(MACs, parameters) at batch 1, counted by torch-pruning."""
    import torch_pruning as tp

    one = tuple(t[:1] for t in example)
    macs, params = tp.utils.count_ops_and_params(module, one)
    return int(macs), int(params)


def prune_once(
    source,
    cfg: PruneConfig,
    sparsity: float,
    dense_acc: float | None = None,
    calib: list | None = None,
) -> PruneResult:
    """Prune a copy of the source module at `sparsity`, then recover it if asked."""
    from edgeopt.optimize.prune.recovery import finetune

    model = copy.deepcopy(source.module).eval()
    for p in model.parameters():
        p.requires_grad_(True)
    ignore = resolve_ignore(model, cfg.ignore)
    clf = find_classifier(model)
    if clf is not None and clf[1] not in ignore:
        ignore.append(clf[1])
    example = example_inputs(source)
    run_cfg = dataclasses.replace(cfg, sparsity=sparsity)
    if cfg.structured:
        info = structured_prune(model, example, run_cfg, ignore, calib)
    else:
        info = unstructured_prune(model, run_cfg, ignore)
    info["classifier_kept"] = clf[0] if clf else None
    data = eval_dataset(source, cfg)
    acc = {"before": dense_acc, "after_prune": top1(model, source, data)}
    recovery = None
    if cfg.finetune and cfg.epochs > 0:
        teacher = source.module if cfg.distill else None
        masks = _zero_masks(model) if not cfg.structured else None
        recovery = finetune(model, source.inputs, cfg.finetune, cfg.epochs, cfg.lr, teacher)
        if masks:  # keep unstructured zeros zero after fine-tuning
            _apply_masks(masks)
            info["weight_sparsity"] = weight_sparsity(
                model, {m for x in ignore for m in x.modules()}
            )
        acc["recovered"] = top1(model, source, data)
    macs, params = count_ops(model, example)
    return PruneResult(sparsity, model.eval(), info, acc, params, macs, recovery)


def _zero_masks(model: nn.Module) -> list:
    return [(p, p.detach() != 0) for n, p in model.named_parameters() if n.endswith("weight")]


def _apply_masks(masks: list) -> None:
    with torch.no_grad():
        for p, mask in masks:
            p.mul_(mask)


def default_output(source, sparsity: float, structured: bool) -> Path:
    tag = f"pruned{round(sparsity * 100)}" + ("" if structured else "u")
    if source.path is not None:
        return source.path.with_name(f"{source.path.stem}-{tag}.pt2")
    return Path("edgeopt-out") / f"{source.name}-{tag}.pt2"


def save_pruned(
    source, result: PruneResult, cfg: PruneConfig, output: Path, results: dict
) -> Artifact:
    """torch.export program with a dynamic batch + sidecar; staged, then renamed into place."""
    from edgeopt.optimize.export.common import torch_dynamic_shapes

    output = Path(output)
    check_writable([output, sidecar_path(output)], cfg.force)
    example = example_inputs(source)
    with staging_dir(output) as tmp:
        staged = tmp / output.name
        with torch.no_grad():
            ep = torch.export.export(
                result.module.eval(), example, dynamic_shapes=torch_dynamic_shapes(source, False)
            )
        torch.export.save(ep, str(staged))
        art = Artifact(
            path=staged,
            format="torch-export",
            inputs=[TensorSpec(s.name, list(s.shape), s.dtype) for s in source.inputs],
            outputs=[TensorSpec(n, ["batch"]) for n in source.output_names],
            parent=_parent(source),
            step="prune",
            params={**cfg.params(), "sparsity": result.sparsity},
            dataset=source.dataset or data_ref_name(cfg.data) or data_ref_name(cfg.finetune),
            task=source.task,
            notes=[] if cfg.structured else [CAVEAT],
            extra={"prune": results},
        )
        art.refresh_hash()
        art.write_sidecar(staged)
        publish([(staged, output), (sidecar_path(staged), sidecar_path(output))])
    art.path = output
    return art


def _parent(source) -> dict:
    d = source.describe()
    if source.path is not None and "sha256" not in d:
        d["sha256"] = sha256_file(source.path)
    return d


def summary(result: PruneResult, dense: tuple[int, int]) -> dict:
    """JSON-able results of one pruned model against the dense one (macs, params)."""
    dm, dp = dense
    return {
        "sparsity": result.sparsity,
        "params": result.params,
        "params_dense": dp,
        "macs": result.macs,
        "macs_dense": dm,
        "accuracy": result.accuracy,
        "recovery": result.recovery,
        **{k: v for k, v in result.info.items()},
    }


__all__ = [
    "PruneConfig",
    "PruneResult",
    "check_source",
    "count_ops",
    "default_output",
    "prune_once",
    "save_pruned",
    "summary",
    "top1",
]
