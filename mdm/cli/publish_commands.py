"""``mdm publish``: the per-source sync feeds, and their acknowledgement.

The feeds, the store and pandas are imported in the command, for ``mdm --help`` to start
fast: see ``mdm.cli.base``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mdm.cli.base import ProjectOption, WaitOption, console, load, user_errors, wait_seconds
from mdm.cli.output import rows_table, text
from mdm.errors import MdmError, Reason

if TYPE_CHECKING:
    from mdm.publish.feed_targets import FeedTarget

# The values of mdm.publish.feed_targets.FeedFormat, named here because importing the feeds
# brings pandas and the store into ``mdm --help``.
FeedFormatName = Literal["csv", "parquet", "jsonl"]
FEEDS_FOLDER = "feeds"  # the default --out, in the project folder


def publish(
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "-s",
            metavar="NAME",
            help="Publish this source's feed only (repeat for several; default: every source).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder to write the feeds into, one folder per source (default: feeds/ in "
            "the project folder).",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Write the feeds into tables of this database (a SQLAlchemy URL) instead; "
            "with --ack: read the consumer's acknowledgement there.",
        ),
    ] = None,
    fmt: Annotated[FeedFormatName, typer.Option("--format", "-f")] = "csv",
    ack: Annotated[
        str | None,
        typer.Option(
            "--ack",
            metavar="SOURCE",
            help="Record that SOURCE applied its feed up to SEQ (default: everything published "
            "so far, or what its consumer acknowledged in the --url database); publish nothing.",
        ),
    ] = None,
    seq: Annotated[
        int | None,
        typer.Argument(metavar="[SEQ]", help="With --ack: the last sequence number applied."),
    ] = None,
    project: ProjectOption = Path("."),
    wait: WaitOption = False,
) -> None:
    """Write each source's sync feed: the golden ids of its records, the golden values it
    lacks (with their lineage) and the new contacts of its accounts, since its last
    acknowledged publish."""
    from mdm.publish.feeds import acknowledge
    from mdm.publish.feeds import publish as publish_feeds

    with user_errors():
        if ack is None and seq is not None:
            raise MdmError(Reason.USAGE, f"{seq} is a sequence number: it goes with --ack SOURCE.")
        if out is not None and url is not None:
            raise MdmError(Reason.USAGE, "Give --out or --url, not both: feeds go to one place.")
        found = load(project)
        if ack is not None:
            done = acknowledge(found, ack, seq, url, wait_seconds(wait))
            _print_ack(done.source, done.before, done.after, done.published)
            return
        published = publish_feeds(
            found, _target(found.root, out, url, fmt), sources, wait_seconds(wait)
        )
    rows = [
        (
            item.source,
            str(item.batch) if item.batch else "-",
            str(item.added),
            _range(item.cursor.acked_seq, item.cursor.last_seq),
            str(item.written),
            item.where,
        )
        for item in published
    ]
    header = ("source", "batch", "new rows", "unacknowledged", "rows written", "written to")
    console.print(rows_table("Feeds", header, rows))


def _target(root: Path, out: Path | None, url: str | None, fmt: str) -> FeedTarget:
    from mdm.publish.feed_targets import DatabaseTarget, FeedFormat, FolderTarget

    if url is not None:
        return DatabaseTarget(url)
    return FolderTarget(out if out is not None else root / FEEDS_FOLDER, FeedFormat(fmt))


def _range(acked: int, last: int) -> str:
    return "none" if last <= acked else f"{acked + 1}-{last}"


def _print_ack(source: str, before: int, after: int, published: int) -> None:
    if after == before:
        console.print(
            f"{text(source)}: already acknowledged up to {before} (published: {published}); "
            "nothing changed."
        )
        return
    console.print(
        f"{text(source)}: acknowledged up to {after} (was {before}; published: {published}). "
        "The next publish sends only what comes after."
    )
