"""The run store's schema: an append-only list of SQL steps.

``PRAGMA user_version`` records how many have been applied. Never edit a released step: add one.
"""

from __future__ import annotations

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