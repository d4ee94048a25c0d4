"""x86-64 CPU: ORT offline-optimized ONNX (+ .ort), OpenVINO compiled blob with hints."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.progress import info, quiet, step
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError, UsageError
from edgeopt.optimize.parity import summary_line
from edgeopt.runtimes.base import SessionOptions
from edgeopt.targets.base import (
    CompileOptions,
    Output,
    Produces,
    Target,
    derived,
    output_path,
    parity,
)

# EXTENDED, not ALL: ALL adds NCHWc layout ops tied to this CPU's vector width. The .onnx
# stays portable and ONNX Runtime still applies the layout passes when it loads it.
ORT_LEVEL = "ORT_ENABLE_EXTENDED"
# An .ort file gets no graph optimization at load, so an EXTENDED .ort ran a CNN 1.6x slower
# than the plain .onnx here (no NCHWc). The .ort form is therefore saved at ALL, as
# convert_onnx_models_to_ort does for --target_platform amd64: fast, but tied to this CPU.
ORT_FORMAT_LEVEL = "ORT_ENABLE_ALL"


def ort_optimize(
    src: Path,
    dst: Path,
    level: str = ORT_LEVEL,
    ort_format: bool = False,
    config: dict | None = None,
    disabled: list[str] | None = None,
) -> None:
    """Save ONNX Runtime's offline graph optimizations of `src` as ONNX or .ort."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    so.optimized_model_filepath = str(dst)
    if ort_format:
        so.add_session_config_entry("session.save_model_format", "ORT")
    for k, v in (config or {}).items():
        so.add_session_config_entry(k, v)
    try:
        with quiet():
            ort.InferenceSession(
                str(src), so, providers=["CPUExecutionProvider"], disabled_optimizers=disabled or []
            )
    except Exception as e:
        raise ConversionError(
            f"ONNX Runtime could not optimize {src.name}: {first_line(e, 300, with_type=False)}",
            "check the model loads",
        ) from e
    if not dst.exists():
        raise ConversionError(f"ONNX Runtime wrote no {dst.suffix} file", "check disk space")


def cpu_capabilities() -> list[str]:
    import openvino as ov

    try:
        return list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:
        return []


def ov_precision(requested: str | None) -> str:
    """f32 unless asked; bf16 only where the CPU has it (auto picks it when present)."""
    has_bf16 = "BF16" in cpu_capabilities()
    req = (requested or "f32").lower()
    if req not in ("f32", "bf16", "auto"):
        raise UsageError(f"unknown cpu precision {requested!r}", "use f32, bf16 or auto")
    if req == "bf16" and not has_bf16:
        raise UsageError(
            "this CPU has no bf16 support (OpenVINO OPTIMIZATION_CAPABILITIES)",
            "use --precision f32 or auto",
        )
    if req == "auto":
        return "bf16" if has_bf16 else "f32"
    return req


