"""`summariser schema`: the published JSON Schema that exports and downstream tools rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape


def schema_command(
    out: Annotated[
        Optional[Path],
        typer.Option("--out", file_okay=False, help="Write every published schema file into this directory."),
    ] = None,
) -> None:
    """Print the ArticleSummary JSON Schema, or write all published schema files.

    Examples:
      summariser schema > article-summary.schema.json
      summariser schema --out schemas/
    """
    from ..schemafiles import published_schema_text, write_schema_files

    if out is None:
        typer.echo(published_schema_text(), nl=False)
        return
    console = Console(highlight=False)
    for path in write_schema_files(out):
        console.print(f"wrote {escape(str(path))}")
