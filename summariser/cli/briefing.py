"""``summariser briefing``: many articles (files, feeds, URLs) to one briefing page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ..errors import InputError, SummariserError
from ..limits import DEFAULT_CONTEXT_BUDGET
from ..sources import DIRECTORY_HELP
from ..timeutil import SINCE_HELP, parse_since
from ._common import (
    BaseUrlOpt,
    DbOpt,
    ExitCode,
    FetchTimeoutOpt,
    GlobOpt,
    LocalModelOpt,
    MaxCharsOpt,
    Mode,
    ModelOpt,
    PromptOpt,
    RetryBudgetOpt,
    concurrency_option,
    err_console,
    load_settings,
    max_attempts_option,
    mode_option,
    pipe_console,
    print_warning,
    quiet_option,
    timeout_option,
)
from .progress import ArticleProgress

if TYPE_CHECKING:  # the briefing machinery (render, stories, whatsnew) loads when the command runs
    from ..briefing import BriefingPlan
    from ..whatsnew import PreviousBriefing


def _advance(progress: ArticleProgress, outcome, total: int) -> None:
    progress.advance(outcome, total=total)
    summary = getattr(outcome, "summary", None)
    for warning in summary.grounding.warnings if summary is not None else ():  # e.g. a prompt injection
        print_warning(outcome.article.label, warning)


def briefing_command(
    sources: Annotated[list[str], typer.Argument(help=f"Article files, directories, globs, RSS/Atom feeds (file or URL) and article URLs. {DIRECTORY_HELP}", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the briefing; the suffix picks the format: .md, .html or .json.", show_default=False)],
    glob: GlobOpt = None,
    since: Annotated[str | None, typer.Option("--since", help=f"Only articles dated (else first seen) from then on: {SINCE_HELP}.", show_default=False)] = None,
    title: Annotated[str | None, typer.Option("--title", help="The briefing's title. Default: 'Briefing YYYY-MM-DD'.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be summarised and what is cached; call no model, write nothing.")] = False,
    wait: Annotated[float, typer.Option("--wait", min=0, help="Seconds to wait when another run is writing the same --out, then give up.")] = 0.0,
    context_budget: Annotated[int, typer.Option("--context-budget", min=256, help="Model context in tokens; summaries that do not fit are briefed in stages (map-reduce).")] = DEFAULT_CONTEXT_BUDGET,
    briefing_prompt: Annotated[str, typer.Option("--briefing-prompt", help="Briefing prompt template NAME\\[@VERSION].")] = "briefing",
    prompt: PromptOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: Annotated[Mode | None, mode_option("Structured output: json_schema, json_object or auto. Default: auto.")] = None,
    max_attempts: Annotated[int | None, max_attempts_option("Replies to try per article and per briefing call. Default: 3.")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore cached summaries and briefing calls; call the model again.")] = False,
    db: DbOpt = None,
    concurrency: Annotated[int | None, concurrency_option("Articles in flight at once. Default: 4, or 1 with the embedded model.")] = None,
    timeout: Annotated[float | None, timeout_option("Seconds to wait for one model reply. Default: 120.")] = None,
    fetch_timeout: FetchTimeoutOpt = 20.0,
    retry_budget: RetryBudgetOpt = None,
    max_chars: MaxCharsOpt = None,
    quiet: Annotated[bool, quiet_option("No progress on stderr (errors and the final line are still printed).")] = False,
    local_model: LocalModelOpt = None,
    previous: Annotated[Path | None, typer.Option("--previous", metavar="FILE", help="The briefing JSON to compare with: each story is marked new, developing or unchanged. Default: the JSON at --out, else the copy the last run to --out kept in the data dir.", show_default=False)] = None,
) -> None:
    """Brief on many articles: summarise each (cached), group them into stories, say what is new.

    Stories are grouped and ranked by code; the model writes each multi-article story and the
    overview. Each story is marked new, developing or unchanged against the last briefing
    written to the same --out (or --previous FILE).

    Made for cron: reruns reuse cached work, a lock keeps overlapping runs apart, one bad article
    never sinks the briefing. Progress goes to stderr: a bar on a terminal, one line per article
    in a log. Exit codes: 0 ok, 1 failed, 2 usage error, 3 written but some
    articles failed (listed in the briefing).

    Examples:

      summariser briefing inbox/ --since 24h --out briefing.html

      summariser briefing https://example.com/world.rss 'archive/**/*.txt' --title "Morning" --out am.md

      summariser briefing feeds.xml --dry-run --out briefing.json

      summariser briefing inbox/ --previous monday.json --out today.html
    """
    from ..briefing import BriefingBuilder, briefing_lock
    from ..endpoint import describe_endpoint
    from ..render import format_for, render_json, write_briefing
    from ..store import Store
    from ..whatsnew import remember

    fmt = format_for(out)
    since_at = parse_since(since) if since else None
    settings = load_settings(
        prompt=prompt, model=model, base_url=base_url, mode=mode, max_attempts=max_attempts,
        db_path=db, concurrency=concurrency, timeout_s=timeout, retry_budget_s=retry_budget, local_model=local_model, max_chars=max_chars,
        local_defaults={"concurrency": 1},  # one worker suits the embedded model, unless said otherwise anywhere
    )
    with Store(settings.store_path) as store, BriefingBuilder(
        settings, store=store, prompt=briefing_prompt, context_budget=context_budget, fetch_timeout_s=fetch_timeout,
        pattern=glob,
    ) as builder:
        if dry_run:
            _print_plan(builder.plan(sources, since=since_at, refresh=refresh), out)
            return
        with briefing_lock(out, settings.home, wait_s=wait):
            before = _previous(previous, out, settings.home)
            try:
                with ArticleProgress(None, err=err_console, quiet=quiet) as progress:
                    result = builder.build(
                        sources, since=since_at, title=title, refresh=refresh,
                        on_progress=lambda outcome, done, total: _advance(progress, outcome, total),
                        previous=before,
                    )
            except SummariserError as exc:
                _print_failures(getattr(exc, "failures", []))  # every failure the error refers to
                raise
            write_briefing(result.briefing, out)
            remember(render_json(result.briefing), out, settings.home)
    b = result.briefing
    cached = sum(1 for a in b.articles if a.cached)
    err_console.print(
        f"Wrote {out} ({fmt}): {len(b.articles)} articles ({cached} cached), {len(b.stories)} stories; "
        f"{result.article_calls + result.briefing_calls} model calls."
    )
    if b.changes is not None:
        c = b.changes
        err_console.print(
            f"Since {escape(c.previous or 'the previous briefing')}: {c.new} new, {c.developing} developing, "
            f"{c.unchanged} unchanged, {len(c.dropped)} dropped."
        )
    teasers = [a for a in b.articles if a.from_teaser]
    for article in teasers:
        err_console.print(f"[yellow]Teaser only:[/] {escape(article.source or article.id)}: {escape(article.teaser_reason or '')}; "
                          "summarised from the feed entry's own text")
    if b.failures:
        _print_failures(b.failures)
        if any(failure.stage != "collect" for failure in b.failures):
            err_console.print(f"Model calls went to {escape(describe_endpoint(settings))}.")
        err_console.print(f"{len(b.failures)} failure(s); the briefing lists them. Exit code {ExitCode.PARTIAL} (partial).")
        raise typer.Exit(ExitCode.PARTIAL)


def _print_failures(failures) -> None:
    for failure in failures:
        err_console.print(f"[bold red]Failed:[/] {escape(failure.source)} ({failure.stage}): {escape(failure.reason)}")


def _previous(given: Path | None, out: Path, home: Path) -> "PreviousBriefing | None":
    """The previous briefing: ``--previous`` (an error when unreadable), else the default (a warning)."""
    from ..whatsnew import default_previous, load_previous

    if given is not None:
        return load_previous(given)
    path = default_previous(out, home)
    if path is None:
        return None
    try:
        # The kept copy stands for the last briefing written to --out: name it so.
        return load_previous(path, label=f"the last {out.name}" if path != out else None)
    except InputError as exc:
        err_console.print(f"[yellow]Warning:[/] {escape(str(exc))}; stories are not compared with a previous briefing.")
        return None


def _print_plan(plan: "BriefingPlan", out: Path) -> None:
    from rich.table import Table

    console = pipe_console()  # piped into a file or grep: one row per line, paths whole
    table = Table(title=f"Dry run for {out}: nothing is summarised or written", title_justify="left")
    table.add_column("status")
    table.add_column("article", overflow="fold")
    table.add_column("sha256")
    for item in plan.articles:
        table.add_row("cached" if item.cached else "summarise", escape(item.article.label), item.article.sha256[:12])
    c = plan.collection
    for article, first in c.duplicates:
        table.add_row("duplicate", escape(f"{article.label} (same as {first})"), article.sha256[:12])
    for article in c.too_old:
        table.add_row("too old", escape(article.label), article.sha256[:12])
    for failure in c.failures:
        table.add_row("[red]failed[/]", escape(f"{failure.source}: {failure.reason}"), "")
    for path in c.skipped:
        table.add_row("[dim]skipped[/]", escape(f"{path} (not an article file; --glob to include)"), "")
    console.print(table)
    console.print(
        f"{len(plan.articles)} article(s): {plan.to_summarise} to summarise, {len(plan.articles) - plan.to_summarise} cached; "
        f"{len(c.duplicates)} duplicate(s), {len(c.too_old)} too old, {len(c.failures)} unreadable, {len(c.skipped)} skipped."
    )


__all__ = ["briefing_command"]
