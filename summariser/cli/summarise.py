"""``summariser summarise``: one or many articles to structured summaries."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ..errors import ConfigError, Interrupted
from ..sources import DIRECTORY_HELP
from ._common import (
    SOURCES_HELP,
    BaseUrlOpt,
    DbOpt,
    FetchTimeoutOpt,
    LocalModelOpt,
    MaxCharsOpt,
    Mode,
    ModelOpt,
    PromptOpt,
    RetryBudgetOpt,
    console,
    err_console,
    load_settings,
    mode_option,
    print_json,
    print_warning,
    stdout_is_terminal,
)
from .display import summary_panel
from .progress import ArticleProgress

if TYPE_CHECKING:  # the library the command calls is imported when it runs, not at CLI start-up
    from ..collect import Collection
    from ..extract import Outcome
    from ..outputs import OutputDir


class Format(str, Enum):
    auto = "auto"
    text = "text"
    json = "json"
    html = "html"


def summarise_command(
    articles: Annotated[list[str], typer.Argument(help=f"{SOURCES_HELP} {DIRECTORY_HELP}", show_default=False)],
    glob: Annotated[str | None, typer.Option("--glob", metavar="PATTERN", help="Files a directory contributes, e.g. '*.md'. Default: *.txt, *.html, *.htm.", show_default=False)] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="text: readable panels; json: one JSON object per article (JSON Lines); html: a self-contained page with the article, every quote highlighted and linked to its fact or stance, what was kept out and why (on stdout for one article, else one .html per article in --out). auto: text on a terminal, JSON on a pipe.")] = Format.auto,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write one JSON file (and with --format html, one page) per article into this directory.", show_default=False)] = None,
    prompt: PromptOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: Annotated[Mode | None, mode_option()] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, max=10, help="Replies to try before giving up; failures are fed back to the model. Default: 3.", show_default=False)] = None,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help="Fail an article when any quote stays ungrounded, instead of keeping those items out. Default: --no-strict.", show_default=False)] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore cached results and call the model again.")] = False,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not read or write the run store (no cache, no history).")] = False,
    db: DbOpt = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-j", min=1, max=64, help="Articles in flight at once (1 suits the local model). Default: 1.", show_default=False)] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=1, help="Seconds to wait for one reply. Default: 120.", show_default=False)] = None,
    retry_budget: RetryBudgetOpt = None,
    max_chars: MaxCharsOpt = None,
    fetch_timeout: FetchTimeoutOpt = 20.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr (errors are still printed).")] = False,
    local_model: LocalModelOpt = None,
) -> None:
    """Summarise articles into grounded, schema-checked JSON.

    Every quote is checked against the article; failures are sent back to the model and retried.
    Results are cached in the run store: summarising the same text again costs no model call.
    Progress goes to stderr: a bar on a terminal; on a pipe or in cron one line per article
    (done, cached or failed, seconds, count so far) and a final count.

    Examples:

      summariser summarise seeds/reuters-moscow-beijing-ukraine.txt

      summariser summarise seeds/*.txt --out summaries/

      summariser summarise https://example.com/news/story.html

      summariser summarise story.txt --format html > story.html

      summariser summarise seeds/*.txt > all.jsonl 2> progress.log

      curl -s https://example.com/story | summariser summarise - --format json

      OPENAI_API_KEY=sk-... summariser summarise story.txt --model gpt-4o-mini --prompt article@1
    """
    settings = load_settings(
        prompt=prompt,
        model=model,
        base_url=base_url,
        mode=mode.value if mode else None,
        max_attempts=max_attempts,
        strict=strict,
        db_path=db,
        concurrency=concurrency,
        timeout_s=timeout,
        retry_budget_s=retry_budget,
        local_model=local_model,
        max_chars=max_chars,
        defaults={"concurrency": 1},  # summarise's own default; config and env still override it
    )
    from ..collect import collect_articles
    from ..job import SummariseJob
    from ..outputs import OutputDir, outcome_failure_record

    as_json = fmt is Format.json or (fmt is Format.auto and not stdout_is_terminal())
    out_dir = OutputDir(out) if out is not None else None
    collection = collect_articles(articles, timeout_s=fetch_timeout, pattern=glob)
    failures = _report_collection(collection, as_json=as_json)
    loaded = collection.articles
    if fmt is Format.html and out is None and len(loaded) > 1:
        raise ConfigError(f"--format html writes one page per article: for {len(loaded)} articles pass --out DIR")

    job = SummariseJob(loaded, settings, use_store=not no_store, refresh=refresh)
    succeeded = finished = 0
    try:
        with job, ArticleProgress(len(loaded), err=err_console, out=console, quiet=quiet) as progress:
            for outcome in job.outcomes():
                progress.advance(outcome)
                finished += 1
                if outcome.error is not None:
                    failures += 1
                    message = _report_failure(outcome, settings)
                    if as_json:
                        print_json(outcome_failure_record(outcome, message))
                    continue
                succeeded += 1
                _show(outcome, fmt=fmt, as_json=as_json, out_dir=out_dir, progress=progress)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_message(finished, len(loaded), kept=job.stored, out=out)) from None
    if out_dir is not None and not as_json:
        files, pages = out_dir.files, out_dir.pages
        written = f" and {pages} page{'s' if pages != 1 else ''}" if pages else ""
        err_console.print(f"Wrote {files} JSON file{'s' if files != 1 else ''}{written} to {out}/")
    if failures:
        err_console.print(f"{failures} article(s) failed" + ("; the others were summarised." if succeeded else "."))
        raise typer.Exit(1)


def _report_collection(collection: Collection, *, as_json: bool) -> int:
    """Print each source that could not be read (and, in JSON output, its record) and each
    duplicate skipped; return how many sources failed."""
    from ..outputs import failure_record

    for failure in collection.failures:
        err_console.print(f"[bold red]Error:[/] {escape(failure.source)}: {escape(failure.reason)}")
        if as_json:
            print_json(failure_record(failure.source, "InputError", failure.reason, 0))
    for article, first in collection.duplicates:
        again = "given more than once" if first == article.label else f"the same article as {first}"
        err_console.print(f"Skipped {escape(article.label)}: {escape(again)}.")
    return len(collection.failures)


def _show(outcome: Outcome, *, fmt: Format, as_json: bool, out_dir: OutputDir | None, progress: ArticleProgress) -> None:
    """One summarised article: its warnings, its files in --out, and what goes to stdout."""
    summary = outcome.summary
    assert summary is not None
    for warning in summary.grounding.warnings:  # e.g. a prompt injection in the article
        print_warning(outcome.article.label, warning)
    if out_dir is not None:
        out_dir.write(summary, outcome.article, page=fmt is Format.html)
    if fmt is Format.html:
        if out_dir is None:
            from ..evidence import render_evidence_html  # jinja2: only for a page on stdout

            sys.stdout.write(render_evidence_html(summary, outcome.article.text))
            sys.stdout.flush()
    elif as_json:
        print_json(summary.model_dump(mode="json"))
    else:
        progress.print(summary_panel(summary, cached=outcome.cached))


def _interrupted_message(finished: int, total: int, *, kept: bool, out: Path | None) -> str:
    """The one line Ctrl-C prints: what is done, what is not, and how to go on."""
    where = " (in the run store" + (f" and {out}/" if out is not None else "") + ")" if kept else (f" (in {out}/)" if out is not None else "")
    again = "rerun the same command to continue: finished articles are not asked again" if kept else "rerun to summarise the rest (--no-store: finished articles would be asked again)"
    return f"Interrupted: {finished} of {total} article(s) done{where}, {total - finished} not finished; {again}."


def _report_failure(outcome: Outcome, settings) -> str:
    """Print the article's one-line error; return the message (without the label)."""
    from ..endpoint import explain_error

    exc = outcome.error
    label = outcome.article.label
    cost = ""
    if exc is not None and getattr(exc, "attempts", 0):
        usage = getattr(exc, "usage", None)
        tokens = f", {usage.total_tokens:,} tokens" if usage is not None else ""
        cost = f" ({exc.attempts} attempt{'s' if exc.attempts != 1 else ''}{tokens})"
    message = explain_error(exc, settings)
    err_console.print(f"[bold red]Error:[/] {escape(label)}: {escape(message)}{cost}")
    return message
