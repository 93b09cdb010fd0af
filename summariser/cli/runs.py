"""`summariser runs`: what was summarised, with which prompt and model, and why retries happened."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import Settings
from ..errors import StoreError
from ..redaction import redact
from ..store import RUN_STATUSES, RunDetail, RunRow, Store
from ..timeutil import SINCE_HELP, parse_since
from ._common import DbOpt, pipe_console

app = typer.Typer(
    help="Inspect recorded runs: every article summarised, its prompt, model, cost and attempts.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table for people, json for scripts.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Same as --format json.")]

_STATUS_STYLE = {"ok": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}


def open_existing_store(db: Path | None) -> Store:
    """The configured run store; an error (not a new empty file) when there is none yet."""
    path = Settings.load(db_path=db).store_path
    if not path.exists():
        raise StoreError(
            f"no run store at {path}: summarise something first (`summariser summarise ARTICLE`) "
            "or pass --db PATH / set SUMMARISER_DB"
        )
    return Store(path)


@app.command("list")
def list_command(
    since: Annotated[
        Optional[str], typer.Option(help=f"Only runs started since: {SINCE_HELP}.")
    ] = None,
    prompt: Annotated[Optional[str], typer.Option(help="Only this prompt: NAME or NAME@VERSION.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Only runs with this model name.")] = None,
    status: Annotated[
        Optional[str], typer.Option(help=f"Only runs with this status: {', '.join(RUN_STATUSES)}.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs, newest first (0 = all).")] = 50,
    format: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOpt = None,
) -> None:
    """List recorded runs, newest first.

    Examples:
      summariser runs list --since 24h
      summariser runs list --status failed --prompt article@2
      summariser runs list --since 2026-11-01 --format json | jq '.[].id'
    """
    since_at = parse_since(since) if since else None
    with open_existing_store(db) as store:
        rows = store.list_runs(since=since_at, prompt=prompt, model=model, status=status, limit=limit)
    if as_json or format is OutputFormat.json:
        typer.echo(json.dumps([row.to_dict() for row in rows], indent=2, ensure_ascii=False))
        return
    console = pipe_console()
    if not rows:
        console.print("No runs match. Try a wider --since or fewer filters.")
        return
    console.print(_runs_table(rows))


def _runs_table(rows: list[RunRow]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("ID", "Started", "Status"):
        table.add_column(column, justify="right" if column == "ID" else "left", no_wrap=True)
    table.add_column("Article", min_width=16)  # long titles and errors wrap here
    table.add_column("Prompt / model", overflow="fold")
    table.add_column("Tries", justify="right")
    table.add_column("Tokens", justify="right", min_width=6)
    for row in rows:
        style = _STATUS_STYLE.get(row.status, "")
        article = escape(row.title or row.source or f"<text {row.article_sha256[:12]}>")
        if row.error:  # say why it failed right where the user is looking
            article += f"\n[dim]{escape(row.error[:160])}[/dim]"
        table.add_row(
            str(row.id),
            row.created_at.astimezone().strftime("%m-%d %H:%M"),
            f"[{style}]{row.status}[/{style}]" if style else row.status,
            article,
            f"{escape(row.prompt)}\n[dim]{escape(row.model)}[/dim]",
            str(row.attempts),
            f"{row.usage.total_tokens:,}",
        )
    return table


@app.command("show")
def show_command(
    run_id: Annotated[int, typer.Argument(metavar="ID", help="Run id, as shown by `summariser runs list`.")],
    full: Annotated[bool, typer.Option("--full", help="Also print every message sent and each reply in full.")] = False,
    format: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    html: Annotated[Optional[Path], typer.Option("--html", metavar="FILE", help="Write a self-contained page instead: the article with every quote highlighted and linked to its fact or stance, what was kept out and why, the provenance. - for stdout.", show_default=False)] = None,
    db: DbOpt = None,
) -> None:
    """Show one run: its summary and every attempt with the problems that caused a retry.

    Examples:
      summariser runs show 42
      summariser runs show 42 --full
      summariser runs show 42 --format json > run-42.json
      summariser runs show 42 --html run-42.html
    """
    with open_existing_store(db) as store:
        detail = store.get_run(run_id)
        text = store.article_texts([detail.run.article_sha256]).get(detail.run.article_sha256) if html else None
    if html is not None:
        _write_page(detail, text, html)
        return
    if as_json or format is OutputFormat.json:
        typer.echo(redact(json.dumps(detail.to_dict(), indent=2, ensure_ascii=False)))
        return
    _print_detail(pipe_console(), detail, full=full)


def _write_page(detail: RunDetail, text: str | None, out: Path) -> None:
    from ..evidence import render_evidence_html, write_evidence_html

    if detail.summary is None:
        raise StoreError(f"run {detail.run.id} has no summary ({detail.run.status}): nothing to show on a page; see `summariser runs show {detail.run.id}`")
    if text is None:
        raise StoreError(f"run {detail.run.id}: its article text is not in the store: summarise the article again")
    if str(out) == "-":
        typer.echo(render_evidence_html(detail.summary, text), nl=False)
    else:
        write_evidence_html(detail.summary, text, out)
        typer.echo(f"Wrote {out}", err=True)


def _print_detail(console: Console, detail: RunDetail, *, full: bool) -> None:
    run = detail.run
    style = _STATUS_STYLE.get(run.status, "")
    console.print(
        f"[bold]Run {run.id}[/bold]  [{style}]{run.status}[/{style}]  "
        f"{escape(run.prompt)} · {escape(run.model)} @ {escape(run.endpoint)}"
    )
    console.print(f"  article   {escape(run.title or run.source or '(text)')}  [dim]{run.article_sha256[:12]}[/dim]")
    finished = f" → {run.finished_at.astimezone():%H:%M:%S}" if run.finished_at else ""
    console.print(f"  started   {run.created_at.astimezone():%Y-%m-%d %H:%M:%S}{finished}")
    duration = f", {run.duration_s:.1f} s" if run.duration_s is not None else ""
    console.print(
        f"  cost      {run.attempts} attempt(s), {run.usage.total_tokens:,} tokens "
        f"({run.usage.prompt_tokens:,} prompt + {run.usage.completion_tokens:,} completion){duration}"
    )
    console.print(f"  params    {escape(json.dumps(detail.params, sort_keys=True))}")
    if run.error:
        console.print(f"  [red]error[/red]     {escape(redact(run.error))}")

    summary = detail.summary
    if summary is not None:
        console.print()
        console.print(f"[bold]{escape(summary.headline)}[/bold]")
        console.print(escape(summary.summary))
        console.print("\n[bold]Key facts[/bold]")
        for fact in summary.key_facts:
            console.print(f"  • {escape(fact.statement)}\n    [dim]“{escape(fact.quote)}”[/dim]")
        console.print("[bold]Participants[/bold]")
        for person in summary.participants:
            aliases = f" (also {escape(', '.join(person.aliases))})" if person.aliases else ""
            console.print(f"  • {escape(person.name)} [dim]{person.kind}[/dim]{aliases}: {escape(person.role)}")
        if summary.stances:
            console.print("[bold]Stances[/bold]")
            for stance in summary.stances:
                console.print(
                    f"  • {escape(stance.holder)} {stance.position} {escape(stance.target)}\n"
                    f"    [dim]“{escape(stance.quote)}”[/dim]"
                )
        grounding = summary.grounding
        console.print(
            f"[bold]Grounding[/bold]  {grounding.grounding_rate:.0%} of quotes found, "
            f"{grounding.fuzzy_matches} fuzzy, {len(grounding.unverified)} item(s) dropped"
        )
        for dropped in grounding.unverified:
            console.print(f"  [yellow]dropped[/yellow] {escape(dropped.path)}: {escape(dropped.reason)}")

    console.print()
    if not detail.attempts:
        console.print("[dim]No attempts recorded.[/dim]")
    for attempt in detail.attempts:
        verdict = "[green]accepted[/green]" if not attempt.errors else f"[red]{len(attempt.errors)} problem(s)[/red]"
        console.print(
            f"[bold]Attempt {attempt.number}[/bold]  {verdict}  finish={escape(str(attempt.finish_reason))}  "
            f"{attempt.usage.total_tokens:,} tokens  {attempt.latency_s:.1f} s"
            + (f"  {attempt.transport_retries} transport retr{'y' if attempt.transport_retries == 1 else 'ies'}"
               if attempt.transport_retries else "")
        )
        for error in attempt.errors:
            console.print(f"  [red]✗[/red] {escape(redact(error))}")
        if full:
            for message in attempt.messages:
                console.print(f"  [dim]{escape(str(message.get('role', '?')))}:[/dim] {escape(redact(str(message.get('content', ''))))}")
        reply = attempt.reply if attempt.reply is not None else "(no reply)"
        if not full and len(reply) > 300:
            reply = reply[:300] + f"… ({len(reply):,} chars; --full shows all)"
        console.print(f"  [dim]reply:[/dim] {escape(redact(reply))}")
