"""Verify a compiled artifact where its target runs it: cpu here, arm under emulation, gpu on a GPU.

`verify_path` is the one entry point; a bundle (a folder) will dispatch from there later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeopt.core import fmt
from edgeopt.errors import EdgeoptError, UsageError
from edgeopt.optimize.parity import Tolerance, check_parity
from edgeopt.runtimes import open_session
from edgeopt.targets.base import PARITY_OPTIONS, load_input, sample_inputs
from edgeopt.targets.registry import get_target, open_target_session

ARM_FORMATS = ("tflite", "ort", "onnx")
# same file, two CPU architectures: int8 kernels may round a step apart (1 step ~ 0.8% of range)
ARM_TOLERANCES = {"int8": (0.0, 0.03)}


def verify_path(
    path: Path,
    target: str | None = None,
    samples: int = 32,
    data: str | None = None,
    atol: float | None = None,
    rtol: float | None = None,
) -> dict:
    path = Path(path)
    if path.is_dir():
        raise UsageError(
            f"{path} is a folder; verifying bundles is not supported yet", "give one artifact file"
        )
    art = load_input(path)
    name = target or art.target
    if not name:
        raise UsageError(f"{path.name} names no target", "pass --target cpu|gpu|arm")
    t = get_target(name)
    if name == "arm":
        return verify_arm(path, samples, data, atol, rtol)
    if name == "gpu":
        ok, why = t.availability()
        if not ok:
            raise EdgeoptError(
                f"cannot verify {path.name} on gpu: {why}",
                "run it on a machine with an NVIDIA GPU (see benchmarks/gpu_check.py)",
            )
    if art.target is None:
        t.check_format(art)
    return _against_parent(path, art, samples, data, atol, rtol)


def _against_parent(path, art, samples, data, atol, rtol) -> dict:
    """Run the artifact as its target does and compare with the artifact it was compiled from."""
    parent = (art.parent or {}).get("path")
    if not parent or not Path(parent).exists():
        raise UsageError(
            f"the parent of {path.name} is not at {parent}",
            "keep the exported artifact beside the compiled one",
        )
    ref = open_session(Path(parent), options=PARITY_OPTIONS)
    cand = open_target_session(path)
    inputs, described = sample_inputs(art, samples, data, ref.inputs)
    tol = Tolerance.for_precision(art.precision, atol, rtol)
    return check_parity(ref, cand, inputs, tol, [o.name for o in art.outputs] or None, described)


def verify_arm(
    path: Path,
    samples: int = 32,
    data: str | None = None,
    atol: float | None = None,
    rtol: float | None = None,
) -> dict:
    """Run the file on aarch64 (qemu) and compare with the same file run here on x86."""
    from edgeopt.targets.emulation import EmulatedArmSession, require_env

    art = load_input(path)
    if art.format not in ARM_FORMATS:
        raise UsageError(
            f"{path.name} ({art.format}) does not run on the arm target",
            f"arm runs: {', '.join(ARM_FORMATS)}",
        )
    env = require_env()
    ref = open_session(path, options=PARITY_OPTIONS)
    cand = EmulatedArmSession(path, ref, env)
    inputs, described = sample_inputs(art, samples, data, ref.inputs)
    if art.precision in ARM_TOLERANCES:
        da, dr = ARM_TOLERANCES[art.precision]
        tol = Tolerance(da if atol is None else atol, dr if rtol is None else rtol)
    else:
        tol = Tolerance.for_precision(art.precision, atol, rtol)
    result = check_parity(ref, cand, inputs, tol, [o.name for o in art.outputs] or None, described)
    rep = cand.report
    result["target"] = "arm"
    result["emulation"] = {
        "machine": rep.get("machine"),
        "python": rep.get("python"),
        "qemu_cpu": rep.get("qemu_cpu"),
        "runtime": f"{rep.get('runtime')} {rep.get('runtime_version')}",
        "emulated_latency_ms_median": rep.get("emulated_latency_ms_median"),
        "emulated_latency_batch": rep.get("latency_batch"),
        "note": rep.get("note"),
        "environment": str(env.root),
    }
    if rep.get("machine") != "aarch64":
        raise EdgeoptError(
            f"the emulated run reported {rep.get('machine')}, not aarch64",
            "check qemu-aarch64-static",
        )
    return result


def describe_result(result: dict) -> str:
    lines = []
    for name, s in result["outputs"].items():
        lines.append(
            f"  {name}: max_abs={s.get('max_abs', np.nan):.3g} cos={fmt.number(s.get('cosine'))}"
            + (f" top1={s['top1_agreement']:.3f}" if "top1_agreement" in s else "")
        )
    emu = result.get("emulation")
    if emu:
        lines.append(
            f"  ran on {emu['machine']} (qemu-user emulation, -cpu {emu['qemu_cpu']}), Python {emu['python']}, "
            f"{emu['runtime']}"
        )
        lines.append(
            f"  emulated latency (not device latency, never gated): median "
            f"{emu['emulated_latency_ms_median']} ms at batch {emu['emulated_latency_batch']}"
        )
    return "\n".join(lines)
