"""What a target is, and what every target's compile shares: naming, writing, parity."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from edgeopt.artifacts.artifact import Artifact, artifact_files, publish_artifact
from edgeopt.core.files import check_writable, publish, sha256_file, staging_dir
from edgeopt.core.spec import TensorSpec, reconcile_inputs
from edgeopt.data import DataRef, data_ref_name, sample_arrays
from edgeopt.errors import UsageError
from edgeopt.formats import content_precision, format_of, names
from edgeopt.optimize.parity import Tolerance, check_parity
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import PARITY_OPTIONS, SessionOptions


@dataclass
class CompileOptions:
    output_dir: Path | None = None  # default: beside the input
    force: bool = False
    threads: int | None = None  # recorded and used by the compiled runtime config
    hint: str = "latency"  # OpenVINO PERFORMANCE_HINT: latency | throughput
    precision: str | None = None  # cpu OpenVINO: f32 | bf16 | auto (bf16 where the CPU has it)
    io_fp16: bool = False  # gpu: keep fp16 inputs/outputs instead of float32
    data: DataRef = None  # parity/agreement inputs (eval split; default: the artifact's dataset)
    calibration: DataRef = None  # int8 calibration (calib split; default: data's spec)
    samples: int = 64
    atol: float | None = None
    rtol: float | None = None
    verify: bool = True
    inputs: list[TensorSpec] | None = None  # --input: shapes to fix in the compiled model


@dataclass
class Output:
    """One compiled file: where it is staged, where it goes, and its metadata."""

    staged: Path
    final: Path
    artifact: Artifact
    extra_files: list[Path] = field(default_factory=list)  # staged companions (moved too)


def load_input(path: Path) -> Artifact:
    """The artifact to compile: its sidecar, or metadata read from a foreign file."""
    path = Path(path)
    if not path.exists():
        raise UsageError(
            f"artifact not found: {path}", "check the path (optimize export writes one)"
        )
    art = Artifact.load(path)
    if art is not None:
        return art
    fmt = format_of(path)
    if fmt is None:
        raise UsageError(
            f"unknown model format of {path.name}",
            f"give a model file of a known format ({', '.join(names('runtimes'))})",
        )
    art = Artifact(path=path, format=fmt, step="foreign")
    art.precision = content_precision(path) or art.precision
    try:
        sess = open_session(path, options=PARITY_OPTIONS)
        art.inputs, art.outputs = sess.inputs, sess.outputs
    except UsageError:
        pass
    art.refresh_hash()
    return art


@dataclass(frozen=True)
class ModelTraits:
    """What route generation needs to know about a model (see Target.auto_routes)."""

    content: str  # "conv", "matmul" or "other": which compute dominates
    attention: bool  # transformer attention (softmax over MatMul products)
    exportable: tuple[str, ...]  # formats the source can be exported to


@dataclass(frozen=True)
class Produces:
    """What compile writes from one input format: the output formats (main one first)."""

    outputs: tuple[str, ...]
    description: str


class Target(ABC):
    """A kind of device: the formats it takes, how to compile for it, how to run it."""

    reshapes: tuple[str, ...] = ()  # formats whose input shapes compile --input may fix
    name: str = ""
    description: str = ""
    produces: dict[str, Produces] = {}  # input format -> what compile writes from it
    precisions: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    # set when compile itself converts to one precision (gpu: fp16): candidates must ask for
    # it, and no quantize step runs before compile
    fixed_precision: str | None = None
    # input format -> runtime precisions compile can set for it (CompileOptions.precision)
    execution_precisions: dict[str, tuple[str, ...]] = {}

    @property
    def formats(self) -> list[str]:
        """Formats compile takes (what a candidate is exported to)."""
        return list(self.produces)

    def deployable(self) -> list[str]:
        """Formats a candidate may name: what compile takes or writes."""
        outs = [o for p in self.produces.values() for o in p.outputs]
        return list(dict.fromkeys([*self.formats, *outs]))

    def export_format(self, fmt: str) -> str:
        """The format to export for a candidate of format `fmt` (an input of compile)."""
        if fmt in self.produces:
            return fmt
        for source, p in self.produces.items():
            if fmt in p.outputs:
                return source
        raise UsageError(
            f"target {self.name} cannot take {fmt} candidates",
            f"target {self.name} takes: {', '.join(self.deployable())}",
        )

    def auto_routes(self, traits: ModelTraits) -> list[dict]:
        """The routes `routes = "auto"` tries: candidate options (recipe grid keys) per route.

        The default is every format compile takes, in fp32; targets list their own runtimes'
        best routes (precisions, runtime settings) from the model's traits.
        """
        return [{"format": f, "precision": "fp32"} for f in self.formats if f in traits.exportable]

    def pick(self, compiled: list[Artifact], fmt: str) -> Artifact:
        """The compiled artifact a candidate of format `fmt` deploys (the main one by default)."""
        return next((a for a in compiled if a.format == fmt), compiled[0])

    def check_format(self, art: Artifact) -> None:
        if art.format not in self.produces:
            raise UsageError(
                f"target {self.name} cannot take {art.format} artifacts ({art.path.name})",
                f"target {self.name} takes: {', '.join(self.formats)}",
            )

    def compile(self, path: Path, options: CompileOptions | None = None) -> list[Artifact]:
        """Compile the artifact at `path`; returns the new artifacts (written beside it)."""
        options = options or CompileOptions()
        art = load_input(Path(path))
        self.check_format(art)
        if options.inputs:
            if art.format not in self.reshapes:
                raise UsageError(
                    f"--input cannot reshape {art.format} artifacts for target {self.name}",
                    f"export with --input (or --static) instead; compile --input reshapes "
                    f"{', '.join(self.reshapes) or 'no format'} artifacts here",
                )
            given = reconcile_inputs(art.inputs, options.inputs, art.path.name)
            options = dataclasses.replace(options, inputs=given)
        folder = Path(options.output_dir or art.path.parent)
        with staging_dir(folder / f"{art.path.stem}.{self.name}") as tmp:
            outputs = self._compile(art, options, tmp)
            return write_outputs(outputs, options.force)

    @abstractmethod
    def _compile(self, art: Artifact, options: CompileOptions, tmp: Path) -> list[Output]:
        """Build the outputs in a staging folder (verified), without publishing them."""

    @abstractmethod
    def availability(self) -> tuple[bool, str]:
        """Whether this machine can run this target's artifacts now, and why (not)."""

    def session_options(self, art: Artifact) -> tuple[str | None, SessionOptions]:
        """The runtime and options to run/benchmark one of this target's artifacts."""
        return None, SessionOptions(threads=art.extra.get("threads"))


