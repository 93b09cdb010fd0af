"""Articles, runs, attempts and results: recording runs, claims, recovery and cache lookups.

``upsert_article``, ``insert_run``, ``insert_attempts`` and ``close_run`` are the only writers of
those rows; batch imports (``batches.py``) reuse them. Reading runs back is in ``history.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from ..article import Article
from ..errors import StoreError
from ..files import pid_is_dead
from ..prompts import parse_ref
from ..redaction import redact
from ..schema import ArticleSummary, Attempt, Usage
from ._base import StoreBase, _endpoint_host, _now, _timestamp

# A run still ``running`` after this long is treated as interrupted even when its process cannot
# be checked (another host, or a file from before pids were recorded). One article never takes
# this long, so a live writer is never marked.
INTERRUPTED_AFTER = timedelta(hours=1)

_SECRET_NAMES = {"api_key", "apikey", "api-key", "authorization", "password", "secret", "access_token"}


def _refuse_secrets(value: Any, where: str = "params") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in _SECRET_NAMES:
                raise ValueError(f"{where}[{key!r}] looks like a credential: the run store never records keys")
            _refuse_secrets(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _refuse_secrets(item, f"{where}[{index}]")



def upsert_article(conn: sqlite3.Connection, article: Article) -> None:
    """Insert the article, or fill in a source/title it was first seen without."""
    conn.execute(
        "INSERT INTO articles (sha256, source, title, text, first_seen) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (sha256) DO UPDATE SET "
        "source = COALESCE(articles.source, excluded.source), "
        "title = COALESCE(articles.title, excluded.title)",
        (article.sha256, article.source, article.title, article.text, _now()),
    )


def insert_run(
    conn: sqlite3.Connection,
    host: str,
    *,
    cache_key: str,
    article_sha256: str,
    source: str | None,
    prompt: str,
    prompt_sha256: str,
    model: str,
    endpoint: str,
    params: dict[str, Any],
    created_at: str | None = None,
) -> int:
    """Insert a ``running`` run of this process (summaries and batch imports alike)."""
    _refuse_secrets(params)
    name, version = parse_ref(prompt, any_name=True)
    cursor = conn.execute(
        "INSERT INTO runs (cache_key, article_sha256, source, prompt, prompt_version, prompt_sha256, "
        "model, endpoint, params, status, created_at, pid, host) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
        (
            cache_key,
            article_sha256,
            source,
            name,
            version,
            prompt_sha256,
            model,
            _endpoint_host(endpoint),
            json.dumps(params, sort_keys=True, ensure_ascii=False, default=str),
            created_at or _now(),
            os.getpid(),
            host,
        ),
    )
    return int(cursor.lastrowid)


def insert_attempts(conn: sqlite3.Connection, run_id: int, attempts: Iterable[Attempt]) -> None:
    """Record requests/replies of a run, redacted."""
    conn.executemany(
        "INSERT OR REPLACE INTO attempts (run_id, number, messages, reply, errors, finish_reason, "
        "prompt_tokens, completion_tokens, total_tokens, latency_s, transport_retries) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                a.number,
                redact(json.dumps(a.messages, ensure_ascii=False, default=str)),
                redact(a.reply),
                redact(json.dumps(a.errors, ensure_ascii=False)),
                a.finish_reason,
                a.usage.prompt_tokens,
                a.usage.completion_tokens,
                a.usage.total_tokens,
                a.latency_s,
                a.transport_retries,
            )
            for a in attempts
        ],
    )


def close_run(
    conn: sqlite3.Connection,
    run_id: int,
    *,
    cache_key: str,
    summary: ArticleSummary | None,
    error: str | None,
    attempts: int,
    usage: Usage,
    duration_s: float,
    finished_at: str | None = None,
) -> None:
    """Set a run ``ok`` (storing its summary) or ``failed``; ``error`` is stored as given (redacted)."""
    conn.execute(
        "UPDATE runs SET status = ?, error = ?, attempts = ?, prompt_tokens = ?, completion_tokens = ?, "
        "total_tokens = ?, duration_s = ?, finished_at = ? WHERE id = ?",
        (
            "ok" if summary is not None else "failed",
            error,
            attempts,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            duration_s,
            finished_at or _now(),
            run_id,
        ),
    )
    if summary is not None:
        conn.execute(
            "INSERT OR REPLACE INTO results (run_id, cache_key, summary) VALUES (?, ?, ?)",
            (run_id, cache_key, redact(summary.model_dump_json())),
        )


class RunTables(StoreBase):
    """Recording and reading runs (a mixin of ``Store``)."""

    # -- recovery ---------------------------------------------------------------------------

    def mark_interrupted_runs(self, *, older_than: timedelta = INTERRUPTED_AFTER) -> int:
        """Mark runs whose process is gone as ``interrupted``; return how many were marked.

        A run is interrupted when it was started on this host by a pid that no longer exists, or
        when it has been ``running`` for longer than ``older_than``. Live writers are untouched.
        """
        stale_before = _timestamp(datetime.now(timezone.utc) - older_than)
        rows = self._read("SELECT id, pid, host, created_at FROM runs WHERE status = 'running'")
        marked = 0
        for row in rows:
            if row["host"] == self._host and row["pid"] is not None and pid_is_dead(row["pid"]):
                reason = f"interrupted: process {row['pid']} ended before the run finished"
            elif row["created_at"] < stale_before:
                reason = f"interrupted: still running after {older_than}, its process is presumed gone"
            else:
                continue
            with self._write("mark interrupted runs") as conn:
                cursor = conn.execute(
                    "UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? "
                    "WHERE id = ? AND status = 'running'",
                    (reason, _now(), row["id"]),
                )
                marked += cursor.rowcount
        return marked

    # -- cache ------------------------------------------------------------------------------

    def get_cached(self, cache_key: str) -> ArticleSummary | None:
        """The latest ok result for ``cache_key``, or None.

        A stored result that no longer validates counts as a miss: re-summarising is safer than
        serving it.
        """
        rows = self._read(
            "SELECT summary FROM results WHERE cache_key = ? ORDER BY run_id DESC LIMIT 1", (cache_key,)
        )
        if not rows:
            return None
        try:
            return ArticleSummary.model_validate_json(rows[0]["summary"])
        except ValidationError:
            return None

    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` already have an ok result (for dry runs and batches)."""
        return {row[0] for row in self._read_in("SELECT DISTINCT cache_key FROM results WHERE cache_key IN ({marks})", keys)}

    def first_seen(self, hashes: Iterable[str]) -> dict[str, datetime]:
        """When each article text (by sha256) was first stored; absent means never seen."""
        found: dict[str, datetime] = {}
        for row in self._read_in("SELECT sha256, first_seen FROM articles WHERE sha256 IN ({marks})", hashes):
            moment = datetime.fromisoformat(row[1])
            found[row[0]] = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return found

    # -- recording --------------------------------------------------------------------------

    def save_article(self, article: Article) -> None:
        """Insert the article, or fill in a source/title it was first seen without."""
        with self._write("save the article") as conn:
            upsert_article(conn, article)

    def start_run(
        self,
        *,
        article: Article,
        cache_key: str,
        prompt: str,
        prompt_sha256: str,
        model: str,
        endpoint: str,
        params: dict[str, Any],
    ) -> int:
        """Record that a run has begun (status ``running``) and return its id.

        ``prompt`` is ``name@version``; ``endpoint`` a host (a URL is cut down to its host);
        ``params`` the request settings (mode, max_attempts, temperature...), never a key.
        The article is saved in the same transaction.
        """
        with self._write("start the run") as conn:
            upsert_article(conn, article)
            return insert_run(conn, self._host, cache_key=cache_key, article_sha256=article.sha256, source=article.source,
                              prompt=prompt, prompt_sha256=prompt_sha256, model=model, endpoint=endpoint, params=params)

    # Runs this process holds open: a ``running`` row of our own pid not in here was left by an
    # earlier, abandoned call (a cancelled task) and does not hold its article.
    _live_runs: set[int] = set()

    def _holds(self, row: sqlite3.Row, stale_before: str) -> bool:
        """Does the ``running`` row still hold its article (a live process working on it)?"""
        if row["created_at"] < stale_before:
            return False
        if row["host"] != self._host or row["pid"] is None:
            return True
        if row["pid"] == os.getpid():
            return row["id"] in RunTables._live_runs
        return not pid_is_dead(row["pid"])

    def claim_run(self, *, article: Article, cache_key: str, refresh: bool = False, **run: Any) -> int | None:
        """Claim ``cache_key`` for this process and start its run, or say it is taken.

        In one write transaction (which also saves the article): when another live process is
        summarising the same cache key (a ``running`` row whose pid lives, younger than
        ``INTERRUPTED_AFTER``) return None, so the caller waits for that result instead of paying
        for it twice; when a result already exists (and not ``refresh``) return 0; else mark dead
        claims interrupted and return the new run's id (as ``start_run``)."""
        stale_before = _timestamp(datetime.now(timezone.utc) - INTERRUPTED_AFTER)
        with self._lock:
            with self._write("claim the article") as conn:
                if not refresh and conn.execute("SELECT 1 FROM results WHERE cache_key = ? LIMIT 1", (cache_key,)).fetchone():
                    return 0
                for row in conn.execute(
                    "SELECT id, pid, host, created_at FROM runs WHERE cache_key = ? AND status = 'running'", (cache_key,)
                ).fetchall():
                    if self._holds(row, stale_before):
                        return None
                    conn.execute(
                        "UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? WHERE id = ?",
                        (f"interrupted: process {row['pid']} no longer holds the article", _now(), row["id"]),
                    )
                upsert_article(conn, article)  # same transaction: no race
                run_id = insert_run(conn, self._host, cache_key=cache_key, article_sha256=article.sha256,
                                    source=article.source, **run)
            RunTables._live_runs.add(run_id)
            return run_id

    def abandon_run(self, run_id: int, reason: str = "interrupted before the run finished") -> None:
        """Release a claim whose work stopped without a result (cancelled, interrupted)."""
        RunTables._live_runs.discard(run_id)
        with self._write("release the run") as conn:
            conn.execute(
                "UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
                (f"interrupted: {reason}", _now(), run_id),
            )

    def add_attempt(self, run_id: int, attempt: Attempt) -> None:
        """Record one request/reply as soon as it happens (so a crash keeps it)."""
        self.add_attempts(run_id, (attempt,))

    def add_attempts(self, run_id: int, attempts: Sequence[Attempt]) -> None:
        """Record requests/replies of a run still going, in one transaction."""
        if not attempts:
            return
        with self._write("record the attempt") as conn:
            insert_attempts(conn, run_id, attempts)
            conn.execute("UPDATE runs SET attempts = MAX(attempts, ?) WHERE id = ?", (max(a.number for a in attempts), run_id))

    def finish_run(
        self,
        run_id: int,
        *,
        summary: ArticleSummary | None,
        error: str | None,
        attempts: int,
        usage: Usage,
        duration_s: float,
        attempt_log: Sequence[Attempt] = (),
    ) -> None:
        """Close a run: ``ok`` with its summary stored, or ``failed`` with ``error``.

        ``attempt_log`` holds attempts not yet recorded with :meth:`add_attempt`; they are
        written in the same transaction, so a run that needed one reply costs two writes in all
        (``claim_run`` and this)."""
        RunTables._live_runs.discard(run_id)
        with self._write("finish the run") as conn:
            row = conn.execute("SELECT cache_key FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id}: see `summariser runs list`")
            insert_attempts(conn, run_id, attempt_log)
            close_run(conn, run_id, cache_key=row["cache_key"], summary=summary, error=redact(error), attempts=attempts,
                      usage=usage, duration_s=duration_s)
