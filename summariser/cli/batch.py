"""``summariser batch``: batch files for the OpenAI Batch API, ``vllm run-batch`` and the local runner."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import batch as batch_lib
from ..config import Settings
from ..endpoint import describe_endpoint
from ..errors import Interrupted
from ..sources import DIRECTORY_HELP
from ._common import SOURCES_HELP, BaseUrlOpt, DbOpt, FetchTimeoutOpt, LocalModelOpt, MaxCharsOpt, ModelOpt, PromptOpt, RetryBudgetOpt, console, err_console, load_settings, print_json, print_warning

app = typer.Typer(
    help="Summarise many articles through batch files: the OpenAI Batch API, `vllm run-batch`, or locally.\n\n"
    "prepare -> (submit/status/collect | vllm run-batch | run) -> import -> repeat with the repair file.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as one JSON object on stdout.")]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="json_schema (default) or json_object (schema in the prompt, for servers without json_schema).", show_default=False)]


@contextlib.contextmanager
def _store(settings: Settings) -> Iterator[Any]:
    from ..store import Store

    store = Store(settings.store_path)
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def _progress(label: str, total: int | None) -> Iterator[Progress | None]:
    if not err_console.is_terminal:
        yield None
        return
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True)
    with progress:
        progress.add_task(label, total=total)
        yield progress


def _advance(progress: Progress | None, completed: int, description: str | None = None) -> None:
    if progress is not None:
        task = progress.task_ids[0]
        progress.update(task, completed=completed, **({"description": description} if description else {}))


def _table(rows: list[tuple[str, str]]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    return table


def _render_import(report: batch_lib.ImportReport) -> None:
    rows = [
        ("result lines", f"{report.lines:,}"),
        ("stored", f"{report.stored:,} valid, grounded summaries ({report.repaired:,} after a repair)"),
        ("to repair", f"{report.to_repair:,} re-asks" + (f" in {', '.join(str(p) for p in report.repair_files)}" if report.repair_files else "")),
    ]
    if report.resent:
        rows.append(("resent", f"{report.resent:,} requests the engine did not answer (in the repair file unchanged)"))
    if report.already:
        rows.append(("already imported", f"{report.already:,} (skipped)"))
    rows += [
        ("failed", f"{len(report.failed):,}"),
        ("unknown ids", f"{len(report.unknown):,}"),
        ("mismatched", f"{len(report.mismatched):,}"),
        ("tokens", f"{report.usage.prompt_tokens:,} in + {report.usage.completion_tokens:,} out"),
        ("est. cost", f"{report.cost} (Batch API prices)"),
        ("time", f"{report.seconds:.1f}s ({report.lines / report.seconds if report.seconds else 0:,.0f} lines/s)"),
    ]
    err_console.print(_table(rows))
    for custom_id, label, reason in report.failed[:20]:
        err_console.print(f"[bold red]failed[/] {escape(custom_id)} {escape(label)}: {escape(reason)}")
    for custom_id in report.unknown[:20]:
        err_console.print(f"[bold red]unknown[/] {escape(custom_id)}: not a request of this store (wrong --db, or another prepare?)")
    for custom_id, reason in report.mismatched[:20]:
        err_console.print(f"[bold red]mismatched[/] {escape(custom_id)}: {escape(reason)}")
    for custom_id, label, warning in report.warnings[:20]:  # e.g. a prompt injection in the article
        print_warning(label, warning)
    hidden = sum(max(0, len(items) - 20) for items in (report.failed, report.unknown, report.mismatched, report.warnings))
    if hidden:
        err_console.print(f"... and {hidden} more: see --json")
    if report.repair_files:
        err_console.print(f"Next: run {escape(' '.join(str(p) for p in report.repair_files))} like the first file, then import its results.")


@app.command("prepare")
def prepare_command(
    sources: Annotated[list[str], typer.Argument(help=f"{SOURCES_HELP} {DIRECTORY_HELP}", show_default=False)],
    glob: Annotated[str | None, typer.Option("--glob", metavar="PATTERN", help="Files a directory contributes, e.g. '*.md'. Default: *.txt, *.html, *.htm.", show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Request file to write; split into NAME-001.jsonl... past 50,000 lines or 200 MB.")] = Path("requests.jsonl"),
    prompt: PromptOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, max=10, help="Replies per article before it fails for good (repairs included). Default: 3.", show_default=False)] = None,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help="Fail an article when any quote stays ungrounded. Default: --no-strict.", show_default=False)] = None,
    max_chars: MaxCharsOpt = None,
    db: DbOpt = None,
    fetch_timeout: FetchTimeoutOpt = 20.0,
    as_json: JsonOpt = False,
) -> None:
    """Write one chat-completions request per article not already summarised.

    Each body is exactly what `summarise` would send; articles are saved to the store so import
    can check the replies against their text.

    Examples:

      summariser batch prepare articles/ --out requests.jsonl --model gpt-4o-mini

      summariser batch prepare news/*.txt -o batch.jsonl --model Qwen/Qwen2.5-7B-Instruct
    """
    settings = load_settings(prompt=prompt, model=model, base_url=base_url, mode=mode, max_attempts=max_attempts, strict=strict, db_path=db, max_chars=max_chars, defaults={"mode": "json_schema"})
    with _store(settings) as store, _progress("Preparing", None) as progress:
        report = batch_lib.prepare_sources(sources, out, store=store, settings=settings, pattern=glob, fetch_timeout_s=fetch_timeout,
                                           on_progress=lambda r: _advance(progress, r.articles))
    errors = report.input_errors  # unreadable inputs, then articles over --max-chars (never written)
    for message in errors:
        err_console.print(f"[bold red]Error:[/] {escape(message)}")
    if as_json:
        print_json(report.to_dict())
    else:
        files = ", ".join(str(p) for p in report.files) or "(none: nothing to do)"
        err_console.print(_table([
            ("articles", f"{report.articles:,}"),
            ("requests", f"{report.requests:,} ({report.in_flight:,} already in flight, written again)"),
            ("already stored", f"{report.cached:,}"),
            ("model / prompt", f"{report.model} / {report.prompt}"),
            ("files", files),
        ]))
    if errors:
        raise typer.Exit(1)


@app.command("submit")
def submit_command(
    files: Annotated[list[Path], typer.Argument(help="Request files from `batch prepare`.", show_default=False)],
    base_url: BaseUrlOpt = None,
    db: DbOpt = None,
    retry_budget: RetryBudgetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload request files and start Batch API jobs (24 h window); job ids are kept in the store.

    Example:

      OPENAI_API_KEY=sk-... summariser batch submit requests.jsonl
    """
    settings = load_settings(base_url=base_url, db_path=db, retry_budget_s=retry_budget)
    with _store(settings) as store:
        for path in files:
            job = batch_lib.submit_batch(path, store=store, settings=settings)
            if as_json:
                print_json(job)
            else:
                console.print(f"{job['id']}\t{job['status']}\t{path}")
    if not as_json:
        err_console.print("Check with `summariser batch status ID --wait`; fetch and import with `summariser batch collect`.")


def _job_line(job: dict[str, Any]) -> str:
    counts = job.get("request_counts") or {}
    return f"{job['id']}  {job.get('status')}  {counts.get('completed', 0)}/{counts.get('total', 0)} done, {counts.get('failed', 0)} failed"


@app.command("status")
def status_command(
    batch_id: Annotated[str | None, typer.Argument(help="A batch id; omit to list the jobs this store knows.", show_default=False)] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Poll with a progress bar until the job finishes.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.01, help="Seconds between polls with --wait.")] = 30.0,
    base_url: BaseUrlOpt = None,
    db: DbOpt = None,
    retry_budget: RetryBudgetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a Batch API job (or list known jobs).

    Examples:

      summariser batch status

      summariser batch status batch_abc123 --wait
    """
    settings = load_settings(base_url=base_url, db_path=db, retry_budget_s=retry_budget)
    with _store(settings) as store:
        if batch_id is None:
            jobs = store.list_batch_jobs()
            for job in jobs:
                if as_json:
                    print_json(job.__dict__)
                else:
                    console.print(f"{job.id}  {job.status}  {job.input_file}  collected={'yes' if job.collected_at else 'no'}")
            if not jobs and not as_json:
                err_console.print("No batch jobs in this store: start one with `summariser batch submit FILE`.")
            return
        if wait:
            with _progress(f"Batch {batch_id}", None) as progress:
                def update(job: dict[str, Any]) -> None:
                    counts = job.get("request_counts") or {}
                    if progress is not None:
                        progress.update(progress.task_ids[0], total=counts.get("total") or None,
                                        completed=(counts.get("completed") or 0) + (counts.get("failed") or 0),
                                        description=f"Batch {batch_id}: {job.get('status')}")
                job = batch_lib.wait_for_batch(batch_id, store=store, settings=settings, interval_s=interval, on_update=update)
        else:
            job = batch_lib.batch_status(batch_id, store=store, settings=settings)
    if as_json:
        print_json(job)
    else:
        console.print(_job_line(job))


@app.command("collect")
def collect_command(
    batch_id: Annotated[str | None, typer.Argument(help="A batch id; omit to collect every finished job not yet imported (for cron).", show_default=False)] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to save the output and error files.")] = Path("."),
    repair: Annotated[Path | None, typer.Option("--repair", help="Repair file to write (default: BATCH_ID.repair.jsonl in --out-dir).", show_default=False)] = None,
    base_url: BaseUrlOpt = None,
    db: DbOpt = None,
    retry_budget: RetryBudgetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a finished job's output and error files and import them.

    Examples:

      summariser batch collect batch_abc123 --out-dir results/

      */30 * * * *  summariser batch collect --out-dir /data/batches
    """
    settings = load_settings(base_url=base_url, db_path=db, retry_budget_s=retry_budget)
    problems = False
    collected = 0
    with _store(settings) as store:
        for one, result in batch_lib.collect_batches(batch_id, store=store, settings=settings, out_dir=out_dir, repair=repair):
            collected += 1
            if result.report is None:
                if as_json:
                    print_json({"id": one, "status": result.job.get("status"), "collected": False})
                else:
                    err_console.print(f"{one} is {result.job.get('status')}: not finished yet, collect it later.")
                continue
            problems |= not result.report.ok
            if as_json:
                print_json({"id": one, "status": result.job.get("status"), "collected": True, "files": [str(p) for p in result.files], "report": result.report.to_dict()})
            else:
                err_console.print(f"[bold]{one}[/] ({result.job.get('status')}): {', '.join(str(p) for p in result.files) or 'no output files'}")
                _render_import(result.report)
    if not collected and not as_json:
        err_console.print("Nothing to collect: every known job has been imported.")
    if problems:
        raise typer.Exit(1)


@app.command("import")
def import_command(
    results: Annotated[list[Path], typer.Argument(help="Result files from any engine (OpenAI output/error files, vllm run-batch, batch run).", show_default=False)],
    repair: Annotated[Path | None, typer.Option("--repair", help="Where to write re-asks for failed replies (default: RESULTS.repair.jsonl).", show_default=False)] = None,
    endpoint: Annotated[str, typer.Option("--endpoint", help="Engine host recorded as the summaries' provenance.")] = "batch",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every reply like `summarise` does; store the valid ones, write re-asks for the rest.

    Importing the same file twice changes nothing. Exit status 1 when an article failed for good
    or a result did not match a request of this store.

    Examples:

      vllm run-batch -i requests.jsonl -o results.jsonl --model Qwen/Qwen2.5-7B-Instruct
      summariser batch import results.jsonl --endpoint vllm
    """
    settings = load_settings(db_path=db)
    with _store(settings) as store, _progress("Importing", None) as progress:
        report = batch_lib.import_results(results, store=store, repair=repair, endpoint=endpoint, on_progress=lambda r: _advance(progress, r.lines))
    if as_json:
        print_json(report.to_dict())
    else:
        _render_import(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("run")
def run_command(
    file: Annotated[Path, typer.Argument(help="A request file from `batch prepare` (or a repair file).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results file to write (OpenAI batch output format).")] = Path("results.jsonl"),
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-j", min=1, max=256, help="Requests in flight at once. Default: 8.", show_default=False)] = None,
    rpm: Annotated[float | None, typer.Option("--rpm", min=1, help="Requests per minute at most.", show_default=False)] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", min=1, help="Tokens per minute at most (prompt estimate + max_tokens).", show_default=False)] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=1, help="Seconds to wait for one reply. Default: 300.", show_default=False)] = None,
    retry_budget: Annotated[float | None, typer.Option("--retry-budget", min=0, help="Seconds one request may spend retrying 429/5xx. Default: 600.", show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Keep --out and skip requests it already answered.")] = False,
    then_import: Annotated[bool, typer.Option("--import", help="Import the results when done (writes RESULTS.repair.jsonl).")] = False,
    db: DbOpt = None,
    local_model: LocalModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a batch file against any chat-completions endpoint, offline included.

    With no endpoint configured the embedded model answers. 429s are retried after Retry-After;
    x-ratelimit-* headers pause every worker until the limit resets.

    Examples:

      summariser batch run requests.jsonl --out results.jsonl --import

      summariser batch run requests.jsonl --base-url http://gpu-box:8000/v1 -j 64 -o results.jsonl
    """
    settings = load_settings(base_url=base_url, model=model, timeout_s=timeout, retry_budget_s=retry_budget, max_transport_retries=50, db_path=db, local_model=local_model, concurrency=concurrency,
                             defaults={"concurrency": 8, "timeout_s": 300.0, "retry_budget_s": 600.0})
    total = batch_lib.count_lines(file) if file.is_file() else None
    try:
        with _progress("Running", total) as progress:
            report = batch_lib.run_batch_file(file, out, settings=settings, rpm=rpm, tpm=tpm, resume=resume,
                                              on_progress=lambda r: _advance(progress, r.ok + r.errors + r.skipped))
    except KeyboardInterrupt:
        # Every answered line is already in --out (written and flushed one by one); without
        # --resume a rerun would start --out afresh and pay for them again.
        answered = batch_lib.count_answered(out)
        raise Interrupted(
            f"Interrupted: {answered} of {total or 0} request(s) answered and kept in {out}, {max(0, (total or 0) - answered)} not; "
            f"rerun with --resume to continue: summariser batch run {file} --out {out} --resume"
        ) from None
    imported = None
    if then_import:
        with _store(settings) as store:
            imported = batch_lib.import_results(out, store=store, endpoint=report.endpoint)
    if as_json:
        print_json(report.to_dict() | ({"import": imported.to_dict()} if imported else {}))
    else:
        err_console.print(_table([
            ("requests", f"{report.requests:,} sent, {report.ok:,} answered, {report.errors:,} errors" + (f", {report.skipped:,} skipped (--resume)" if report.skipped else "")),
            ("retries", f"{report.retries:,} ({report.rate_limited:,} rate-limited, {report.waited_s:.1f}s paused by limits)"),
            ("tokens", f"{report.usage.prompt_tokens:,} in + {report.usage.completion_tokens:,} out"),
            ("est. cost", f"{report.cost} (list prices)"),
            ("time", f"{report.seconds:.1f}s"),
            ("results", str(out)),
        ]))
        for message in report.invalid_lines[:20]:
            err_console.print(f"[bold red]invalid[/] {escape(message)}")
        if imported is not None:
            _render_import(imported)
    if report.errors:
        err_console.print(
            f"[bold red]Error:[/] {report.errors:,} request(s) got no answer (each line's error field in {escape(str(out))} says why); "
            f"tried {escape(describe_endpoint(settings, per_request=True))}"
        )
    if report.errors or report.invalid_lines or (imported is not None and not imported.ok):
        raise typer.Exit(1)
