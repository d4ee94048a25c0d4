"""x86-64 CPU: ORT offline-optimized ONNX (+ .ort), OpenVINO compiled blob with hints."""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact
from edgeopt.core.progress import info, quiet, step
from edgeopt.core.text import first_line
from edgeopt.errors import ConversionError, UsageError
from edgeopt.optimize.parity import summary_line
from edgeopt.runtimes.base import SessionOptions
from edgeopt.targets.base import (
    CompileOptions,
    ModelTraits,
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


# runtime precision -> the OPTIMIZATION_CAPABILITIES entry that makes it fast (without it,
# OpenVINO emulates the type: bf16 ran 40x slower than f32 on a CPU without AVX512-BF16/AMX)
EXECUTION_CAPABILITY = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}


def execution_precisions() -> list[str]:
    """The OpenVINO runtime precisions this CPU runs natively."""
    caps = cpu_capabilities()
    return [p for p, cap in EXECUTION_CAPABILITY.items() if cap in caps or p == "f32"]


def ov_precision(requested: str | None) -> str:
    """f32 unless asked; bf16/f16 only where the CPU has them (auto: bf16 where present)."""
    req = (requested or "f32").lower()
    if req not in (*EXECUTION_CAPABILITY, "auto"):
        raise UsageError(
            f"unknown cpu precision {requested!r}", f"use {', '.join(EXECUTION_CAPABILITY)} or auto"
        )
    native = execution_precisions()
    if req == "auto":
        return "bf16" if "bf16" in native else "f32"
    if req not in native:
        raise UsageError(
            f"this CPU has no native {req} (OpenVINO OPTIMIZATION_CAPABILITIES: "
            f"{', '.join(cpu_capabilities()) or 'unknown'})",
            f"use --precision {' or '.join(native)}, or auto",
        )
    return req


class CpuTarget(Target):
    name = "cpu"
    description = "x86-64 CPU (ONNX Runtime, OpenVINO, LiteRT)"
    produces = {
        "onnx": Produces(
            ("onnx", "ort"),
            "ONNX with ORT offline optimizations (extended level, portable) + .ort form",
        ),
        "openvino": Produces(
            ("openvino-blob",), "OpenVINO compiled blob (export_model) with latency/throughput hint"
        ),
        "tflite": Produces(
            ("tflite",), "TFLite for LiteRT with XNNPACK on x86-64, threads recorded"
        ),
    }
    execution_precisions = {"openvino": ("f32", "bf16", "f16")}
    precisions = ("fp32", "bf16", "int8")
    runtimes = ("onnxruntime", "openvino", "litert")
    reshapes = ("openvino",)

    def auto_routes(self, traits: ModelTraits) -> list[dict]:
        """Each runtime's own best routes for this model's content and this CPU's precisions.

        ORT: fp32 (transformer fusion when there is attention), dynamic int8 only where MatMul
        dominates (dynamic int8 convolutions run far slower than float), static QDQ int8.
        OpenVINO: fp32 at every runtime precision this CPU runs natively (bf16/f16 are a
        measured accuracy choice, like int8), NNCF static int8, and where MatMul dominates
        int8-compressed weights, whose activations the CPU plugin quantizes at run time on
        CPUs with VNNI/AMX (elsewhere it only decompresses them and runs at f32 speed).
        LiteRT: fp32, dynamic-range and full int8 on XNNPACK.
        """
        routes: list[dict] = []
        can = set(traits.exportable)
        if "onnx" in can:
            routes.append({"format": "onnx", "precision": "fp32", "fusion": traits.attention})
            if traits.content == "matmul":
                routes.append(
                    {"format": "onnx", "precision": "int8-dynamic", "fusion": traits.attention}
                )
            routes.append({"format": "onnx", "precision": "int8-static"})
        if "openvino" in can:
            native = execution_precisions()
            routes += [{"format": "openvino", "precision": "fp32", "execution": e} for e in native]
            int8 = ["int8-static"] + (["int8-dynamic"] if traits.content == "matmul" else [])
            routes += [
                {"format": "openvino", "precision": p, "execution": e}
                for p in int8
                for e in native
                if e != "f16"
            ]
        if "tflite" in can:
            routes += [
                {"format": "tflite", "precision": p}
                for p in ("fp32", "int8-dynamic", "int8-static")
            ]
        return routes

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
        return None, SessionOptions(threads=art.extra.get("threads"))

    def _compile(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        build = {"onnx": self._onnx, "openvino": self._openvino, "tflite": self._tflite}
        return build[art.format](art, options, tmp)

    def _tflite(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        """LiteRT needs no offline step on x86: the file as it is, with its threads recorded
        (XNNPACK, the default delegate, runs it)."""
        final = output_path(art, self.name, ".tflite", options)
        staged = tmp / final.name
        shutil.copyfile(art.path, staged)
        new = derived(art, staged, "tflite", self.name, {"threads": options.threads})
        new.extra = {
            "threads": options.threads,
            "litert": {"delegate": "XNNPACK (default in LiteRT)", "num_threads": options.threads},
        }
        self._verify(art, staged, new, options)
        return [Output(staged, final, new)]

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
            + (f"-{prec}" if prec != "f32" else "")
        )
        final = output_path(art, label, ".blob", options)
        staged = tmp / final.name
        config = {"PERFORMANCE_HINT": hint.upper(), "INFERENCE_PRECISION_HINT": prec}
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = options.threads
        with step(f"cpu: OpenVINO compile ({hint}, {prec}) -> {final.name}"):
            try:
                with quiet():
                    core = ov.Core()
                    model = core.read_model(str(art.path))
                    if options.inputs:  # --input: the blob is specialised to these shapes
                        model.reshape(
                            {
                                s.name: ov.PartialShape(
                                    [d if isinstance(d, int) else -1 for d in s.shape]
                                )
                                for s in options.inputs
                            }
                        )
                    compiled = core.compile_model(model, "CPU", config)
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
            precision={"bf16": "bf16", "f16": "fp16"}.get(prec, art.precision),
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
        if options.inputs:
            new.inputs = list(options.inputs)
            new.params["inputs"] = [str(s) for s in options.inputs]
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
