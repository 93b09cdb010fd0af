"""``prepare_batch``: one request line per article without a stored result; the store first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..article import Article
from ..config import Settings
from ..errors import InputError
from ..prompts import Prompt, load_prompt
from ..session import summary_key
from .conversations import _article_of, _Conversations
from .files import CHUNK, MAX_FILE_BYTES, MAX_FILE_LINES, SplitWriter, _now, load_articles, make_custom_id, request_line

if TYPE_CHECKING:
    from ..store import Store


@dataclass
class PrepareReport:
    """What ``prepare_batch`` wrote."""

    articles: int = 0
    requests: int = 0
    cached: int = 0
    in_flight: int = 0
    duplicates: int = 0
    input_errors: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    model: str = ""
    prompt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles, "requests": self.requests, "cached": self.cached, "in_flight": self.in_flight,
            "duplicates": self.duplicates, "files": [str(p) for p in self.files], "model": self.model,
            "prompt": self.prompt, "input_errors": self.input_errors,
        }


def prepare_batch(
    articles: Iterable[Article],
    out: Path,
    *,
    store: "Store",
    settings: Settings,
    prompt: Prompt | str | None = None,
    max_lines: int = MAX_FILE_LINES,
    max_bytes: int = MAX_FILE_BYTES,
    on_progress: Callable[[PrepareReport], None] | None = None,
) -> PrepareReport:
    """Write one request line per article without a stored result; save articles + requests.

    Streams: ``articles`` may be a generator of any length; memory holds one chunk at a time.
    An article whose request is already in flight is written again with the same ``custom_id``
    (and body), so a lost file can be re-made; an article that failed for good starts afresh.
    """
    from ..store import BatchRequestRow

    ref = prompt if prompt is not None else settings.prompt
    template = ref if isinstance(ref, Prompt) else load_prompt(ref)
    model = settings.model_name
    mode = "json_object" if settings.mode == "json_object" else "json_schema"
    params = {"mode": mode, "max_attempts": settings.max_attempts, "strict": settings.strict, "fuzzy_threshold": settings.fuzzy_threshold}
    report = PrepareReport(model=model, prompt=template.ref)
    conversations = _Conversations()
    conversations._prompts[template.ref] = template

    def flush(chunk: list[Article], writer: SplitWriter) -> None:
        keyed: dict[str, Article] = {}
        for article in chunk:
            key = summary_key(article, template, model, settings)
            if key in keyed:
                report.duplicates += 1
            keyed[key] = article
        done = store.cached_keys(keyed)
        pending = store.pending_batch_requests(k for k in keyed if k not in done)
        fresh: list[tuple[Article, BatchRequestRow]] = []
        lines: list[str] = []
        for key, article in keyed.items():
            if key in done:
                report.cached += 1
                continue
            row = pending.get(key)
            if row is not None:
                report.in_flight += 1
                body = conversations.session(row, _article_of(row, article.text)).request()
            else:
                row = BatchRequestRow(
                    custom_id=make_custom_id(key, 1), cache_key=key, attempt=1, article_sha256=article.sha256,
                    source=article.source, title=article.title, prompt=template.ref, prompt_sha256=template.sha256,
                    model=model, params=params, started_at=_now(),
                )
                fresh.append((article, row))
                body = conversations.session(row, article).request()
            lines.append(request_line(row.custom_id, body))
        store.add_batch_requests(fresh)  # saved before written: an import can always find its request
        for line in lines:
            writer.write(line)
        report.requests += len(lines)

    from ..limits import check_length

    chunk: list[Article] = []
    with SplitWriter(out, max_lines=max_lines, max_bytes=max_bytes) as writer:
        for article in articles:
            report.articles += 1
            try:
                check_length(article.text, max_chars=settings.max_chars)
            except InputError as exc:  # never written, never paid for
                report.input_errors.append(f"{article.label}: {exc}")
                continue
            chunk.append(article)
            if len(chunk) >= CHUNK:
                flush(chunk, writer)
                chunk = []
                if on_progress:
                    on_progress(report)
        if chunk:
            flush(chunk, writer)
        report.files = list(writer.paths)
    return report


def prepare_sources(
    sources: Iterable[str | Path],
    out: Path,
    *,
    store: "Store",
    settings: Settings,
    pattern: str | None = None,
    fetch_timeout_s: float = 20.0,
    on_progress: Callable[[PrepareReport], None] | None = None,
) -> PrepareReport:
    """``prepare_batch`` over the articles of files, directories, globs, stdin, URLs and feeds
    (``load_articles``): ``input_errors`` lists the inputs that could not be read, then the
    articles refused for their length, one line each (what ``batch prepare`` prints)."""
    unreadable: list[str] = []
    articles = load_articles(sources, unreadable, pattern=pattern, fetch_timeout_s=fetch_timeout_s)
    report = prepare_batch(articles, out, store=store, settings=settings, on_progress=on_progress)
    report.input_errors = unreadable + report.input_errors
    return report
