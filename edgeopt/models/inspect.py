"""What a model holds: format, inputs/outputs, parameter count, size, op histogram."""

from __future__ import annotations

from collections import Counter

from edgeopt.formats import companion_files, get_format
from edgeopt.runtimes import open_session


def inspect_source(source) -> dict:
    info = {
        "model": source.ref,
        "format": source.format,
        "inputs": [s.to_dict() for s in source.inputs],
        "outputs": [{"name": n} for n in source.output_names],
        "dataset": source.dataset,
    }
    if source.is_torch:
        info.update(_torch(source.module))
    else:
        info.update(get_format(source.format).inspector.stats(source.path))
        outs = open_session(source.path).outputs
        if source.artifact and len(source.artifact.outputs) == len(outs):
            outs = source.artifact.outputs  # our own names (TFLite renames outputs)
        info["outputs"] = [o.to_dict() for o in outs]
    if source.path:
        files = companion_files(source.path)
        info["file_size_bytes"] = sum(p.stat().st_size for p in files if p.exists())
    if source.artifact:
        info["artifact"] = {
            k: v
            for k, v in source.artifact.to_dict().items()
            if k in ("precision", "target", "step", "params", "parent", "notes")
        }
    return info


def _torch(module) -> dict:
    hist = Counter(type(m).__name__ for m in module.modules() if not list(m.children()))
    return {
        "parameters": int(sum(p.numel() for p in module.parameters())),
        "op_histogram": dict(hist.most_common()),
    }
