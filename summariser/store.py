"""The run store: every article, run, attempt and result, kept in one SQLite file.

Why it looks like this:

* **Nothing is lost when a process dies.** Each call (``start_run``, ``add_attempt``,
  ``finish_run``) is its own short transaction, committed before it returns, so a run killed
  with SIGKILL loses at most the article in flight. Runs left ``running`` by a dead process are
  shown as ``interrupted`` the next time the store is opened (see ``mark_interrupted_runs``).
* **Several processes can write at once.** WAL mode lets readers and one writer work side by
  side; writers take the lock up front (``BEGIN IMMEDIATE``) and wait up to ``BUSY_TIMEOUT_S``
  for each other instead of failing.
* **Old files keep opening.** ``MIGRATIONS`` is an append-only list of SQL steps;
  ``PRAGMA user_version`` records how many have been applied. Never edit a released step: add one.
* **No secrets.** Nothing here takes an API key; ``start_run`` refuses ``params`` that hold one
  and keeps only the endpoint's host.

Tables: ``articles`` (text by sha256), ``runs`` (one per article summarised: prompt, model,
endpoint host, params, status, cost), ``attempts`` (every request/reply of a run, with the
problems that caused a retry) and ``results`` (the validated ``ArticleSummary`` JSON of ok runs,
keyed by ``cache_key``).
``batch_requests`` and ``batches`` track ``summariser batch`` files and Batch API jobs.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from .article import Article
from .errors import ConfigError, StoreError
from .files import pid_is_dead
from .redaction import redact
from .schema import ArticleSummary, Attempt, Usage

BUSY_TIMEOUT_S = 30.0
# A run still ``running`` after this long is treated as interrupted even when its process cannot
# be checked (another host, or a file from before pids were recorded). One article never takes
# this long, so a live writer is never marked.
INTERRUPTED_AFTER = timedelta(hours=1)
RUN_STATUSES: tuple[str, ...] = ("running", "ok", "failed", "interrupted")

# Append-only: step N brings a database from user_version N-1 to N.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the core tables.
    (
        """CREATE TABLE articles (
            sha256      TEXT PRIMARY KEY,
            source      TEXT,
            title       TEXT,
            text        TEXT NOT NULL,
            first_seen  TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            id                INTEGER PRIMARY KEY AUTOINCREMENT,
            cache_key         TEXT NOT NULL,
            article_sha256    TEXT NOT NULL REFERENCES articles(sha256),
            source            TEXT,
            prompt            TEXT NOT NULL,
            prompt_version    INTEGER,
            prompt_sha256     TEXT NOT NULL,
            model             TEXT NOT NULL,
            endpoint          TEXT NOT NULL,
            params            TEXT NOT NULL DEFAULT '{}',
            status            TEXT NOT NULL DEFAULT 'running'
                              CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
            error             TEXT,
            attempts          INTEGER NOT NULL DEFAULT 0,
            prompt_tokens     INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            total_tokens      INTEGER NOT NULL DEFAULT 0,
            duration_s        REAL,
            created_at        TEXT NOT NULL,
            finished_at       TEXT
        )""",
        """CREATE TABLE attempts (
            run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            number            INTEGER NOT NULL,
            messages          TEXT NOT NULL,
            reply             TEXT,
            errors            TEXT NOT NULL DEFAULT '[]',
            finish_reason     TEXT,
            prompt_tokens     INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            total_tokens      INTEGER NOT NULL DEFAULT 0,
            latency_s         REAL,
            transport_retries INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, number)
        )""",
        """CREATE TABLE results (
            run_id     INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            cache_key  TEXT NOT NULL,
            summary    TEXT NOT NULL
        )""",
        "CREATE INDEX results_cache_key ON results (cache_key, run_id)",
    ),
    # 2: who is running a run (to tell interrupted runs from live ones), and list/export indexes.
    (
        "ALTER TABLE runs ADD COLUMN pid INTEGER",
        "ALTER TABLE runs ADD COLUMN host TEXT",
        "CREATE INDEX runs_created_at ON runs (created_at)",
        "CREATE INDEX runs_status ON runs (status) WHERE status = 'running'",
    ),
    # 3: batch files (summariser batch): the requests sent in them and the Batch API jobs.
    (
        """CREATE TABLE batch_requests (
            custom_id       TEXT PRIMARY KEY,
            cache_key       TEXT NOT NULL,
            attempt         INTEGER NOT NULL,
            article_sha256  TEXT NOT NULL REFERENCES articles(sha256),
            source          TEXT,
            title           TEXT,
            prompt          TEXT NOT NULL,
            prompt_sha256   TEXT NOT NULL,
            model           TEXT NOT NULL,
            params          TEXT NOT NULL DEFAULT '{}',
            state           TEXT,
            status          TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'done', 'repair', 'failed')),
            run_id          INTEGER REFERENCES runs(id),
            error           TEXT,
            started_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        )""",
        "CREATE INDEX batch_requests_pending ON batch_requests (cache_key, attempt) WHERE status = 'pending'",
        """CREATE TABLE batches (
            id              TEXT PRIMARY KEY,
            endpoint        TEXT NOT NULL,
            input_file      TEXT NOT NULL,
            input_file_id   TEXT NOT NULL,
            status          TEXT NOT NULL,
            request_counts  TEXT NOT NULL DEFAULT '{}',
            output_file_id  TEXT,
            error_file_id   TEXT,
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL,
            collected_at    TEXT
        )""",
    ),
)
# PRAGMA user_version once every migration has run; unrelated to schema.SCHEMA_VERSION (the output format).
STORE_MIGRATION_VERSION = len(MIGRATIONS)

_SECRET_NAMES = {"api_key", "apikey", "api-key", "authorization", "password", "secret", "access_token"}


@dataclass(frozen=True)
class RunRow:
    """One run as listed by ``summariser runs list``."""

    id: int
    status: str
    created_at: datetime
    finished_at: datetime | None
    source: str | None
    title: str | None
    article_sha256: str
    prompt: str
    prompt_sha256: str
    model: str
    endpoint: str
    attempts: int
    usage: Usage
    duration_s: float | None
    error: str | None
    cache_key: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["usage"] = self.usage.model_dump()
        return data


@dataclass(frozen=True)
class RunDetail:
    """A run with its parameters, every attempt and (for ok runs) its summary."""

    run: RunRow
    params: dict[str, Any]
    attempts: tuple[Attempt, ...]
    summary: ArticleSummary | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "params": self.params,
            "attempts": [attempt.model_dump(mode="json") for attempt in self.attempts],
            "summary": self.summary.model_dump(mode="json") if self.summary else None,
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _timestamp(moment: datetime) -> str:
    """Stored form of a datetime: UTC ISO 8601, fixed width, so text order is time order."""
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_prompt_ref(prompt: str) -> tuple[str, int | None]:
    """``'article@2'`` -> ``('article', 2)``; ``'article'`` -> ``('article', None)``."""
    name, _, version = prompt.partition("@")
    if not name or (version and not version.isdigit()):
        raise ConfigError(f"prompt {prompt!r} is not NAME or NAME@VERSION: use e.g. article or article@2")
    return name, int(version) if version else None


def _endpoint_host(endpoint: str) -> str:
    """Keep only host[:port], so a URL carrying credentials can never be recorded."""
    if "://" not in endpoint and "@" not in endpoint:
        return endpoint
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    host = parts.hostname or "unknown"
    return f"{host}:{parts.port}" if parts.port else host


def _refuse_secrets(value: Any, where: str = "params") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in _SECRET_NAMES:
                raise ValueError(f"{where}[{key!r}] looks like a credential: the run store never records keys")
            _refuse_secrets(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _refuse_secrets(item, f"{where}[{index}]")


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


class Store:
    """The run store at ``path`` (created, with its parent directories, if missing).

    >>> with Store(settings.store_path) as store:
    ...     store.get_cached(key)

    One ``Store`` may be shared by threads; separate processes should each open their own.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()
        self._host = socket.gethostname()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create {self.path.parent} for the run store ({exc.strerror}): "
                "pass --db PATH or set SUMMARISER_DB to a writable location"
            ) from None
        for target in (self.path, self.path.parent):  # WAL also writes -wal/-shm files beside it
            if target.exists() and not os.access(target, os.W_OK):
                raise StoreError(
                    f"cannot write the run store: {target} is read-only: fix its permissions, "
                    "or pass --db PATH / set SUMMARISER_DB to a writable location"
                )
        self._conn = self._connect()
        try:
            with self._translate_errors("open"):
                self._open()
            self.mark_interrupted_runs()
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def _open(self) -> None:
        """Switch to WAL and migrate. When two processes create the same new file at once, SQLite
        can answer "database is locked" at once (switching the journal mode does not wait on the
        busy timeout), so that case is retried for up to the busy timeout, briefly apart."""
        from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

        from .retrying import released

        def locked(exc: BaseException) -> bool:
            return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))

        retrying = Retrying(retry=retry_if_exception(locked), stop=stop_after_delay(BUSY_TIMEOUT_S), wait=wait_random(0.01, 0.2), reraise=True)
        with released(retrying):
            for attempt in retrying:
                with attempt:
                    self._conn.execute("PRAGMA journal_mode = WAL")
                    self._conn.execute("PRAGMA synchronous = FULL")
                    self._conn.execute("PRAGMA foreign_keys = ON")
                    self._migrate()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._store_error(exc, "open") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _store_error(self, exc: sqlite3.Error, action: str) -> StoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            return StoreError(
                f"{self.path} is not a summariser run store or is corrupt ({text}): move it aside "
                "(a new store is created on the next run) or pass --db PATH"
            )
        if "locked" in text or "busy" in text:
            return StoreError(
                f"the run store {self.path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s: "
                "wait for it to finish or pass --db PATH"
            )
        if "readonly" in text or "unable to open" in text or "read-only" in text:
            return StoreError(
                f"cannot write the run store {self.path} ({text}): check the file and directory "
                "permissions, or pass --db PATH / set SUMMARISER_DB to a writable location"
            )
        return StoreError(f"run store {self.path}: cannot {action} ({text}): pass --db PATH to use another file")

    @contextmanager
    def _translate_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._store_error(exc, action) from None

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One short write transaction; the lock is taken up front so waiting uses busy_timeout."""
        with self._lock, self._translate_errors(action):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._translate_errors("read"):
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _read_in(self, sql: str, values: Iterable[str], *, per_query: int = 500) -> list[sqlite3.Row]:
        """``sql`` with ``{marks}`` for an ``IN (...)`` list, run over the distinct ``values`` in
        slices that stay under SQLite's bound-variable limit."""
        wanted = list(dict.fromkeys(values))
        rows: list[sqlite3.Row] = []
        for start in range(0, len(wanted), per_query):
            chunk = wanted[start : start + per_query]
            rows += self._read(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == STORE_MIGRATION_VERSION:
            return
        if version > STORE_MIGRATION_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer summariser (store version {version}, this one "
                f"knows {STORE_MIGRATION_VERSION}): upgrade summariser or pass --db PATH"
            )
        with self._write("migrate"):
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for number, steps in enumerate(MIGRATIONS[version:], start=version + 1):
                for sql in steps:
                    self._conn.execute(sql)
                self._conn.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
            self._upsert_article(conn, article)

    @staticmethod
    def _upsert_article(conn: sqlite3.Connection, article: Article) -> None:
        conn.execute(
            "INSERT INTO articles (sha256, source, title, text, first_seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (sha256) DO UPDATE SET "
            "source = COALESCE(articles.source, excluded.source), "
            "title = COALESCE(articles.title, excluded.title)",
            (article.sha256, article.source, article.title, article.text, _now()),
        )

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
        """
        with self._write("start the run") as conn:
            return self._insert_run(conn, article=article, cache_key=cache_key, prompt=prompt, prompt_sha256=prompt_sha256,
                                    model=model, endpoint=endpoint, params=params)

    def _insert_run(self, conn: sqlite3.Connection, *, article: Article, cache_key: str, prompt: str, prompt_sha256: str,
                    model: str, endpoint: str, params: dict[str, Any]) -> int:
        _refuse_secrets(params)
        name, version = parse_prompt_ref(prompt)
        params_json = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
        self._upsert_article(conn, article)
        cursor = conn.execute(
            "INSERT INTO runs (cache_key, article_sha256, source, prompt, prompt_version, prompt_sha256, "
            "model, endpoint, params, status, created_at, pid, host) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
            (
                cache_key,
                article.sha256,
                article.source,
                name,
                version,
                prompt_sha256,
                model,
                _endpoint_host(endpoint),
                params_json,
                _now(),
                os.getpid(),
                self._host,
            ),
        )
        return int(cursor.lastrowid)

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
            return row["id"] in Store._live_runs
        return not pid_is_dead(row["pid"])

    def claim_run(self, *, article: Article, cache_key: str, refresh: bool = False, **run: Any) -> int | None:
        """Claim ``cache_key`` for this process and start its run, or say it is taken.

        In one write transaction: when another live process is summarising the same cache key
        (a ``running`` row whose pid lives, younger than ``INTERRUPTED_AFTER``) return None, so the
        caller waits for that result instead of paying for it twice; when a result already
        exists (and not ``refresh``) return 0; else mark dead claims interrupted and return the
        new run's id (as ``start_run``)."""
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
                run_id = self._insert_run(conn, article=article, cache_key=cache_key, **run)  # same transaction: no race
            Store._live_runs.add(run_id)
            return run_id

    def abandon_run(self, run_id: int, reason: str = "interrupted before the run finished") -> None:
        """Release a claim whose work stopped without a result (cancelled, interrupted)."""
        Store._live_runs.discard(run_id)
        with self._write("release the run") as conn:
            conn.execute(
                "UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
                (f"interrupted: {reason}", _now(), run_id),
            )

    def add_attempt(self, run_id: int, attempt: Attempt) -> None:
        """Record one request/reply as soon as it happens (so a crash keeps it)."""
        with self._write("record the attempt") as conn:
            conn.execute(
                "INSERT OR REPLACE INTO attempts (run_id, number, messages, reply, errors, finish_reason, "
                "prompt_tokens, completion_tokens, total_tokens, latency_s, transport_retries) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    attempt.number,
                    redact(json.dumps(attempt.messages, ensure_ascii=False, default=str)),
                    redact(attempt.reply),
                    redact(json.dumps(attempt.errors, ensure_ascii=False)),
                    attempt.finish_reason,
                    attempt.usage.prompt_tokens,
                    attempt.usage.completion_tokens,
                    attempt.usage.total_tokens,
                    attempt.latency_s,
                    attempt.transport_retries,
                ),
            )
            conn.execute("UPDATE runs SET attempts = MAX(attempts, ?) WHERE id = ?", (attempt.number, run_id))

    def finish_run(
        self,
        run_id: int,
        *,
        summary: ArticleSummary | None,
        error: str | None,
        attempts: int,
        usage: Usage,
        duration_s: float,
    ) -> None:
        """Close a run: ``ok`` with its summary stored, or ``failed`` with ``error``."""
        status = "ok" if summary is not None else "failed"
        Store._live_runs.discard(run_id)
        with self._write("finish the run") as conn:
            row = conn.execute("SELECT cache_key FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id}: see `summariser runs list`")
            conn.execute(
                "UPDATE runs SET status = ?, error = ?, attempts = ?, prompt_tokens = ?, completion_tokens = ?, "
                "total_tokens = ?, duration_s = ?, finished_at = ? WHERE id = ?",
                (
                    status,
                    redact(error),
                    attempts,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    usage.total_tokens,
                    duration_s,
                    _now(),
                    run_id,
                ),
            )
            if summary is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO results (run_id, cache_key, summary) VALUES (?, ?, ?)",
                    (run_id, row["cache_key"], redact(summary.model_dump_json())),
                )

    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    def _filters(
        *, since: datetime | None, prompt: str | None, model: str | None, status: str | None = None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("r.created_at >= ?")
            params.append(_timestamp(since))
        if prompt:
            name, version = parse_prompt_ref(prompt)
            clauses.append("r.prompt = ?")
            params.append(name)
            if version is not None:
                clauses.append("r.prompt_version = ?")
                params.append(version)
        if model:
            clauses.append("r.model = ?")
            params.append(model)
        if status:
            if status not in RUN_STATUSES:
                raise ConfigError(f"unknown status {status!r}: use one of {', '.join(RUN_STATUSES)}")
            clauses.append("r.status = ?")
            params.append(status)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    _RUN_SELECT = "SELECT r.*, a.title AS title FROM runs r LEFT JOIN articles a ON a.sha256 = r.article_sha256"

    @staticmethod
    def _run_row(row: sqlite3.Row) -> RunRow:
        version = row["prompt_version"]
        return RunRow(
            id=row["id"],
            status=row["status"],
            created_at=datetime.fromisoformat(row["created_at"]),
            finished_at=datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None,
            source=row["source"],
            title=row["title"],
            article_sha256=row["article_sha256"],
            prompt=f"{row['prompt']}@{version}" if version is not None else row["prompt"],
            prompt_sha256=row["prompt_sha256"],
            model=row["model"],
            endpoint=row["endpoint"],
            attempts=row["attempts"],
            usage=Usage(
                prompt_tokens=row["prompt_tokens"],
                completion_tokens=row["completion_tokens"],
                total_tokens=row["total_tokens"],
            ),
            duration_s=row["duration_s"],
            error=row["error"],
            cache_key=row["cache_key"],
        )

    def list_runs(
        self,
        *,
        since: datetime | None = None,
        prompt: str | None = None,
        model: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[RunRow]:
        """Runs matching every given filter, newest first. ``limit <= 0`` means no limit."""
        where, params = self._filters(since=since, prompt=prompt, model=model, status=status)
        sql = f"{self._RUN_SELECT}{where} ORDER BY r.id DESC"
        if limit > 0:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._run_row(row) for row in self._read(sql, params)]

    def get_run(self, run_id: int) -> RunDetail:
        """One run with its attempts and summary."""
        rows = self._read(f"{self._RUN_SELECT} WHERE r.id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run {run_id}: see `summariser runs list`")
        run = rows[0]
        attempt_rows = self._read("SELECT * FROM attempts WHERE run_id = ? ORDER BY number", (run_id,))
        result = self._read("SELECT summary FROM results WHERE run_id = ?", (run_id,))
        try:
            attempts = tuple(
                Attempt(
                    number=a["number"],
                    messages=json.loads(a["messages"]),
                    reply=a["reply"],
                    finish_reason=a["finish_reason"],
                    errors=json.loads(a["errors"]),
                    usage=Usage(
                        prompt_tokens=a["prompt_tokens"],
                        completion_tokens=a["completion_tokens"],
                        total_tokens=a["total_tokens"],
                    ),
                    latency_s=a["latency_s"] or 0.0,
                    transport_retries=a["transport_retries"],
                )
                for a in attempt_rows
            )
            summary = ArticleSummary.model_validate_json(result[0]["summary"]) if result else None
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise StoreError(f"run {run_id} holds a damaged record ({first}): inspect it with sqlite3 {self.path}") from None
        return RunDetail(run=self._run_row(run), params=json.loads(run["params"]), attempts=attempts, summary=summary)

    def iter_results(
        self, *, since: datetime | None = None, prompt: str | None = None, model: str | None = None
    ) -> Iterator[tuple[int, str]]:
        """Stream ``(run_id, summary JSON)`` of the newest result per cache key, oldest first.

        Reads through its own connection inside one read transaction: a consistent snapshot that
        never blocks writers, and rows are fetched as they are consumed.
        """
        where, params = self._filters(since=since, prompt=prompt, model=model)
        sql = (
            "SELECT res.run_id, res.summary FROM results res WHERE res.run_id IN ("
            f"SELECT MAX(x.run_id) FROM results x JOIN runs r ON r.id = x.run_id{where} GROUP BY x.cache_key"
            ") ORDER BY res.run_id"
        )
        conn = self._connect()
        try:
            with self._translate_errors("read results"):
                conn.execute("BEGIN")
                cursor = conn.execute(sql, params)
                for run_id, summary in cursor:
                    yield run_id, summary
        finally:
            conn.close()

    # -- batches ----------------------------------------------------------------------------

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
                self._upsert_article(conn, article)
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
                name, version = parse_prompt_ref(request.prompt)
                usage = record.usage
                run_id = conn.execute(
                    "INSERT INTO runs (cache_key, article_sha256, source, prompt, prompt_version, prompt_sha256, model, "
                    "endpoint, params, status, error, attempts, prompt_tokens, completion_tokens, total_tokens, "
                    "duration_s, created_at, finished_at, pid, host) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.cache_key, request.article_sha256, request.source, name, version,
                        request.prompt_sha256, request.model, _endpoint_host(record.endpoint),
                        json.dumps(request.params | {"batch": request.custom_id}, sort_keys=True),
                        "ok" if record.status == "done" else "failed", error, len(record.attempts),
                        usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, record.duration_s,
                        request.started_at or now, now, os.getpid(), self._host,
                    ),
                ).lastrowid
                conn.executemany(
                    "INSERT INTO attempts (run_id, number, messages, reply, errors, finish_reason, prompt_tokens, "
                    "completion_tokens, total_tokens, latency_s, transport_retries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            run_id, a.number, redact(json.dumps(a.messages, ensure_ascii=False, default=str)), redact(a.reply),
                            redact(json.dumps(a.errors, ensure_ascii=False)), a.finish_reason, a.usage.prompt_tokens,
                            a.usage.completion_tokens, a.usage.total_tokens, a.latency_s, a.transport_retries,
                        )
                        for a in record.attempts
                    ],
                )
                if record.summary is not None:
                    conn.execute(
                        "INSERT INTO results (run_id, cache_key, summary) VALUES (?, ?, ?)",
                        (run_id, request.cache_key, redact(record.summary.model_dump_json())),
                    )
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
