"""Model files as sources (ONNX, TFLite, OpenVINO IR): specs are read from the file itself."""

from __future__ import annotations

from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.spec import TensorSpec, reconcile_inputs
from edgeopt.formats import FormatSpec
from edgeopt.models.base import SourceModel
from edgeopt.runtimes import open_session


def load_file_source(
    path: Path, spec: FormatSpec, input_specs: list[TensorSpec] | None
) -> SourceModel:
    spec.inspector.check(path)
    sess = open_session(path)
    art = Artifact.load(path)
    declared = art.inputs if art and art.inputs else sess.inputs
    inputs = reconcile_inputs(declared, input_specs, path.name)
    return SourceModel(
        ref=str(path),
        format=spec.name,
        name=path.stem,
        inputs=inputs,
        output_names=[o.name for o in (art.outputs if art and art.outputs else sess.outputs)],
        path=path,
        dataset=art.dataset if art else None,
        task=art.task if art else None,
        artifact=art,
    )
