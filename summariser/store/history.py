"""Reading runs back: ``summariser runs list/show`` and ``summariser export``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, StoreError
from ..prompts import parse_ref
from ..schema import ArticleSummary, Attempt, Usage
from ._base import StoreBase, _timestamp
from .migrations import RUN_STATUSES


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


class RunHistory(StoreBase):
    """Listing, showing and exporting runs (a mixin of ``Store``)."""

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
            name, version = parse_ref(prompt, any_name=True)
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