class CpuTarget(Target):
    name = "cpu"
    description = "x86-64 CPU (ONNX Runtime, OpenVINO)"
    produces = {
        "onnx": Produces(
            ("onnx", "ort"),
            "ONNX with ORT offline optimizations (extended level, portable) + .ort form",
        ),
        "openvino": Produces(
            ("openvino-blob",), "OpenVINO compiled blob (export_model) with latency/throughput hint"
        ),
    }
    precisions = ("fp32", "bf16", "int8")
    runtimes = ("onnxruntime", "openvino")

    def availability(self) -> tuple[bool, str]:
        machine = platform.machine().lower()
        if machine in ("x86_64", "amd64"):
            caps = cpu_capabilities()
            extra = f"; OpenVINO CPU capabilities: {', '.join(caps)}" if caps else ""
            return True, f"{machine}, {os.cpu_count()} cores{extra}"
        return False, f"this machine is {machine}, not x86-64"

    def session_options(self, art: Artifact) -> tuple[str | None, SessionOptions]:
        ov = art.extra.get("openvino")
        if ov:
            return "openvino", SessionOptions(
                threads=art.extra.get("threads"),
                precision=ov.get("INFERENCE_PRECISION_HINT"),
                hint=ov.get("PERFORMANCE_HINT"),
            )
        return "onnxruntime", SessionOptions(threads=art.extra.get("threads"))

    def _compile(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        if art.format == "onnx":
            return self._onnx(art, options, tmp)
        return self._openvino(art, options, tmp)

    def _onnx(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        outs = []
        for suffix, level in ((".onnx", ORT_LEVEL), (".ort", ORT_FORMAT_LEVEL)):
            as_ort = suffix == ".ort"
            final = output_path(art, self.name, suffix, options)
            staged = tmp / final.name
            with step(f"cpu: ONNX Runtime offline optimization ({level}) -> {final.name}"):
                ort_optimize(art.path, staged, level, ort_format=as_ort)
            new = derived(
                art,
                staged,
                "ort" if as_ort else "onnx",
                self.name,
                {"graph_optimization_level": level, "threads": options.threads},
            )
            new.extra = {
                "threads": options.threads,
                "onnxruntime": {
                    "graph_optimization_level": level,
                    "providers": ["CPUExecutionProvider"],
                    "intra_op_num_threads": options.threads,
                },
            }
            if as_ort:
                new.notes.append(
                    "saved at ORT_ENABLE_ALL: may hold NCHWc layout ops for this "
                    "CPU's vector width; compile again on the deployment CPU family"
                )
            self._verify(art, staged, new, options)
            outs.append(Output(staged, final, new))
        return outs

    def _openvino(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        import openvino as ov

        prec = ov_precision(options.precision)
        hint = options.hint.lower()
        if hint not in ("latency", "throughput"):
            raise UsageError(f"unknown --hint {options.hint!r}", "use latency or throughput")
        label = (
            self.name
            + ("-throughput" if hint == "throughput" else "")
            + ("-bf16" if prec == "bf16" else "")
        )
        final = output_path(art, label, ".blob", options)
        staged = tmp / final.name
        config = {"PERFORMANCE_HINT": hint.upper(), "INFERENCE_PRECISION_HINT": prec}
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = options.threads
        with step(f"cpu: OpenVINO compile ({hint}, {prec}) -> {final.name}"):
            try:
                with quiet():
                    compiled = ov.Core().compile_model(str(art.path), "CPU", config)
                    blob = compiled.export_model()
            except Exception as e:
                raise ConversionError(
                    f"OpenVINO could not compile {art.path.name}: {first_line(e, 300, with_type=False)}",
                    "check the IR loads",
                ) from e
            staged.write_bytes(blob.getvalue() if hasattr(blob, "getvalue") else bytes(blob))
        new = derived(
            art,
            staged,
            "openvino-blob",
            self.name,
            {"hint": hint, "precision": prec, "threads": options.threads},
            precision="bf16" if prec == "bf16" else art.precision,
        )
        new.extra = {
            "threads": options.threads,
            "openvino": {
                "device": "CPU",
                **config,
                "openvino_version": ov.__version__,
                "cpu_capabilities": cpu_capabilities(),
            },
        }
        new.notes.append(
            "an OpenVINO CPU blob is tied to this OpenVINO version and CPU family; "
            "import it with the recorded PERFORMANCE_HINT/INFERENCE_PRECISION_HINT"
        )
        self._verify(art, staged, new, options)
        return [Output(staged, final, new)]

    def _verify(self, art: Artifact, staged: Path, new: Artifact, options: CompileOptions) -> None:
        if not options.verify:
            new.notes.append("not verified (--no-verify)")
            return
        runtime, so = self.session_options(new)
        with step(f"cpu: parity of {staged.name} against {art.path.name}"):
            new.parity = parity(art, staged, new.precision, options, so, runtime)
        info(f"[edgeopt]   parity: {summary_line(new.parity)}")
