"""Structured pruning with torch-pruning: whole channels, hidden units and attention heads go.

The dependency graph keeps coupled layers consistent (a conv's output channels with the next
layer's inputs, its BatchNorm, ...), so the pruned module is simply a smaller dense model.
Left alone by design: the classifier (its outputs are the classes), the residual stream of
transformers (coupled to every block, LayerNorms and position embeddings) and attention
projections whose head count we cannot read (pruning them would break the head reshape).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from edgeopt.core.text import first_line
from edgeopt.errors import EdgeoptError, UsageError

PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
HEAD_ATTRS = ("heads", "num_heads", "n_heads")
QKV_NAMES = (("q", "k", "v"), ("q_proj", "k_proj", "v_proj"), ("query", "key", "value"))


def module_names(model: nn.Module) -> dict[nn.Module, str]:
    return {m: n for n, m in model.named_modules() if n}


def find_classifier(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The last Linear layer registered: the usual place of the class scores."""
    last = None
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear):
            last = (name, mod)
    return last


def resolve_ignore(model: nn.Module, names: list[str]) -> list[nn.Module]:
    """Modules named by --ignore; a name matching nothing is an error listing valid names."""
    by_name = dict(model.named_modules())
    out = []
    for name in names:
        if name not in by_name or not name:
            valid = [n for n, m in model.named_modules() if isinstance(m, PRUNABLE)]
            shown = ", ".join(valid[:12]) + (", ..." if len(valid) > 12 else "")
            raise UsageError(
                f"--ignore {name!r} matches no module of the model",
                f"use a module name, e.g. one of: {shown}",
            )
        out.append(by_name[name])
    return out


def find_attention(model: nn.Module) -> list[tuple[nn.Module, str, list[nn.Linear]]]:
    """Attention modules written with Linear q/k/v children and a head-count attribute."""
    found = []
    for mod in model.modules():
        attr = next((a for a in HEAD_ATTRS if isinstance(getattr(mod, a, None), int)), None)
        if attr is None:
            continue
        for names in QKV_NAMES:
            layers = [getattr(mod, n, None) for n in names]
            if all(isinstance(layer, nn.Linear) for layer in layers):
                found.append((mod, attr, layers))
                break
    return found


def _group_kinds(group) -> set[str]:
    return {type(dep.target.module).__name__ for dep, _ in group}


def plan(model: nn.Module, example: tuple, ignore: list[nn.Module]) -> dict:
    """Decide what may be pruned: roots (layers whose outputs shrink), heads, and what is kept."""
    import torch_pruning as tp

    names = module_names(model)
    attention = find_attention(model)
    qkv = {layer for _, _, layers in attention for layer in layers}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dg = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    ignored = {m for layer in ignore for m in layer.modules()}
    roots, kept = [], {}
    for mod in model.modules():
        if not isinstance(mod, PRUNABLE) or mod in qkv:
            continue
        name = names.get(mod, "?")
        if mod in ignored:
            kept[name] = "ignored"
            continue
        fn = (
            tp.prune_linear_out_channels
            if isinstance(mod, nn.Linear)
            else tp.prune_conv_out_channels
        )
        kinds = _group_kinds(dg.get_pruning_group(mod, fn, idxs=[0]))
        if kinds & {"LayerNorm", "GroupNorm", "Parameter"}:
            kept[name] = "residual stream (kept)"
        elif "_ExpandOp" in kinds:
            kept[name] = "attention projection with unknown head count (kept)"
        else:
            roots.append(mod)
    heads = [
        (m, a, layers)
        for m, a, layers in attention
        if not any(x in ignored for x in layers) and getattr(m, a) > 1
    ]
    if not roots and not heads:
        raise UsageError(
            "the model has no prunable layers (every Conv/Linear is the classifier, ignored, "
            "or coupled to the residual stream)",
            "prune a model with hidden conv channels or hidden units, or drop some --ignore names",
        )
    return {"roots": roots, "heads": heads, "kept": kept, "names": names}


def structured_prune(
    model: nn.Module,
    example: tuple,
    cfg,
    ignore: list[nn.Module],
    calib: list[tuple[tuple, torch.Tensor]] | None = None,
) -> dict:
    """Prune `model` in place; returns what changed (layer widths before/after, heads)."""
    import torch_pruning as tp

    p = plan(model, example, ignore)
    names = p["names"]
    roots = set(p["roots"])
    qkv = {x for _, _, layers in p["heads"] for x in layers}
    others = [
        m for m in model.modules() if isinstance(m, PRUNABLE) and m not in roots and m not in qkv
    ]
    before = {names[m]: _width(m) for m in model.modules() if isinstance(m, PRUNABLE)}
    heads_before = {names[m]: getattr(m, a) for m, a, _ in p["heads"]}
    num_heads = {x: getattr(m, a) for m, a, layers in p["heads"] for x in layers}
    importance = (
        tp.importance.TaylorImportance()
        if cfg.importance == "taylor"
        else tp.importance.MagnitudeImportance(p=2)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruner = tp.pruner.BasePruner(
            model,
            example,
            importance=importance,
            pruning_ratio=cfg.sparsity,
            global_pruning=cfg.allocation == "global",
            max_pruning_ratio=0.9,
            ignored_layers=others,
            num_heads=num_heads,
            prune_num_heads=bool(num_heads),
            prune_head_dims=False,
            head_pruning_ratio=cfg.sparsity if num_heads else 0.0,
        )
        if cfg.importance == "taylor":
            _accumulate_gradients(model, calib or [(example, None)])
        pruner.step()
    model.zero_grad(set_to_none=True)
    for mod, attr, layers in p["heads"]:
        head_dim = getattr(mod, "head_dim", None)
        if head_dim:
            setattr(mod, attr, layers[0].out_features // head_dim)
    model.eval()
    try:
        with torch.no_grad():
            model(*example)
    except Exception as e:
        raise EdgeoptError(
            f"the pruned model no longer runs: {first_line(e, 200)}",
            "a layer's width is probably hard-coded in forward(); --ignore that layer",
        ) from e
    after = {names[m]: _width(m) for m in model.modules() if isinstance(m, PRUNABLE)}
    changed = {n: [before[n], after[n]] for n in before if before[n] != after.get(n)}
    return {
        "layers_changed": changed,
        "heads": {names[m]: [heads_before[names[m]], getattr(m, a)] for m, a, _ in p["heads"]},
        "kept": p["kept"],
        "units": _units(p),
    }


def _units(p: dict) -> list[str]:
    kinds = []
    if any(isinstance(m, nn.Linear) for m in p["roots"]):
        kinds.append("hidden units (Linear)")
    if any(not isinstance(m, nn.Linear) for m in p["roots"]):
        kinds.append("channels (Conv)")
    if p["heads"]:
        kinds.append("attention heads")
    return kinds


def _width(m: nn.Module) -> list[int]:
    if isinstance(m, nn.Linear):
        return [m.in_features, m.out_features]
    return [m.in_channels, m.out_channels]


def _accumulate_gradients(model: nn.Module, calib) -> None:
    """Taylor importance needs gradients: cross-entropy on labels (or the model's own answers)."""
    model.eval()
    model.zero_grad()
    for inputs, labels in calib:
        out = model(*inputs)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        target = labels if labels is not None else logits.detach().argmax(-1)
        if logits.dim() != 2:
            loss = logits.float().pow(2).mean()
        else:
            loss = nn.functional.cross_entropy(logits, target)
        loss.backward()
