"""The store's plumbing: one SQLite connection, short write transactions, error translation.

* WAL mode lets readers and one writer work side by side; writers take the lock up front
  (``BEGIN IMMEDIATE``) and wait up to ``BUSY_TIMEOUT_S`` for each other instead of failing.
* Every sqlite3 error leaves as a ``StoreError`` that says how to go on.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from ..errors import StoreError
from .migrations import MIGRATIONS, STORE_MIGRATION_VERSION

BUSY_TIMEOUT_S = 30.0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _timestamp(moment: datetime) -> str:
    """Stored form of a datetime: UTC ISO 8601, fixed width, so text order is time order."""
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _endpoint_host(endpoint: str) -> str:
    """Keep only host[:port], so a URL carrying credentials can never be recorded."""
    if "://" not in endpoint and "@" not in endpoint:
        return endpoint
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    host = parts.hostname or "unknown"
    return f"{host}:{parts.port}" if parts.port else host


class StoreBase:
    """The connection, its transactions and migrations; the tables' methods live in the
    ``runs`` and ``batches`` mixins that :class:`summariser.store.Store` combines."""

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

        from ..llm.retry import released

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
