"""Batch files: custom ids, request lines, writing JSON Lines split at OpenAI's per-file limits,
counting lines, and reading the articles a batch is prepared from."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ..article import Article

BATCH_URL = "/v1/chat/completions"
# OpenAI's limits per input file: 50,000 requests, 200 MB. Stay a little under the bytes limit.
MAX_FILE_LINES = 50_000
MAX_FILE_BYTES = 200 * 1000 * 1000
CHUNK = 500  # lines handled per store round trip (one transaction per chunk on import)
_CUSTOM_ID = re.compile(r"^([0-9a-f]{32})-a(\d+)$")

def make_custom_id(key: str, attempt: int) -> str:
    """``<first 32 hex of the cache key>-a<attempt>``: 128 bits name the article, prompt file,
    model and schema version; the suffix tells a repair from the first request."""
    return f"{key[:32]}-a{attempt}"


def parse_custom_id(custom_id: str) -> tuple[str, int] | None:
    match = _CUSTOM_ID.match(custom_id)
    return (match.group(1), int(match.group(2))) if match else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# ------------------------------------------------------------------------------------------
# Writing batch files


class SplitWriter:
    """Write JSON Lines to ``path``, moving on to ``stem-002.jsonl``... at the per-file limits.

    The first file is renamed ``stem-001.jsonl`` once a second one is needed, so a batch that
    fits in one file keeps the name asked for. Nothing is created when nothing is written.
    """

    def __init__(self, path: Path, *, max_lines: int = MAX_FILE_LINES, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.path = Path(path)
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.paths: list[Path] = []
        self.lines = 0
        self._file: TextIO | None = None
        self._lines_here = 0
        self._bytes_here = 0

    def _numbered(self, n: int) -> Path:
        suffix = self.path.suffix or ".jsonl"
        return self.path.with_name(f"{self.path.stem}-{n:03d}{suffix}")

    def write(self, line: str) -> None:
        data = line + "\n"
        size = len(data.encode("utf-8"))
        if self._file is not None and (self._lines_here >= self.max_lines or self._bytes_here + size > self.max_bytes):
            self._file.close()
            if len(self.paths) == 1:
                first = self._numbered(1)
                os.replace(self.paths[0], first)
                self.paths[0] = first
            self._file = None
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = self.path if not self.paths else self._numbered(len(self.paths) + 1)
            self._file = target.open("w", encoding="utf-8")
            self.paths.append(target)
            self._lines_here = self._bytes_here = 0
        self._file.write(data)
        self._lines_here += 1
        self._bytes_here += size
        self.lines += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "SplitWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request_line(custom_id: str, body: dict[str, Any]) -> str:
    return _dumps({"custom_id": custom_id, "method": "POST", "url": BATCH_URL, "body": body})


def count_lines(path: Path) -> int:
    with Path(path).open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def load_articles(
    sources: Iterable[str | Path], errors: list[str], *, pattern: str | None = None, fetch_timeout_s: float = 20.0
) -> Iterator[Article]:
    """Articles from files, directories, globs, stdin, URLs and feeds (the same reader as
    ``summarise``), lazily; unreadable inputs go to ``errors`` as one line each."""
    from ..collect import Collector

    failures: list = []

    def drain() -> None:
        errors.extend(f"{f.source}: {f.reason}" for f in failures)
        failures.clear()

    with Collector(timeout_s=fetch_timeout_s, pattern=pattern) as collector:
        for article in collector.iter_articles(sources, failures):
            drain()
            yield article
    drain()
