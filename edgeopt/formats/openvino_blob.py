"""An OpenVINO compiled model (export_model): tied to one OpenVINO version and CPU family."""

from edgeopt.formats.spec import FormatSpec

SPEC = FormatSpec(
    name="openvino-blob",
    description="OpenVINO compiled blob (.blob)",
    suffixes=(".blob",),
    runtimes=("openvino",),
)
