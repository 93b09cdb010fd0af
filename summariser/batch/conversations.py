"""Rebuilding conversations: the Session a stored batch request row stands for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..article import Article
from ..prompts import Prompt, load_prompt
from ..session import ArticleTask, Session

if TYPE_CHECKING:
    from ..store import BatchRequestRow


class _Conversations:
    """Sessions rebuilt from batch request rows: the same prompt, task and checks as summarise."""

    def __init__(self) -> None:
        self._prompts: dict[str, Prompt] = {}

    def prompt(self, ref: str) -> Prompt:
        if ref not in self._prompts:
            self._prompts[ref] = load_prompt(ref)
        return self._prompts[ref]

    def session(self, row: "BatchRequestRow", article: Article) -> Session:
        params = row.params
        task = ArticleTask(article, fuzzy_threshold=float(params.get("fuzzy_threshold", 95.0)))
        session = Session(
            task,
            self.prompt(row.prompt),
            model=row.model,
            mode=params.get("mode", "json_schema"),
            max_attempts=int(params.get("max_attempts", 3)),
            strict=bool(params.get("strict", False)),
        )
        return session.resume(row.state) if row.state else session


def _article_of(row: "BatchRequestRow", text: str) -> Article:
    return Article(text=text, source=row.source, title=row.title)
