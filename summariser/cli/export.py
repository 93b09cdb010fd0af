"""`summariser export`: stored summaries as schema-checked JSON, JSONL or CSV."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..timeutil import SINCE_HELP, parse_since
from ._common import DbOpt
from .runs import open_existing_store


class ExportFormatChoice(str, Enum):
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class TableChoice(str, Enum):
    summaries = "summaries"
    facts = "facts"
    participants = "participants"
    stances = "stances"


def export_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", dir_okay=False, help="File to write; replaced only once complete.")
    ],
    format: Annotated[
        Optional[ExportFormatChoice],
        typer.Option("--format", "-f", help="json, jsonl or csv (default: from the --out extension)."),
    ] = None,
    table: Annotated[
        TableChoice, typer.Option(help="What one row is: a summary, or one fact, participant or stance.")
    ] = TableChoice.summaries,
    since: Annotated[
        Optional[str], typer.Option(help=f"Only summaries made since: {SINCE_HELP}.")
    ] = None,
    prompt: Annotated[Optional[str], typer.Option(help="Only this prompt: NAME or NAME@VERSION.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Only summaries from this model.")] = None,
    db: DbOpt = None,
) -> None:
    """Export stored summaries, each checked against the published JSON Schema first.

    If any record fails the check nothing is written, and the error names the run.
    Columns of each CSV table are listed in the summariser.export module docs.

    Examples:
      summariser export --out summaries.jsonl
      summariser export --out facts.csv --table facts --since 7d
      summariser export --out week.json --prompt article@2 --model gpt-4o-mini --since 2026-11-01
    """
    from ..export import export_format, export_results  # csv, the store: when the command runs

    fmt = export_format(out, format.value if format is not None else None)
    since_at = parse_since(since) if since else None
    with open_existing_store(db) as store:
        report = export_results(
            store, fmt=fmt, out=out, since=since_at, prompt=prompt, model=model, table=table.value  # type: ignore[arg-type]
        )
    what = (
        f"{report.count:,} {'summary' if report.count == 1 else 'summaries'}"
        if table is TableChoice.summaries
        else f"{report.count:,} {'row' if report.count == 1 else 'rows'} of the {table.value} table"
    )
    Console(highlight=False, stderr=True, soft_wrap=True).print(
        f"Exported {what} to {escape(str(report.path))}, every record checked against the published schema."
    )
