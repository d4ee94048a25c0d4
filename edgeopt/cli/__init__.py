"""The `optimize` command: a click group; each verb lives in its own module and registers itself."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback

import click

from edgeopt import __version__
from edgeopt.core import progress
from edgeopt.errors import EdgeoptError


class ErrorHandlingGroup(click.Group):
    """Turns EdgeoptError into a one-line message and its exit code; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EdgeoptError as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"error: {e.message}", err=True)
            if e.hint:
                click.echo(f"  fix: {e.hint}", err=True)
            sys.exit(e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted; no partial output was kept", err=True)
            sys.exit(130)
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(
                f"error: unexpected {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                err=True,
            )
            click.echo("  fix: rerun with --debug for the traceback and report it", err=True)
            sys.exit(1)


@click.group(cls=ErrorHandlingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgeopt")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.option("-v", "--verbose", is_flag=True, help="Show converters' own log output.")
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """edgeopt: export, quantize, prune, compile, benchmark, gate and package models for edge devices."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    progress.set_verbose(verbose)


def _register_verbs() -> None:
    """Import every `*_cmd` module here; each adds its verb to `main` (no list to keep in sync)."""
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.endswith("_cmd"):
            importlib.import_module(f"{__name__}.{mod.name}")


_register_verbs()