def output_path(art: Artifact, target: str, suffix: str, options: CompileOptions) -> Path:
    """`model.onnx` -> `model.<target><suffix>` beside it (or in --output-dir)."""
    folder = options.output_dir or art.path.parent
    return Path(folder) / f"{art.path.stem}.{target}{suffix}"


def derived(
    parent: Artifact,
    staged: Path,
    fmt: str,
    target: str,
    params: dict,
    precision: str | None = None,
) -> Artifact:
    """A new artifact's metadata, with its parent's lineage, specs and dataset."""
    return Artifact(
        path=staged,
        format=fmt,
        precision=precision or parent.precision,
        target=target,
        inputs=list(parent.inputs),
        outputs=list(parent.outputs),
        parent={
            "path": str(parent.path.resolve()),
            "sha256": parent.sha256 or sha256_file(parent.path),
            "step": parent.step,
        },
        step="compile",
        params={"target": target, **params},
        dataset=parent.dataset,
        task=parent.task,
    )


def write_outputs(outputs: list[Output], force: bool) -> list[Artifact]:
    """Refuse to overwrite, then move each file and its sidecar into place (sidecar last)."""
    finals = []
    for o in outputs:
        finals += [o.final.parent / p.name for p in artifact_files(o.staged)]
        finals += [o.final.parent / p.name for p in o.extra_files]
    check_writable(finals, force)
    done = []
    for o in outputs:
        o.artifact.path = o.staged
        o.artifact.refresh_hash()
        o.artifact.write_sidecar(o.staged)
        publish([(p, o.final.parent / p.name) for p in o.extra_files])
        publish_artifact(o.staged, o.final)
        o.artifact.path = o.final
        done.append(o.artifact)
    return done


def sample_inputs(art: Artifact, n: int, data: DataRef = None, specs=None) -> tuple[list, str]:
    """Real eval samples when the artifact knows its dataset, else seeded random ones.

    The sidecar's specs come first: a runtime may report per-sample dims as dynamic.
    """
    if art.inputs and (specs is None or len(art.inputs) == len(specs)):
        specs = art.inputs
    return sample_arrays(specs, n, data or art.dataset)


def calibration_ref(art: Artifact, options: CompileOptions) -> DataRef:
    """What int8 calibration reads: --calibration, else --data's spec, else the artifact's."""
    if options.calibration is not None:
        return options.calibration
    ref = data_ref_name(options.data) or art.dataset
    if not ref:
        raise UsageError(
            f"int8 calibration needs data and {art.path.name} names no dataset",
            "pass --data (e.g. sklearn:digits or npz:calib.npz)",
        )
    return ref


def parity(
    parent: Artifact,
    staged: Path,
    precision: str,
    options: CompileOptions,
    candidate_options: SessionOptions | None = None,
    runtime: str | None = None,
) -> dict:
    """Compare a compiled file with its input on the same samples; raises ParityError."""
    ref = open_session(parent.path, options=PARITY_OPTIONS)
    cand = open_session(staged, runtime, candidate_options or PARITY_OPTIONS)
    specs = options.inputs or ref.inputs  # --input fixes shapes the parent leaves open
    inputs, described = sample_inputs(
        parent if not options.inputs else dataclasses.replace(parent, inputs=None),
        options.samples,
        options.data,
        specs,
    )
    tol = Tolerance.for_precision(precision, options.atol, options.rtol)
    names = [o.name for o in parent.outputs] or None
    return check_parity(ref, cand, inputs, tol, names, described)
