"""PyTorch -> ONNX: the dynamo exporter first, the legacy TorchScript exporter as fallback."""

from __future__ import annotations

import functools
from pathlib import Path

from edgeopt.core.progress import info, quiet
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError, UsageError
from edgeopt.optimize.export.common import (
    EXPORT_BATCH,
    ExportConfig,
    ExportResult,
    torch_dynamic_shapes,
    torch_example,
    unsupported_ops,
)

TWO_GB = 2 * 1024**3


class OnnxExporter:
    """PyTorch -> ONNX (dynamo exporter, legacy fallback)."""

    def export(self, source, path: Path, cfg: ExportConfig) -> ExportResult:
        if not source.is_torch:
            raise UsageError(
                f"{source.ref} is already {source.format}; ONNX export takes PyTorch sources",
                "use the file as it is, or convert it with --to openvino",
            )
        import torch

        example = torch_example(source, cfg.batch if cfg.static else EXPORT_BATCH, cfg.data)
        with torch.inference_mode():
            n_out = len(_flat(source.module(*example)))
        names_in = [s.name for s in source.inputs]
        names_out = source.output_names if len(source.output_names) == n_out else None
        param_bytes = sum(p.numel() * p.element_size() for p in source.module.parameters())
        external = param_bytes > TWO_GB * 0.9
        call = functools.partial(_torch_export, source, example, path, names_in, names_out)
        notes = ["weights stored in an external .data file (model over 2 GB)"] if external else []

        try:
            with quiet():
                _dynamo(call, source, cfg, external)
            route = "dynamo exporter"
        except Exception as dyn_err:
            reason = first_line(dyn_err)
            info(
                f"[edgeopt] dynamo exporter failed ({reason}); falling back to the legacy exporter"
            )
            try:
                with quiet():
                    _legacy(call, source, cfg)
            except Exception as leg_err:
                if isinstance(
                    leg_err, OSError
                ):  # a full or read-only disk is not the model's fault
                    raise leg_err from dyn_err
                ops = unsupported_ops(leg_err, dyn_err)
                what = (
                    f"the model uses an op ONNX cannot express ({', '.join(ops)})"
                    if ops
                    else (f"dynamo exporter: {reason}; legacy exporter: {first_line(leg_err)}")
                )
                raise ConversionError(
                    f"ONNX export failed: {what}",
                    "rewrite or replace that op in the model, or try --to openvino",
                ) from leg_err
            route = "legacy exporter (fallback)"
            notes.append(f"dynamo exporter failed: {reason}")
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        if cfg.opset and opset != cfg.opset:
            notes.append(f"asked for opset {cfg.opset}, the exporter wrote {opset}")
        return ExportResult(
            route, notes, {"opset": opset, "exporter": route, "dynamic_batch": not cfg.static}
        )


EXPORTER = OnnxExporter()


def _dynamic_axes(source, static: bool) -> dict | None:
    if static:
        return None
    return {
        s.name: {i: str(d) for i, d in enumerate(s.shape) if not isinstance(d, int)}
        for s in source.inputs
    }


def _dynamo(call, source, cfg, external) -> None:
    dynamic = torch_dynamic_shapes(source, cfg.static)
    call(dynamo=True, external_data=external, opset_version=cfg.opset, dynamic_shapes=dynamic)


def _legacy(call, source, cfg) -> None:
    call(
        dynamo=False, opset_version=cfg.opset or 17, dynamic_axes=_dynamic_axes(source, cfg.static)
    )


def _torch_export(source, example, path, names_in, names_out, **options) -> None:
    """torch.onnx.export with what both exporters share; `options` picks the exporter."""
    import torch

    torch.onnx.export(
        source.module, example, str(path), input_names=names_in, output_names=names_out, **options
    )


def _flat(out) -> list:
    from edgeopt.runtimes.torch_rt import _flatten

    return _flatten(out)
