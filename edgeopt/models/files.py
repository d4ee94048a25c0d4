"""Model files as sources (ONNX, TFLite, OpenVINO IR): specs are read from the file itself."""

from __future__ import annotations

from pathlib import Path

from edgeopt.core.artifact import Artifact
from edgeopt.core.spec import TensorSpec
from edgeopt.errors import UsageError


def check_model_file(path: Path, fmt: str) -> None:
    """Reject files that are not what their suffix says, before any runtime crashes on them."""
    if path.stat().st_size == 0:
        raise UsageError(f"{path} is empty", "re-export or re-download the model")
    if fmt == "onnx":
        import onnx

        try:
            onnx.load(str(path), load_external_data=False)
        except Exception as e:
            raise UsageError(
                f"{path} is not a valid ONNX model ({type(e).__name__})",
                "check the file is complete; re-export it if it was truncated",
            ) from e
    elif fmt == "tflite":
        with open(path, "rb") as f:
            head = f.read(8)
        if head[4:8] != b"TFL3":
            raise UsageError(
                f"{path} is not a TFLite flatbuffer (no TFL3 identifier)",
                "check the file is a complete .tflite model",
            )
    elif fmt == "openvino":
        if not path.with_suffix(".bin").exists():
            raise UsageError(
                f"OpenVINO IR {path} has no {path.with_suffix('.bin').name} beside it",
                "keep the .xml and .bin files together",
            )
        head = path.read_bytes()[:200].lstrip()
        if not head.startswith(b"<?xml") and not head.startswith(b"<net"):
            raise UsageError(f"{path} is not an OpenVINO IR .xml file", "point at the IR's .xml")


def load_file_source(path: Path, fmt: str, input_specs: list[TensorSpec] | None):
    from edgeopt.models.source import SourceModel
    from edgeopt.runtimes import open_session

    check_model_file(path, fmt)
    sess = open_session(path)
    art = Artifact.load(path)
    inputs = input_specs or (art.inputs if art and art.inputs else sess.inputs)
    return SourceModel(
        ref=str(path),
        format=fmt,
        name=path.stem,
        inputs=inputs,
        output_names=[o.name for o in (art.outputs if art and art.outputs else sess.outputs)],
        path=path,
        dataset=art.dataset if art else None,
        task=art.task if art else None,
        artifact=art,
    )
