"""Gather the articles for a briefing: files, directories, globs, RSS/Atom feeds and article URLs.

One unreadable input never stops the others: every problem becomes a ``CollectFailure`` naming
the input and why, and the briefing lists it. Articles are deduplicated by URL and by text hash,
and ``filter_since`` keeps those published (or, when no date is known, first seen by the run
store) at or after a moment.

Reading single files goes through ``sources.py``; this module adds feeds, URLs, globs and stdin
(``-``). Every command that reads articles (``summarise``, ``briefing``, ``batch prepare``) reads
them here, so a URL, a feed or a directory means the same thing to each.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from .article import Article
from .errors import InputError
from .sources import clean_text, decode_text, expand_paths, html_to_article, looks_like_html, read_article, read_stdin, text_to_article

if TYPE_CHECKING:
    import httpx

    from .store import Store

FEED_SUFFIXES = (".rss", ".atom", ".xml")
USER_AGENT = "summariser/0.1 (+https://github.com/; news briefing)"
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class CollectFailure:
    """An input that gave no article, and why (one line, says what to do)."""

    source: str
    reason: str


@dataclass
class Collection:
    """What collecting found: unique articles in input order, failures, and what was dropped."""

    articles: list[Article] = field(default_factory=list)
    failures: list[CollectFailure] = field(default_factory=list)
    duplicates: list[tuple[Article, str]] = field(default_factory=list)  # (article, label it duplicates)
    too_old: list[Article] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # files in given directories that are not articles


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def _looks_like_feed(head: str) -> bool:
    head = head.lstrip()[:1024].lower()
    return "<rss" in head or "<feed" in head or "<rdf:rdf" in head


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _entry_date(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime(*parsed[:6], tzinfo=timezone.utc)


class Collector:
    """Turns source strings into articles; one shared HTTP client for URLs and feeds."""

    def __init__(
        self, *, timeout_s: float = 20.0, workers: int = 8, client: "httpx.Client | None" = None, pattern: str | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.pattern = pattern  # which files a directory contributes (see sources.directory_files)
        self._skipped: list[Path] = []
        self.workers = workers
        self._client = client
        self._owns_client = client is None
        self._feed_failures: list[CollectFailure] = []  # entries of feeds read so far that gave no article

    @property
    def client(self) -> "httpx.Client":
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                timeout=self.timeout_s, follow_redirects=True, headers={"User-Agent": USER_AGENT}
            )
        return self._client

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def __enter__(self) -> "Collector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- fetching --------------------------------------------------------------------------
    def fetch(self, url: str) -> tuple[str, str]:
        """(text, content type) of ``url``, or an InputError saying what went wrong."""
        import httpx

        try:
            response = self.client.get(url)
        except httpx.TimeoutException:
            raise InputError(f"{url}: timed out after {self.timeout_s:g}s: try again later or raise --fetch-timeout") from None
        except httpx.HTTPError as exc:
            raise InputError(f"{url}: cannot fetch ({type(exc).__name__}: {exc}): check the URL and the network") from None
        if response.status_code >= 400:
            raise InputError(f"{url}: the server answered {response.status_code}: check the URL")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and not (content_type.startswith("text/") or "xml" in content_type or "html" in content_type or "json" in content_type):
            raise InputError(f"{url}: is {content_type}, not an article or a feed")
        return decode_text(response.content, url), content_type

    def read_url(self, url: str) -> list[Article]:
        text, content_type = self.fetch(url)
        if "rss" in content_type or "atom" in content_type or (("xml" in content_type or not looks_like_html(text)) and _looks_like_feed(text)):
            return self.read_feed(text, url)
        if "html" in content_type or looks_like_html(text):
            return [html_to_article(text, url, url=url)]
        return [replace(text_to_article(text, url), url=url)]

    # -- feeds -----------------------------------------------------------------------------
    def read_feed(self, text: str, label: str) -> list[Article]:
        """The articles a feed links to (fetched), else the entry's own content."""
        import feedparser

        parsed = feedparser.parse(text)
        if parsed.bozo and not parsed.entries:
            raise InputError(f"{label}: not a readable RSS/Atom feed ({parsed.get('bozo_exception')})")
        if not parsed.entries:
            raise InputError(f"{label}: the feed has no entries")
        channel = parsed.get("feed", {})
        about = {"site_name": clean_text(channel.get("title")), "language": clean_text(channel.get("language")), "feed": label}
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(lambda e: self._feed_entry(e, label, about), parsed.entries))
        articles = []
        for result in results:
            if isinstance(result, CollectFailure):
                self._feed_failures.append(result)
            else:
                articles.append(result)
        return articles

    def _feed_entry(self, entry: Any, feed: str, about: Mapping[str, str | None]) -> Article | CollectFailure:
        link = entry.get("link")
        title = entry.get("title")
        published = _entry_date(entry)
        author = clean_text(entry.get("author"))
        problem = None

        def described(article: Article, **known: Any) -> Article:
            # The page's own metadata first; the feed fills what the page does not say.
            return replace(
                article,
                site_name=article.site_name or about["site_name"],
                author=article.author or author,
                language=article.language or about["language"],
                feed=about["feed"],
                **known,
            )

        if link and is_url(link):
            try:
                found = self.read_url(link)
                if len(found) == 1:
                    return described(found[0], title=found[0].title or title, published=_aware(found[0].published) or published)
                problem = f"{link}: is a feed, not an article"
            except InputError as exc:
                problem = str(exc)
        # No usable link: fall back to the entry's own content, when it has some.
        content = (entry.get("content") or [{}])[0].get("value") or entry.get("summary") or ""
        if content.strip():
            try:
                body = html_to_article(f"<html><body><article>{content}</article></body></html>", link or feed) if "<" in content else text_to_article(content, link or feed)
                why = problem or "the feed entry has no link to the article"
                return described(body, title=title or body.title, published=published, url=link if link and is_url(link) else None,
                                 teaser=why)
            except InputError as exc:
                problem = problem or str(exc)
        return CollectFailure(link or f"{feed} ({title or 'untitled entry'})", problem or "the feed entry has no link and no content")

    # -- everything ------------------------------------------------------------------------
    def _expand(self, source: str) -> list[str | Path] | CollectFailure:
        if is_url(source) or source == "-":
            return [source]
        if _GLOB_CHARS & set(source) and not Path(source).exists():
            matches = sorted(glob.glob(source, recursive=True))
            if not matches:
                return CollectFailure(source, "no files match this pattern: check it (quote it so the shell leaves it alone)")
            return [Path(m) for m in matches if Path(m).is_file()]
        try:
            return list(expand_paths([source], pattern=self.pattern, skipped=self._skipped))
        except InputError as exc:
            return CollectFailure(source, str(exc).removeprefix(f"{source}: "))

    def read_source(self, item: str | Path) -> list[Article]:
        if isinstance(item, str) and is_url(item):
            return self.read_url(item)
        if str(item) == "-":
            return [read_stdin()]
        path = Path(item)
        if path.suffix.lower() in FEED_SUFFIXES or (path.is_file() and _sniff_feed(path)):
            data = path.read_bytes() if path.is_file() else b""
            if not data:
                raise InputError(f"{path}: no such file: check the path")
            return self.read_feed(decode_text(data, str(path)), str(path))
        return [read_article(path)]

    def iter_articles(self, sources: Iterable[str | Path], failures: list[CollectFailure]) -> Iterator[Article]:
        """Articles one at a time, in input order, without deduplication: for inputs too many
        to hold in memory at once (``batch prepare``). Unreadable inputs go to ``failures``."""
        for source in sources:
            expanded = self._expand(str(source))
            if isinstance(expanded, CollectFailure):
                failures.append(expanded)
                continue
            for item in expanded:
                self._feed_failures = []
                try:
                    found = self.read_source(item)
                except InputError as exc:
                    failures.append(CollectFailure(str(item), str(exc).removeprefix(f"{item}: ")))
                    continue
                failures.extend(self._feed_failures)
                for article in found:
                    yield replace(article, published=_aware(article.published))

    def collect(self, sources: Iterable[str]) -> Collection:
        """Read every source; dedupe by URL and text hash, keeping the first occurrence."""
        result = Collection()
        items: list[str | Path] = []
        self._skipped = result.skipped
        for source in sources:
            expanded = self._expand(str(source))
            if isinstance(expanded, CollectFailure):
                result.failures.append(expanded)
            else:
                items.extend(expanded)

        def read(item: str | Path) -> list[Article] | CollectFailure:
            try:
                return self.read_source(item)
            except InputError as exc:
                return CollectFailure(str(item), str(exc).removeprefix(f"{item}: "))

        self._feed_failures = []
        with ThreadPoolExecutor(self.workers) as pool:
            outcomes = list(pool.map(read, items))
        by_url: dict[str, str] = {}
        by_hash: dict[str, str] = {}
        for outcome in outcomes:
            if isinstance(outcome, CollectFailure):
                result.failures.append(outcome)
                continue
            for article in outcome:
                url = url_key(article.source)
                first = (by_url.get(url) if url else None) or by_hash.get(article.sha256)
                if first is not None:
                    result.duplicates.append((article, first))
                    continue
                if url:
                    by_url[url] = article.label
                by_hash[article.sha256] = article.label
                result.articles.append(replace(article, published=_aware(article.published)))
        result.failures.extend(self._feed_failures)
        return result


