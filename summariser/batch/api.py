"""The OpenAI Batch API: submit a request file, follow the job, collect and import its results."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import ConfigError, InputError, LLMError
from ..files import atomic_open
from .files import BATCH_URL
from .importer import ImportReport, import_results

if TYPE_CHECKING:
    from ..store import Store


TERMINAL_STATUSES = ("completed", "failed", "expired", "cancelled")


def _batch_client(settings: Settings):
    from ..llm import ChatClient

    if settings.uses_local_model:
        raise ConfigError(
            "the Batch API needs a remote endpoint: set OPENAI_API_KEY (and OPENAI_BASE_URL for "
            "other providers), or run the file locally with `summariser batch run FILE`"
        )
    return ChatClient(settings).sync_client


def _api_call(settings: Settings, call: Callable[[], Any]) -> Any:
    """One Files/Batches call with the same error translation and retry policy as chat calls."""
    from ..llm import Transient, translate_error
    from ..llm.retry import RetryPolicy

    policy = RetryPolicy.from_settings(settings)
    started, tries = time.monotonic(), 0
    while True:
        tries += 1
        try:
            return call()
        except Exception as exc:  # openai errors, translated below
            translated = translate_error(exc, settings)
            if not isinstance(translated, Transient):
                raise translated from None
            wait = policy.next_wait_s(translated, tries, elapsed_s=time.monotonic() - started)
            if wait is None:
                raise LLMError(f"gave up: {translated}; check the endpoint, or raise --retry-budget") from None
            time.sleep(wait)


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)


def submit_batch(path: Path, *, store: "Store", settings: Settings, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload a request file and create a Batch API job (24h window); the job is kept in the store."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such batch file: make one with `summariser batch prepare`")
    client = _batch_client(settings)
    with path.open("rb") as handle:
        uploaded = _api_call(settings, lambda: client.files.create(file=(path.name, handle), purpose="batch"))
    job = _as_dict(_api_call(settings, lambda: client.batches.create(
        input_file_id=uploaded.id,
        endpoint=BATCH_URL,
        completion_window="24h",
        metadata={"summariser_file": path.name[:500], **(metadata or {})},
    )))
    store.save_batch_job(job, endpoint=settings.endpoint_host, input_file=str(path))
    return job


def batch_status(batch_id: str, *, store: "Store", settings: Settings) -> dict[str, Any]:
    """The job as the API reports it now (and recorded in the store)."""
    client = _batch_client(settings)
    job = _as_dict(_api_call(settings, lambda: client.batches.retrieve(batch_id)))
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


def _download(client: Any, settings: Settings, file_id: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)

    def fetch() -> None:
        # Each attempt streams into its own temp file; a failed attempt leaves the target untouched.
        with client.files.with_streaming_response.content(file_id) as response:
            with atomic_open(target, "wb", fsync=False) as handle:
                for data in response.iter_bytes():
                    handle.write(data)

    _api_call(settings, fetch)
    return target


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
    client = _batch_client(settings)
    files = [
        _download(client, settings, file_id, Path(out_dir) / f"{batch_id}-{kind}.jsonl")
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
