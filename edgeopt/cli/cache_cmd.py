"""`optimize cache info|verify|clean`: look into, check and empty the artifact cache that
`optimize run` reuses (the logic is in edgeopt.artifacts.cache)."""

from __future__ import annotations

import click

from edgeopt.cli.app import main
from edgeopt.cli.options import NON_NEGATIVE, path_option

cache_option = path_option(
    "--cache", "cache_dir", help="Artifact cache (default: $EDGEOPT_CACHE or ~/.cache/edgeopt)."
)


def _open(cache_dir):
    from edgeopt.artifacts.cache import ArtifactCache

    return ArtifactCache.at(cache_dir)


@main.group("cache")
def cache_cmd() -> None:
    """The artifact cache of `optimize run`: where it is, whether its entries are intact, and
    removing them. Entries are checked against the sha256 recorded when they were stored."""


@cache_cmd.command("info")
@cache_option
def info_cmd(cache_dir) -> None:
    """Where the cache is, how many entries, their size, and the oldest/newest by last use."""
    from edgeopt.core.files import human_bytes

    i = _open(cache_dir).info()
    click.echo(f"cache: {i.root}{'' if i.root.is_dir() else ' (not created yet)'}")
    click.echo(f"entries: {i.entries}, {human_bytes(i.bytes)} ({i.bytes} bytes)")
    if i.oldest is not None and i.newest is not None:
        click.echo(f"oldest: {i.oldest:%Y-%m-%d %H:%M:%S} UTC (last used)")
        click.echo(f"newest: {i.newest:%Y-%m-%d %H:%M:%S} UTC (last used)")
    if i.leftovers:
        click.echo(f"leftovers of interrupted builds: {i.leftovers} (`optimize cache clean`)")


@cache_cmd.command("verify")
@cache_option
@click.option("--repair", is_flag=True, help="Remove the corrupt entries (rebuilt when needed).")
def verify_cmd(cache_dir, repair: bool) -> None:
    """Rehash every entry against its record. Exit 1 when one is corrupt (0 with --repair once
    they are removed)."""
    from edgeopt.errors import EdgeoptError

    cache = _open(cache_dir)
    checked, bad = cache.verify(repair=repair)
    for c in bad:
        click.echo(f"corrupt: {c.path} ({c.problem}){': removed' if repair else ''}")
    click.echo(
        f"{checked} entr{'y' if checked == 1 else 'ies'} checked in {cache.root}, "
        f"{len(bad)} corrupt{', removed' if repair and bad else ''}"
    )
    if bad and not repair:
        raise EdgeoptError(
            f"{len(bad)} corrupt cache entr{'y' if len(bad) == 1 else 'ies'} in {cache.root}",
            "run `optimize cache verify --repair` to remove them; the next run rebuilds them",
        )


@cache_cmd.command("clean")
@cache_option
@click.option(
    "--older-than",
    "older_than",
    type=NON_NEGATIVE,
    metavar="DAYS",
    help="Only entries not used for more than DAYS days (default: everything).",
)
def clean_cmd(cache_dir, older_than: float | None) -> None:
    """Remove cache entries (all of them, or the unused ones); asks nothing, lists what went."""
    from edgeopt.core.files import human_bytes

    cache = _open(cache_dir)
    removed = cache.clean(older_than)
    for name, size in removed:
        click.echo(f"removed {cache.root / name} ({human_bytes(size)})")
    total = sum(size for _, size in removed)
    click.echo(f"{len(removed)} removed from {cache.root}, {human_bytes(total)} freed")