def _sniff_feed(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(1024).decode("utf-8", "replace")
    except OSError:
        return False
    return head.lstrip().startswith("<?xml") and _looks_like_feed(head)


def url_key(source: str | None) -> str | None:
    """URLs compare equal without surrounding space, their #fragment or a trailing slash; None
    for a source that is not a URL."""
    if not source or not is_url(source):
        return None
    url = urldefrag(source.strip()).url
    return url.rstrip("/") or url


def collect_articles(sources: Iterable[str], *, timeout_s: float = 20.0, pattern: str | None = None) -> Collection:
    """Read files, directories, globs, feeds and URLs into unique articles (see ``Collector``)."""
    with Collector(timeout_s=timeout_s, pattern=pattern) as collector:
        return collector.collect(sources)


def first_seen(store: "Store | None", hashes: Iterable[str]) -> dict[str, datetime]:
    """When the run store first saw each article text (absent: never seen)."""
    return store.first_seen(hashes) if store is not None else {}


def article_time(article: Article, seen: Mapping[str, datetime], *, now: datetime | None = None) -> datetime:
    """The article's date where known, else when the store first saw it, else now."""
    return _aware(article.published) or seen.get(article.sha256) or now or datetime.now(timezone.utc)


def filter_since(
    articles: list[Article], since: datetime | None, *, store: "Store | None" = None, now: datetime | None = None
) -> tuple[list[Article], list[Article]]:
    """(kept, too old): articles dated, or first seen, at or after ``since``."""
    if since is None:
        return list(articles), []
    since = _aware(since)
    seen = first_seen(store, (a.sha256 for a in articles if a.published is None))
    kept, old = [], []
    for article in articles:
        (kept if article_time(article, seen, now=now) >= since else old).append(article)
    return kept, old
