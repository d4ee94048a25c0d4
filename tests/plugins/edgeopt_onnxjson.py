"""A format added from outside edgeopt, as a user's plugin would add one: ONNX stored as JSON.

It is the whole diff of "adding a format": this module (a FormatSpec with its inspector, a
runtime adapter, an exporter) plus one registration line, `EDGEOPT_PLUGINS=edgeopt_onnxjson`
(or an "edgeopt.plugins" entry point in the plugin's own pyproject.toml).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from edgeopt.formats import FormatSpec, register
from edgeopt.optimize.export.common import ExportResult
from edgeopt.runtimes import RuntimeSpec, register_runtime
from edgeopt.runtimes.onnxruntime_rt import OnnxRuntimeSession


def _model(path: Path):
    import onnx
    from google.protobuf import json_format

    return json_format.Parse(Path(path).read_text(), onnx.ModelProto())


class OnnxJsonInspector:
    def check(self, path: Path) -> None:
        _model(path)

    def op_counts(self, path: Path) -> dict[str, int]:
        return dict(Counter(n.op_type for n in _model(path).graph.node))

    def stats(self, path: Path) -> dict:
        return {"op_histogram": self.op_counts(path)}


class OnnxJsonSession(OnnxRuntimeSession):
    """ONNX Runtime fed the model's bytes, parsed from JSON."""

    runtime = "onnxruntime-json"

    def _model_source(self, path: Path):
        return _model(path).SerializeToString()


class OnnxJsonExporter:
    def export(self, source, path: Path, cfg) -> ExportResult:
        from google.protobuf import json_format

        from edgeopt.optimize.export import exporter_for

        with tempfile.TemporaryDirectory() as tmp:
            onnx_file = Path(tmp) / "model.onnx"
            result = exporter_for("onnx").export(source, onnx_file, cfg)
            import onnx

            model = onnx.load(str(onnx_file))
        path.write_text(json_format.MessageToJson(model))
        return ExportResult(f"{result.route}, saved as JSON", result.notes, result.params)


EXPORTER = OnnxJsonExporter()

register_runtime(RuntimeSpec("onnxruntime-json", "edgeopt_onnxjson:OnnxJsonSession", "onnxruntime"))
register(
    FormatSpec(
        name="onnx-json",
        description="ONNX model stored as JSON (a test plugin)",
        suffixes=(".onnx.json",),
        runtimes=("onnxruntime-json",),
        exporter="edgeopt_onnxjson:EXPORTER",
        inspector=OnnxJsonInspector(),
    )
)
