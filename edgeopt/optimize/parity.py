"""Parity: an artifact must reproduce its source's outputs within tolerance, or the step fails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeopt.core import fmt
from edgeopt.errors import ParityError
from edgeopt.metrics.compare import compare_outputs
from edgeopt.runtimes.base import Session

# (absolute, relative-to-output-scale) tolerances per precision
DEFAULT_TOLERANCES = {
    "fp32": (1e-4, 1e-4),
    "fp16": (2e-2, 1e-2),
    "bf16": (5e-2, 2e-2),
    "int8": (0.0, 0.25),  # int8 against float; answers are checked separately
}


@dataclass
class Tolerance:
    atol: float
    rtol: float

    @classmethod
    def for_precision(cls, precision: str, atol: float | None = None, rtol: float | None = None):
        da, dr = DEFAULT_TOLERANCES.get(precision, DEFAULT_TOLERANCES["fp32"])
        return cls(da if atol is None else atol, dr if rtol is None else rtol)

    def allows(self, stats: dict) -> bool:
        """Within tolerance when max |a-b| <= atol + rtol * max |ref|."""
        if "shape_mismatch" in stats or stats.get("nonfinite_mismatch"):
            return False
        return stats["max_abs"] <= self.atol + self.rtol * stats["ref_scale"]


def check_parity(
    reference: Session,
    candidate: Session,
    inputs: list[np.ndarray],
    tolerance: Tolerance,
    output_names: list[str] | None = None,
    input_source: str = "",
) -> dict:
    """Run both sessions on `inputs`, compare output by output (by position), raise on failure."""
    ref_out = _run(reference, inputs, input_source, "the reference")
    got_out = _run(candidate, inputs, input_source, "the artifact")
    if len(ref_out) != len(got_out):
        raise ParityError(
            f"output count differs: source has {len(ref_out)}, artifact has {len(got_out)}",
            "the exported graph lost or gained outputs; check the model's forward()",
        )
    names = (
        output_names
        or [o.name for o in candidate.outputs]
        or [f"output_{i}" for i in range(len(got_out))]
    )
    per_output = {}
    failures = []
    for i, (r, g) in enumerate(zip(ref_out, got_out)):
        name = names[i] if i < len(names) else f"output_{i}"
        stats = compare_outputs(r, g)
        stats["within_tolerance"] = tolerance.allows(stats)
        per_output[name] = stats
        if not stats["within_tolerance"]:
            failures.append((name, stats))
    result = {
        "samples": int(len(inputs[0])) if inputs and np.ndim(inputs[0]) else 1,
        "inputs": input_source,
        "reference": reference.describe(),
        "candidate": candidate.describe(),
        "tolerance": {"atol": tolerance.atol, "rtol": tolerance.rtol},
        "outputs": per_output,
        "passed": not failures,
    }
    if failures:
        name, s = failures[0]
        if "shape_mismatch" in s:
            detail = f"shape {s['shape_mismatch'][1]} instead of {s['shape_mismatch'][0]}"
        elif s.get("nonfinite_mismatch"):
            detail = f"{s['nonfinite_mismatch']} value(s) are inf/NaN on one side only"
        else:
            limit = tolerance.atol + tolerance.rtol * s["ref_scale"]
            detail = (
                f"max abs diff {s['max_abs']:.3g} > allowed {limit:.3g} "
                f"(atol {tolerance.atol:g} + rtol {tolerance.rtol:g} x scale {s['ref_scale']:.3g})"
            )
        err = ParityError(
            f"parity check failed on output {name!r}: {detail}",
            "pass --tolerance/--rtol to accept a larger difference, or --no-verify to skip",
        )
        err.result = result
        raise err
    return result


def _run(session: Session, inputs: list[np.ndarray], described: str, which: str) -> list:
    """Run for a parity check; a runtime failure becomes an error that says what was fed."""
    from edgeopt.errors import EdgeoptError

    try:
        return session.run(inputs)
    except EdgeoptError:
        raise
    except Exception as e:
        msg = " ".join(str(e).split())[:300]
        raise EdgeoptError(
            f"running {which} ({session.runtime}) on {described or 'the check inputs'} failed: "
            f"{type(e).__name__}: {msg}",
            "generated inputs can be out of range for a model (token ids, say): pass real "
            "inputs with --data (e.g. npz:samples.npz)",
        ) from e


def summary_line(result: dict) -> str:
    parts = []
    for name, s in result["outputs"].items():
        txt = f"{name}: max_abs={s.get('max_abs', float('nan')):.2e} cos={fmt.number(s.get('cosine'))}"
        if "top1_agreement" in s:
            txt += f" top1={s['top1_agreement']:.3f}"
        parts.append(txt)
    return "; ".join(parts)
