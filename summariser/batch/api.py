"""The OpenAI Batch API: submit a request file, follow the job, collect and import its results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import ConfigError, InputError
from .files import BATCH_URL
from .importer import ImportReport, import_results

if TYPE_CHECKING:
    from ..store import Store


TERMINAL_STATUSES = ("completed", "failed", "expired", "cancelled")


def _remote(settings: Settings) -> Settings:
    if settings.uses_local_model:
        raise ConfigError(
            "the Batch API needs a remote endpoint: set OPENAI_API_KEY (and OPENAI_BASE_URL for "
            "other providers), or run the file locally with `summariser batch run FILE`"
        )
    return settings


def submit_batch(path: Path, *, store: "Store", settings: Settings, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload a request file and create a Batch API job (24h window); the job is kept in the store."""
    from ..llm.openai import create_batch, upload_batch_file

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such batch file: make one with `summariser batch prepare`")
    file_id = upload_batch_file(_remote(settings), path)
    job = create_batch(settings, file_id, endpoint=BATCH_URL, metadata={"summariser_file": path.name[:500], **(metadata or {})})
    store.save_batch_job(job, endpoint=settings.endpoint_host, input_file=str(path))
    return job


def batch_status(batch_id: str, *, store: "Store", settings: Settings) -> dict[str, Any]:
    """The job as the API reports it now (and recorded in the store)."""
    from ..llm.openai import retrieve_batch

    job = retrieve_batch(_remote(settings), batch_id)
    store.save_batch_job(job, endpoint=settings.endpoint_host)
    return job


def wait_for_batch(
    batch_id: str,
    *,
    store: "Store",
    settings: Settings,
    interval_s: float = 30.0,
    timeout_s: float | None = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll until the job reaches a terminal status (or ``timeout_s`` passes); return it."""
    started = time.monotonic()
    while True:
        job = batch_status(batch_id, store=store, settings=settings)
        if on_update:
            on_update(job)
        if job.get("status") in TERMINAL_STATUSES:
            return job
        if timeout_s is not None and time.monotonic() - started >= timeout_s:
            return job
        time.sleep(interval_s)


@dataclass
class CollectResult:
    job: dict[str, Any]
    files: list[Path]
    report: ImportReport | None


def collect_batch(
    batch_id: str,
    *,
    store: "Store",
    settings: Settings,
    out_dir: Path = Path("."),
    repair: Path | None = None,
) -> CollectResult:
    """Download a finished job's output and error files and import them (see ``import_results``).

    A job still running is left alone (``report`` is None): run collect again later.
    """
    job = batch_status(batch_id, store=store, settings=settings)
    if job.get("status") not in TERMINAL_STATUSES:
        return CollectResult(job, [], None)
    from ..llm.openai import download_file

    files = [
        download_file(_remote(settings), file_id, Path(out_dir) / f"{batch_id}-{kind}.jsonl")
        for kind, file_id in (("output", job.get("output_file_id")), ("errors", job.get("error_file_id")))
        if file_id
    ]
    report = None
    if files:
        report = import_results(files, store=store, repair=repair or Path(out_dir) / f"{batch_id}.repair.jsonl", endpoint=settings.endpoint_host)
    else:
        report = ImportReport()
    store.mark_batch_collected(batch_id)
    return CollectResult(job, files, report)


def collect_batches(
    batch_id: str | None,
    *,
    store: "Store",
    settings: Settings,
    out_dir: Path = Path("."),
    repair: Path | None = None,
) -> Iterator[tuple[str, CollectResult]]:
    """``collect_batch`` for the job ``batch_id``, or, when it is None, for every job of the store
    not collected yet (what a cron line runs); ``(job id, result)`` as each one is done.
    ``repair`` names the repair file of one named job only (each job of many writes its own)."""
    ids = [batch_id] if batch_id else [job.id for job in store.list_batch_jobs(uncollected=True)]
    for one in ids:
        yield one, collect_batch(one, store=store, settings=settings, out_dir=out_dir, repair=repair if batch_id else None)
