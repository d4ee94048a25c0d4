"""PyTorch -> TFLite through litert-torch (the `tflite` extra); a fixed batch, noted."""

from __future__ import annotations

from pathlib import Path

from edgeopt.core.progress import quiet
from edgeopt.core.spec import TensorSpec
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError, EdgeoptError, UsageError
from edgeopt.optimize.export.common import ExportConfig, ExportResult, torch_example


def litert_torch_available() -> bool:
    try:
        import litert_torch  # noqa: F401
    except ImportError:
        return False
    return True


class TFLiteExporter:
    """PyTorch -> TFLite through litert-torch."""

    def export(self, source, path: Path, cfg: ExportConfig) -> ExportResult:
        if not source.is_torch:
            raise UsageError(
                f"TFLite export takes PyTorch sources; {source.ref} is {source.format}",
                "export the PyTorch model itself with --to tflite",
            )
        with quiet():
            available = litert_torch_available()
        if not available:
            raise EdgeoptError(
                "TFLite export needs litert-torch, which is not installed",
                "install the extra: pip install 'edgeopt[tflite]'",
            )
        example = torch_example(source, cfg.batch, cfg.data)
        try:
            with quiet() as cap:
                import litert_torch

                edge = litert_torch.convert(source.module, example)
                edge.export(str(path))
        except Exception as e:
            raise ConversionError(
                f"TFLite conversion failed: {first_line(e)}",
                "the model may use an op LiteRT cannot express; try --to onnx"
                + (f"\n{cap.tail(5)}" if cap.text else ""),
            ) from e
        # TFLite fixes every dim at the example's size (batch, and any sequence length)
        specs = [TensorSpec(s.name, list(t.shape), s.dtype) for s, t in zip(source.inputs, example)]
        return ExportResult(
            "litert-torch",
            [f"fixed batch {cfg.batch} (TFLite); the runtime resizes or runs in chunks"],
            {"fixed_batch": cfg.batch},
            inputs=specs,
        )


EXPORTER = TFLiteExporter()
