"""What ``summarise`` writes for each article besides the terminal: files in an output directory
and the JSON Lines record of an article that failed.

* ``OutputDir`` (``--out DIR``): one ``{stem}.json`` per summarised article, named after its
  source (``stdin`` for text from standard input; ``{stem}-2.json``, ... when two articles share
  a stem), each written atomically; with ``page=True`` its evidence page ``{stem}.html`` beside
  it (``evidence.write_evidence_html``, redacted like every evidence page).
* ``failure_record`` / ``outcome_failure_record``: the object
  ``schemas/article-error.schema.json`` describes, one line of JSON output per failed article,
  so a script can tell a failed article from a missing one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .files import atomic_write_text
from .schema import ArticleError, ArticleErrorDetail, ArticleSummary

if TYPE_CHECKING:
    from .article import Article
    from .extract import Outcome

__all__ = ["OutputDir", "failure_record", "outcome_failure_record"]


class OutputDir:
    """A directory that gets one JSON file (and optionally one evidence page) per article.

    Created (with its parents) if missing; an ``InputError`` if ``path`` is a file."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise InputError(f"--out {path} is a file: pass a directory")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.pages = 0
        self._used: set[str] = set()

    @property
    def files(self) -> int:
        """JSON files written so far."""
        return len(self._used)

    def write(self, summary: ArticleSummary, article: "Article", *, page: bool = False) -> Path:
        """Write ``summary`` as ``{stem}.json`` (and, with ``page``, its evidence page); return the JSON path."""
        path = self.path / self._name(article)
        atomic_write_text(path, json.dumps(summary.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")
        if page:
            from .evidence import write_evidence_html  # jinja2: only when a page is asked for

            write_evidence_html(summary, article.text, path.with_suffix(".html"))
            self.pages += 1
        return path

    def _name(self, article: "Article") -> str:
        stem = Path(article.source).stem if article.source else "stdin"
        stem = re.sub(r"[^\w.-]+", "_", stem) or "article"
        name, n = f"{stem}.json", 2
        while name in self._used:
            name, n = f"{stem}-{n}.json", n + 1
        self._used.add(name)
        return name


def failure_record(path: str | None, kind: str, message: str, attempts: int = 0) -> dict[str, Any]:
    """An article that failed, as JSON data (``schemas/article-error.schema.json``)."""
    record = ArticleError(error=ArticleErrorDetail(path=path, kind=kind, message=message, attempts=attempts))
    return record.model_dump(mode="json")


def outcome_failure_record(outcome: "Outcome", message: str) -> dict[str, Any]:
    """``failure_record`` of a failed outcome: its error's type, and the replies it tried."""
    error = outcome.error
    tried = len(getattr(error, "attempt_log", None) or []) or getattr(error, "attempts", 0) or 0
    return failure_record(outcome.article.source, type(error).__name__, message, tried)
