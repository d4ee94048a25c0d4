"""`optimize diagnose FLOAT QUANTIZED --data DATA`: which layers quantization hurts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import path_option, value_option
from edgeopt.core import fmt


@main.command("diagnose")
@click.argument("float_model", type=click.Path(path_type=Path))
@click.argument("quantized", type=click.Path(path_type=Path))
@click.option("--data", help="Samples to run (default: the model's dataset, calib split).")
@click.option("--samples", type=int, default=64, show_default=True)
@value_option("--top", kind=int, default=20, help="Rows to print.")
@path_option("--json", "json_out", help="Write all rows as JSON.")
def diagnose_cmd(float_model, quantized, data, samples, top, json_out) -> None:
    """Compare FLOAT and QUANTIZED layer by layer (SQNR, cosine, max error), worst first."""
    from edgeopt.artifacts.artifact import Artifact
    from edgeopt.cli.options import parse_positive
    from edgeopt.core.files import atomic_write_text
    from edgeopt.data import fit_inputs, load_dataset, random_inputs
    from edgeopt.errors import UsageError
    from edgeopt.formats import format_of, get_format
    from edgeopt.optimize import diagnose as dg
    from edgeopt.optimize.quantize import backend_for, quantizable_ops
    from edgeopt.runtimes import open_session
    from edgeopt.runtimes.base import SessionOptions

    parse_positive("--samples", samples)
    for p in (float_model, quantized):
        if not p.exists():
            raise UsageError(f"model file not found: {p}", "check the path")
    art = Artifact.load(float_model)
    specs = art.inputs if art else open_session(float_model, options=SessionOptions()).inputs
    spec = data or (art.dataset if art else None)
    if spec:
        arrays = fit_inputs(load_dataset(spec, "calib", samples=samples), specs)
        source = f"{spec} (calib split, {len(arrays[0])} samples)"
    else:
        arrays = random_inputs(specs, min(samples, 16))
        source = "seeded random inputs (pass --data for real samples)"
    form = get_format(format_of(float_model) or "unknown", "diagnoser").name
    stats = dg.diagnose(float_model, quantized, arrays, quantizable_ops(backend_for(form)))
    click.echo(f"{len(stats)} layers compared on {source}; worst SQNR first")
    click.echo(f"{'layer':44} {'op':12} {'SQNR dB':>8} {'noise+':>7} {'cosine':>8} {'max err':>10}")
    for s in stats[:top]:
        click.echo(
            f"{s.layer[:44]:44} {s.op_type[:12]:12} {s.sqnr_db:8.2f} {s.added_db:7.2f} "
            f"{fmt.number(s.cosine):>8} {s.max_abs_err:10.4g}"
        )
    suggest = dg.suggest_exclusions(stats)
    if suggest:
        click.echo("suggested: --exclude " + ",".join(suggest))
    else:
        click.echo("no layer stands out (each adds noise under -20 dB of its signal)")
    if json_out:
        atomic_write_text(
            json_out,
            json.dumps(
                {"data": source, "layers": dg.stats_to_json(stats), "suggested_exclude": suggest},
                indent=2,
            )
            + "\n",
        )
