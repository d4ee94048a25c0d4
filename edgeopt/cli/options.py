"""Options several verbs share, defined once."""

from __future__ import annotations

from pathlib import Path

import click

from edgeopt.core.spec import parse_input_spec
from edgeopt.errors import UsageError


def input_specs(values: tuple[str, ...]):
    return [parse_input_spec(v) for v in values] or None


input_option = click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME:SHAPE:DTYPE",
    help="Input spec, e.g. pixel_values:batchx3x224x224:float32 (repeat per input; "
    "'batch' or '?' marks a dynamic dim).",
)
trust_pickle_option = click.option(
    "--trust-pickle",
    is_flag=True,
    help="Allow loading full pickles (.pt/.pth), which can run arbitrary code.",
)
factory_arg_option = click.option(
    "--factory-arg",
    "factory_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Keyword argument for a factory, e.g. --factory-arg d_model=64 (values are Python literals).",
)


def parse_factory_args(values: tuple[str, ...]) -> dict:
    import ast

    out = {}
    for v in values:
        key, sep, raw = v.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(
                f"malformed --factory-arg {v!r}", "write it as KEY=VALUE, e.g. nhead=4"
            )
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw  # a bare word is taken as a string
    return out


force_option = click.option("--force", is_flag=True, help="Overwrite existing outputs.")


def task_option(f):
    """--task for verbs that load sources: what an hf: folder is used as (default: config.json)."""
    from edgeopt.models.hf import TASKS

    return click.option(
        "--task",
        type=click.Choice(list(TASKS)),
        help="hf: folders: the task (default: from config.json architectures).",
    )(f)


class FiniteFloat(click.ParamType):
    """A float option that refuses NaN, inf and values below `minimum` while parsing, so a bad
    value stops the command before any work (click's float takes 'nan')."""

    name = "number"

    def __init__(self, minimum: float | None = None):
        self.minimum = minimum

    def convert(self, value, param, ctx):
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.minimum is not None and number < self.minimum:
            self.fail(f"{value!r} is below {self.minimum:g}", param, ctx)
        return number


FINITE = FiniteFloat()
NON_NEGATIVE = FiniteFloat(0.0)


def parse_positive(name: str, value: float | None, upper: float | None = None) -> None:
    if value is None:
        return
    if not value > 0 or (upper is not None and not value < upper):  # NaN fails both
        bound = f"in (0, {upper})" if upper else "> 0"
        raise UsageError(f"{name} must be {bound}, got {value}", f"pass a value {bound}")


def value_option(*decls: str, kind: type, default, help: str):
    """An option with a typed default shown in --help (`--samples 64`)."""
    kind = FINITE if kind is float else kind
    return click.option(*decls, type=kind, default=default, show_default=True, help=help)


def path_option(*decls: str, help: str, **kw):
    """An option naming a file or folder, given to the command as a Path."""
    return click.option(*decls, type=click.Path(path_type=Path), help=help, **kw)


accuracy_budget_option = click.option(
    "--accuracy-budget",
    "accuracy_budget",
    multiple=True,
    metavar="KEY=VALUE",
    help="Quality budget in the model's own metric, e.g. agreement_min=0.99, "
    "cosine_mean_min=0.997, accuracy_drop_max_points=1 (fractions 0..1, points 0..100; "
    "repeatable). The same keys as budgets files and recipes.",
)


def parse_accuracy_budget(values: tuple[str, ...]) -> dict[str, float] | None:
    from edgeopt.metrics.quality import parse_budget_args

    return parse_budget_args(values, "--accuracy-budget") or None


def tolerance_options(f):
    """--tolerance/--rtol for every verb that checks outputs against a reference."""
    f = click.option(
        "--rtol", type=NON_NEGATIVE, help="Tolerance relative to the output's largest magnitude."
    )(f)
    return click.option(
        "--tolerance",
        "atol",
        type=NON_NEGATIVE,
        help="Absolute parity tolerance (default per precision).",
    )(f)
