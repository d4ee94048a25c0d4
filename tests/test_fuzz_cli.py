"""Property-based: whatever `--input` spec, budgets file or recipe a user writes, the CLI exits
0, 1 or 2, never shows a traceback, and writes nothing when it fails.

The CLI runs in-process (click's runner) so that hypothesis can try many inputs in a minute;
tests/test_trust.py covers the same paths through the real executable.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeopt.cli.app import main
from edgeopt.cli.main import _register_verbs

from .test_trust import FACTORY

_register_verbs()

FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _invoke(args: list[str], cwd: Path):
    import os

    runner = CliRunner()

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=True)
    finally:
        os.chdir(old)


def _assert_contract(result, folder: Path, before: set[str]) -> None:
    out = result.output + (getattr(result, "stderr", "") or "")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        out,
        repr(result.exception),
    )
    assert result.exit_code in (0, 1, 2), out
    assert "Traceback" not in out and "error: unexpected" not in out, out
    if result.exit_code != 0:
        after = {str(p.relative_to(folder)) for p in folder.rglob("*")}
        assert after == before, (out, sorted(after - before))


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


DIM = st.one_of(
    st.integers(0, 40),
    st.sampled_from([0, 1, 8, 100000, 2**40]),
    st.sampled_from(["batch", "?", "-1", "seq", "", "x", "1.5", "-3", "٣"]),
)
DTYPE = st.one_of(
    st.sampled_from(["float32", "float16", "int64", "int8", "bool", "fp32", "uint8"]),
    st.text("abcfilnot0123456789", min_size=0, max_size=8),
)
INPUT_SPEC = st.builds(
    lambda name, dims, dtype, sep: f"{name}:{sep.join(map(str, dims))}:{dtype}".rstrip(":"),
    st.sampled_from(["input", "x", "", "a:b", "pixel values"]),
    st.lists(DIM, min_size=0, max_size=5),
    DTYPE,
    st.sampled_from(["x", "X", ",", "x"]),
)


@FAST
@given(spec=INPUT_SPEC)
def test_any_input_spec(tmp_path_factory, spec):
    folder = tmp_path_factory.mktemp("in")
    (folder / "fac.py").write_text(FACTORY)
    before = _listing(folder)
    result = _invoke(
        ["export", "fac.py:plain", "--to", "onnx", "-o", "m.onnx", "--input", spec], folder
    )
    _assert_contract(result, folder, before)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, (int,)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def _toml(doc: dict) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for section, body in doc.items():
        if isinstance(body, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


BUDGET_KEY = st.sampled_from(
    [
        "agreement_min",
        "accuracy_min",
        "accuracy_drop_max_points",
        "accuracy_drop_max",
        "cosine_mean_min",
        "latency_p50_ms_max",
        "latency_ratio_max",
        "size_mb_max",
        "peak_memory_mb_max",
        "bogus_key",
    ]
)
VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 200),
    st.sampled_from(["fast", "", "0.5"]),
    st.booleans(),
)
BUDGETS = st.dictionaries(
    st.one_of(BUDGET_KEY, st.sampled_from(["cpu", "arm", "moon"])),
    st.one_of(VALUE, st.dictionaries(BUDGET_KEY, VALUE, max_size=2)),
    max_size=4,
)


@FAST
@given(doc=BUDGETS)
def test_any_budgets_file(exported, tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("bud")
    (folder / "b.toml").write_text(_toml(doc))
    before = _listing(folder)
    art = exported("tabular-mlp", "onnx")
    result = _invoke(
        ["gate", art, "--budgets", "b.toml", "--max-time", "0.2", "--no-memory"], folder
    )
    _assert_contract(result, folder, before)


TARGET_GRID = st.dictionaries(
    st.sampled_from(["format", "precision", "sparsity", "routes", "shape", "nope"]),
    st.one_of(
        st.lists(
            st.sampled_from(["onnx", "openvino", "tflite", "int8", "fp32", "x", 0.5]), max_size=3
        ),
        st.sampled_from(["auto", "onnx", 3]),
    ),
    max_size=3,
)
RECIPE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["ok", "../up", "/abs", "a b", "", "x" * 120, "ünï"]),
        "model": st.fixed_dictionaries(
            {
                "source": st.one_of(
                    st.sampled_from(["builtin:tabular-mlp", "nope.onnx", "", "builtin:x"]), VALUE
                )
            }
        ),
        "candidates": st.dictionaries(
            st.sampled_from(["cpu", "arm", "gpu", "moon"]), TARGET_GRID, max_size=2
        ).map(lambda d: {f"candidates.{k}": v for k, v in d.items()}),
        "budgets": st.dictionaries(BUDGET_KEY, VALUE, max_size=2),
        "bench": st.fixed_dictionaries({}, optional={"max_time": VALUE, "threads": VALUE}),
    },
)


def _flatten(doc: dict) -> dict:
    out = {}
    for k, v in doc.items():
        if k == "candidates":
            out.update(v)
        else:
            out[k] = v
    return out


@FAST
@given(doc=RECIPE)
def test_any_recipe(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("rec")
    (folder / "r.toml").write_text(_toml(_flatten(doc)))
    before = _listing(folder)
    result = _invoke(["run", "r.toml", "--dry-run", "-o", "runs"], folder)
    _assert_contract(result, folder, before)
    assert result.exit_code in (0, 2), result.output  # a dry run builds nothing, so cannot fail
    assert not (folder / "runs").exists()


@pytest.mark.parametrize("bad", ["name = '../x'\n", "[model]\nsource = 3\n"])
def test_fuzz_harness_sees_refusals(tmp_path, bad):
    """The harness itself can fail: these recipes must give exit 2, not 0."""
    (tmp_path / "r.toml").write_text(bad + '[candidates.cpu]\nformat = ["onnx"]\n')
    result = _invoke(["run", "r.toml", "--dry-run"], tmp_path)
    assert result.exit_code == 2, result.output
