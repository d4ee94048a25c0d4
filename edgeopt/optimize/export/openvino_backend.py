"""PyTorch / ONNX / TFLite -> OpenVINO IR (.xml + .bin), fp32 weights unless --fp16."""

from __future__ import annotations

from pathlib import Path

from edgeopt.core.progress import info, quiet
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError
from edgeopt.optimize.export.common import (
    EXPORT_BATCH,
    ExportConfig,
    ExportResult,
    static_specs,
    torch_dynamic_shapes,
    torch_example,
)


class OpenVINOExporter:
    """PyTorch, ONNX or TFLite -> OpenVINO IR."""

    def export(self, source, path: Path, cfg: ExportConfig) -> ExportResult:
        import openvino as ov

        notes: list[str] = []
        if source.is_torch:
            model, route = _from_torch(source, cfg, notes)
            # torch.export programs convert with every dim dynamic: pin all but the dynamic ones
            model.reshape(dict(zip(model.inputs, _partial_shapes(source, cfg, ov))))
        else:
            # the input shapes (the file's, refined by --input) go to the converter: some
            # models only convert with fixed dims, and the IR then has the shapes its sidecar
            # records
            given = _file_input_shapes(source, cfg, ov)
            try:
                with quiet():
                    model = ov.convert_model(str(source.path), **given)
            except Exception as e:
                shapes = ", ".join(map(str, source.inputs))
                raise ConversionError(
                    f"OpenVINO cannot convert {source.path} (inputs {shapes}): {first_line(e)}",
                    "fix the dynamic dims with --input name:1x3x640x640:float32 (a model that "
                    "only converts with fixed shapes), or the model uses an op OpenVINO lacks",
                ) from e
            route = f"ov.convert_model({source.format} file" + (", input=shapes)" if given else ")")
            if cfg.static:
                model.reshape(
                    {i: ov.PartialShape(s.shape) for i, s in enumerate(static_specs(source, cfg))}
                )
            else:
                _make_batch_dynamic(model, ov, notes)
        _name_ports(model, source)
        _mark_batch_axes(model, source, ov)
        # save_model compresses weights to fp16 by default: fp32 must be asked for explicitly
        ov.save_model(model, str(path), compress_to_fp16=cfg.fp16)
        return ExportResult(
            route,
            notes,
            {"route": route, "compressed_fp16": cfg.fp16, "dynamic_batch": not cfg.static},
        )


EXPORTER = OpenVINOExporter()


def _file_input_shapes(source, cfg, ov) -> dict:
    """`input=` for ov.convert_model of an ONNX file: each input's shape, fixed dims as the
    file or --input has them (static exports: as the data has them), -1 for dynamic ones."""
    if source.format != "onnx" or not source.inputs:
        return {}
    return {"input": {s.name: p for s, p in zip(source.inputs, _partial_shapes(source, cfg, ov))}}


def _mark_batch_axes(model, source, ov) -> None:
    """An input whose batch is not on axis 0 (a recurrent state [layers, batch, hidden]) gets
    an OpenVINO layout naming it, so the IR itself says where its samples lie."""
    from edgeopt.runtimes.base import batch_axes

    for param, spec, ax in zip(model.get_parameters(), source.inputs, batch_axes(source.inputs)):
        if ax and len(spec.shape) == param.get_partial_shape().rank.get_length():
            param.set_layout(
                ov.Layout("".join("N" if i == ax else "?" for i in range(len(spec.shape))))
            )


def _partial_shapes(source, cfg, ov) -> list:
    if cfg.static:
        return [ov.PartialShape(s.shape) for s in static_specs(source, cfg)]
    return [
        ov.PartialShape([d if isinstance(d, int) else -1 for d in s.shape]) for s in source.inputs
    ]


def _from_torch(source, cfg: ExportConfig, notes: list[str]):
    import openvino as ov
    import torch

    example = torch_example(source, cfg.batch if cfg.static else EXPORT_BATCH, cfg.data)
    shapes = _partial_shapes(source, cfg, ov)
    # a .pt2 program's GraphModule traces with its example batch baked into reshapes:
    # re-export it with torch.export (dynamic batch kept) instead of tracing it
    if not isinstance(source.module, torch.fx.GraphModule):
        try:
            with quiet():
                model = ov.convert_model(source.module, example_input=example, input=shapes)
            return model, "ov.convert_model(nn.Module)"
        except Exception as e:
            reason = first_line(e)
            info(f"[edgeopt] direct OpenVINO conversion failed ({reason}); trying torch.export")
            notes.append(f"direct conversion failed: {reason}")
    try:
        with quiet():
            ep = torch.export.export(
                source.module, example, dynamic_shapes=torch_dynamic_shapes(source, cfg.static)
            )
            model = ov.convert_model(ep)
    except Exception as e:
        raise ConversionError(
            f"OpenVINO conversion failed, also through torch.export: {first_line(e)}",
            "the model may use an op OpenVINO lacks; try --to onnx",
        ) from e
    return model, "ov.convert_model(torch.export program)"


def _make_batch_dynamic(model, ov, notes: list[str]) -> None:
    """Files with a fixed batch (TFLite) keep it; ONNX files keep their own dynamic dims."""
    for port in model.inputs:
        if port.get_partial_shape().is_static and port.get_partial_shape().rank.get_length() > 0:
            notes.append(
                f"input {port.get_any_name()} has a fixed shape {port.get_partial_shape()}"
            )


def _name_ports(model, source) -> None:
    """Give ports the source's names so specs and parity line up across formats."""
    for port, spec in zip(model.inputs, source.inputs):
        if spec.name not in port.get_names():
            port.get_tensor().add_names({spec.name})
    for port, name in zip(model.outputs, source.output_names):
        if name and name not in port.get_names():
            port.get_tensor().add_names({name})
