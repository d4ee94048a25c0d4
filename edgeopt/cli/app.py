"""The `optimize` click group and its error handling; verbs attach themselves to `main`."""

from __future__ import annotations

import sys
import traceback

import click

from edgeopt import __version__
from edgeopt.core import progress
from edgeopt.core.text import first_line
from edgeopt.errors import EdgeoptError, UsageError


def fail(e: EdgeoptError, debug: bool = False) -> None:
    """Print an EdgeoptError as `error:` and `fix:` lines and exit with its code."""
    if debug:
        traceback.print_exc()
    click.echo(f"error: {e.message}", err=True)
    if e.hint:
        click.echo(f"  fix: {e.hint}", err=True)
    sys.exit(e.exit_code)


def os_error(e: OSError) -> EdgeoptError:
    """A file-system failure as the user can act on it: which path, and what to do."""
    import errno

    where = e.filename or "the output"
    reason = e.strerror or first_line(e, 200, with_type=False)
    if isinstance(e, (FileExistsError, NotADirectoryError, IsADirectoryError, FileNotFoundError)):
        return UsageError(
            f"{where}: {reason}",
            "check the path: a folder was expected where a file is, or the reverse",
        )
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return EdgeoptError(
            f"no space left on the device writing {where}",
            "free disk space or write elsewhere (-o)",
        )
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return EdgeoptError(
            f"cannot write {where}: {reason}", "choose a writable output folder (-o)"
        )
    return EdgeoptError(f"{where}: {reason}", "check the path and the disk")


class ErrorHandlingGroup(click.Group):
    """Turns EdgeoptError into a one-line message and its exit code; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EdgeoptError as e:
            fail(e, bool(ctx.obj and ctx.obj.get("debug")))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except OSError as e:
            fail(os_error(e), bool(ctx.obj and ctx.obj.get("debug")))
        except MemoryError as e:
            fail(
                EdgeoptError(
                    f"out of memory: {first_line(e, 200)}",
                    "use smaller inputs or batches (--input, --batch, --samples)",
                ),
                bool(ctx.obj and ctx.obj.get("debug")),
            )
        except KeyboardInterrupt:
            click.echo("error: interrupted; no partial output was kept", err=True)
            sys.exit(130)
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"error: unexpected {first_line(e)}", err=True)
            click.echo("  fix: rerun with --debug for the traceback and report it", err=True)
            sys.exit(1)


@click.group(cls=ErrorHandlingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgeopt")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.option("-v", "--verbose", is_flag=True, help="Show converters' own log output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines: results and errors only.")
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: bool, quiet: bool) -> None:
    """edgeopt: export, quantize, prune, compile, benchmark, gate and package models for edge devices."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    progress.set_verbose(verbose)
    progress.set_quiet(quiet)
