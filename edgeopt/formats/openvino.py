"""OpenVINO IR: an .xml graph with its .bin weights; quantized with NNCF."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from edgeopt.errors import UsageError
from edgeopt.formats.spec import FormatSpec


def xml_and_bin(path: Path) -> list[Path]:
    return [path, path.with_suffix(".bin")]


def read_model(path: Path):
    import openvino as ov

    return ov.Core().read_model(str(path))


class OpenVINOInspector:
    def check(self, path: Path) -> None:
        if path.stat().st_size == 0:
            raise UsageError(f"{path} is empty", "re-export or re-download the model")
        if not path.with_suffix(".bin").exists():
            raise UsageError(
                f"OpenVINO IR {path} has no {path.with_suffix('.bin').name} beside it",
                "keep the .xml and .bin files together",
            )
        head = path.read_bytes()[:200].lstrip()
        if not head.startswith(b"<?xml") and not head.startswith(b"<net"):
            raise UsageError(f"{path} is not an OpenVINO IR .xml file", "point at the IR's .xml")

    def op_counts(self, path: Path) -> dict[str, int]:
        return dict(Counter(op.get_type_name() for op in read_model(path).get_ordered_ops()))

    def precision(self, path: Path) -> str | None:
        ops = read_model(path).get_ordered_ops()
        if any(op.get_type_name() == "FakeQuantize" for op in ops):
            return "int8"
        consts = {
            op.get_output_element_type(0).get_type_name()
            for op in ops
            if op.get_type_name() == "Constant"
        }
        if consts & {"i8", "u8", "i4", "u4"}:
            return "int8"
        return "fp16" if "f16" in consts else "fp32"

    def stats(self, path: Path) -> dict:
        ops = read_model(path).get_ordered_ops()
        params = sum(
            int(np.prod(op.get_output_shape(0)))
            for op in ops
            if op.get_type_name() == "Constant" and op.get_output_partial_shape(0).is_static
        )
        hist = Counter(op.get_type_name() for op in ops)
        return {"parameters": params, "op_histogram": dict(hist.most_common())}


SPEC = FormatSpec(
    name="openvino",
    description="OpenVINO IR (.xml + .bin)",
    suffixes=(".xml",),
    runtimes=("openvino",),
    exporter="edgeopt.optimize.export.openvino_backend:EXPORTER",
    quantizer="edgeopt.optimize.quantize.openvino_backend:BACKEND",
    diagnoser="edgeopt.optimize.diagnose.openvino_backend:BACKEND",
    inspector=OpenVINOInspector(),
    companions=xml_and_bin,
)
