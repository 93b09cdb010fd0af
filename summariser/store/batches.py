"""Batch files and Batch API jobs (``summariser batch``): the ``batch_requests`` and ``batches``
tables. Imported results become ordinary runs through the run writers of ``runs.py``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..article import Article
from ..redaction import redact
from ..schema import ArticleSummary, Attempt, Usage
from ._base import StoreBase, _endpoint_host, _now
from .runs import close_run, insert_attempts, insert_run, upsert_article


@dataclass(frozen=True)
class BatchRequestRow:
    """One request line of a batch file (``summariser batch``): which article, prompt, model and
    attempt it is, and the conversation so far (``state``, a ``Session.checkpoint()``)."""

    custom_id: str
    cache_key: str
    attempt: int
    article_sha256: str
    source: str | None
    title: str | None
    prompt: str
    prompt_sha256: str
    model: str
    params: dict[str, Any]
    state: dict[str, Any] | None = None
    status: str = "pending"
    started_at: str = ""
    run_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class BatchResultRecord:
    """What importing one result did: ``done``/``failed`` close the article's run (with every
    attempt), ``repair`` replaces the request with its re-ask ``successor``."""

    request: BatchRequestRow
    status: str
    endpoint: str = "batch"
    attempts: tuple[Attempt, ...] = ()
    usage: Usage = field(default_factory=Usage)
    summary: ArticleSummary | None = None
    error: str | None = None
    duration_s: float = 0.0
    successor: BatchRequestRow | None = None


@dataclass(frozen=True)
class BatchJob:
    """A job submitted to the Batch API, kept so a later (cron) run can collect it."""

    id: str
    endpoint: str
    input_file: str
    input_file_id: str
    status: str
    request_counts: dict[str, Any]
    output_file_id: str | None
    error_file_id: str | None
    created_at: str
    updated_at: str
    collected_at: str | None


class BatchTables(StoreBase):
    """Batch requests and jobs (a mixin of ``Store``)."""

    _BATCH_REQUEST_SQL = (
        "INSERT INTO batch_requests (custom_id, cache_key, attempt, article_sha256, source, title, prompt, "
        "prompt_sha256, model, params, state, status, started_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
        # A request seen before is reset only once it is no longer in flight (a fresh try after a
        # final failure, or a repair numbered like an older round's request).
        "ON CONFLICT (custom_id) DO UPDATE SET state = excluded.state, status = 'pending', run_id = NULL, "
        "error = NULL, started_at = excluded.started_at, updated_at = excluded.updated_at "
        "WHERE batch_requests.status != 'pending'"
    )

    @staticmethod
    def _batch_request_params(row: BatchRequestRow, now: str) -> tuple[Any, ...]:
        return (
            row.custom_id,
            row.cache_key,
            row.attempt,
            row.article_sha256,
            row.source,
            row.title,
            row.prompt,
            row.prompt_sha256,
            row.model,
            json.dumps(row.params, sort_keys=True),
            redact(json.dumps(row.state, ensure_ascii=False)) if row.state is not None else None,
            row.started_at or now,
            now,
        )

    def add_batch_requests(self, requests: Iterable[tuple[Article, BatchRequestRow]]) -> None:
        """Save articles and their first requests in one transaction (``batch prepare``)."""
        now = _now()
        with self._write("save batch requests") as conn:
            for article, row in requests:
                upsert_article(conn, article)
                conn.execute(self._BATCH_REQUEST_SQL, self._batch_request_params(row, now))

    @staticmethod
    def _batch_request_row(row: sqlite3.Row) -> BatchRequestRow:
        return BatchRequestRow(
            custom_id=row["custom_id"],
            cache_key=row["cache_key"],
            attempt=row["attempt"],
            article_sha256=row["article_sha256"],
            source=row["source"],
            title=row["title"],
            prompt=row["prompt"],
            prompt_sha256=row["prompt_sha256"],
            model=row["model"],
            params=json.loads(row["params"]),
            state=json.loads(row["state"]) if row["state"] else None,
            status=row["status"],
            started_at=row["started_at"],
            run_id=row["run_id"],
            error=row["error"],
        )

    def _batch_request_query(self, where: str, values: Iterable[str]) -> list[BatchRequestRow]:
        return [self._batch_request_row(r) for r in self._read_in(f"SELECT * FROM batch_requests WHERE {where}", values)]

    def get_batch_requests(self, custom_ids: Iterable[str]) -> dict[str, BatchRequestRow]:
        """The requests with these ``custom_id``s (missing ones are simply absent)."""
        rows = self._batch_request_query("custom_id IN ({marks})", custom_ids)
        return {row.custom_id: row for row in rows}

    def pending_batch_requests(self, cache_keys: Iterable[str]) -> dict[str, BatchRequestRow]:
        """The request in flight for each of these cache keys, if any."""
        rows = self._batch_request_query("status = 'pending' AND cache_key IN ({marks})", cache_keys)
        latest: dict[str, BatchRequestRow] = {}
        for row in rows:
            if row.cache_key not in latest or row.attempt > latest[row.cache_key].attempt:
                latest[row.cache_key] = row
        return latest

    def article_texts(self, sha256s: Iterable[str]) -> dict[str, str]:
        """Article texts by sha256 (to rebuild a conversation from its batch request)."""
        return {r[0]: r[1] for r in self._read_in("SELECT sha256, text FROM articles WHERE sha256 IN ({marks})", sha256s)}

    def record_batch_results(self, records: Iterable[BatchResultRecord]) -> int:
        """Apply imported results in one transaction; returns how many were applied.

        A request is answered at most once: a record whose request is no longer pending (the
        same file imported twice, or by two processes at once) is skipped whole.
        """
        now, applied = _now(), 0
        with self._write("record batch results") as conn:
            for record in records:
                request = record.request
                if record.status == "repair":
                    assert record.successor is not None
                    cursor = conn.execute(
                        "UPDATE batch_requests SET status = 'repair', updated_at = ? WHERE custom_id = ? AND status = 'pending'",
                        (now, request.custom_id),
                    )
                    if cursor.rowcount:
                        conn.execute(self._BATCH_REQUEST_SQL, self._batch_request_params(record.successor, now))
                    applied += cursor.rowcount
                    continue
                error = redact(record.error)
                cursor = conn.execute(
                    "UPDATE batch_requests SET status = ?, error = ?, updated_at = ? WHERE custom_id = ? AND status = 'pending'",
                    (record.status, error, now, request.custom_id),
                )
                if not cursor.rowcount:
                    continue
                applied += 1
                # The same rows a summarise run writes: opened and closed in this transaction.
                run_id = insert_run(
                    conn, self._host, cache_key=request.cache_key, article_sha256=request.article_sha256,
                    source=request.source, prompt=request.prompt, prompt_sha256=request.prompt_sha256,
                    model=request.model, endpoint=record.endpoint, params=request.params | {"batch": request.custom_id},
                    created_at=request.started_at or now,
                )
                insert_attempts(conn, run_id, record.attempts)
                close_run(conn, run_id, cache_key=request.cache_key, summary=record.summary, error=error,
                          attempts=len(record.attempts), usage=record.usage, duration_s=record.duration_s, finished_at=now)
                conn.execute("UPDATE batch_requests SET run_id = ? WHERE custom_id = ?", (run_id, request.custom_id))
        return applied

    def save_batch_job(self, job: dict[str, Any], *, endpoint: str, input_file: str | None = None) -> None:
        """Record (or update) a Batch API job from its API object (a dict)."""
        now = _now()
        with self._write("save the batch job") as conn:
            conn.execute(
                "INSERT INTO batches (id, endpoint, input_file, input_file_id, status, request_counts, output_file_id, "
                "error_file_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, request_counts = excluded.request_counts, "
                "output_file_id = excluded.output_file_id, error_file_id = excluded.error_file_id, "
                "updated_at = excluded.updated_at",
                (
                    job["id"], _endpoint_host(endpoint), input_file or "", job.get("input_file_id") or "",
                    job.get("status") or "unknown", json.dumps(job.get("request_counts") or {}),
                    job.get("output_file_id"), job.get("error_file_id"), now, now,
                ),
            )

    def mark_batch_collected(self, batch_id: str) -> None:
        with self._write("mark the batch collected") as conn:
            conn.execute("UPDATE batches SET collected_at = ? WHERE id = ?", (_now(), batch_id))

    def list_batch_jobs(self, *, uncollected: bool = False) -> list[BatchJob]:
        """Known Batch API jobs, newest first (``uncollected``: only those not yet imported)."""
        where = " WHERE collected_at IS NULL" if uncollected else ""
        rows = self._read(f"SELECT * FROM batches{where} ORDER BY created_at DESC, id DESC")
        return [
            BatchJob(**{k: row[k] for k in row.keys() if k != "request_counts"}, request_counts=json.loads(row["request_counts"]))
            for row in rows
        ]

    def get_batch_job(self, batch_id: str) -> BatchJob | None:
        return next((job for job in self.list_batch_jobs() if job.id == batch_id), None)
