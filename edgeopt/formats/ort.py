"""ONNX Runtime's own flatbuffer format (.ort): pre-optimized, for minimal (mobile) builds."""

from edgeopt.formats.spec import FormatSpec

SPEC = FormatSpec(
    name="ort",
    description="ONNX Runtime format (.ort), for minimal builds",
    suffixes=(".ort",),
    runtimes=("onnxruntime",),
)
