"""The Article value: text plus where it came from. Pure data; reading files lives in sources.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from .schema import SourceInfo


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Article:
    """One article's text and origin. ``sha256`` identifies the text across runs (cache key)."""

    text: str
    source: str | None = None
    title: str | None = None
    published: datetime | None = None
    # Set when the text is a feed entry's own teaser (its link could not be read): why.
    teaser: str | None = None
    # What the page or feed says about itself (trafilatura's metadata, the feed entry); None
    # where it says nothing. Never guessed.
    url: str | None = None
    site_name: str | None = None
    author: str | None = None
    language: str | None = None
    feed: str | None = None
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", sha256_text(self.text))

    @property
    def label(self) -> str:
        """A short name for messages: the path or URL, else the start of the hash."""
        return self.source or f"<text {self.sha256[:12]}>"

    def source_info(self) -> SourceInfo:
        return SourceInfo(
            path=self.source,
            sha256=self.sha256,
            length=len(self.text),
            url=self.url,
            title=self.title,
            site_name=self.site_name,
            author=self.author,
            published=self.published,
            language=self.language,
            feed=self.feed,
        )


def cache_key(*, article_sha256: str, prompt_sha256: str, model: str, schema_version: str, options: str = "") -> str:
    """The identity of a summary: same text + prompt file + model + schema + options = same result.

    ``options`` names the non-default settings that change a result (strict, mode, ...); it is
    left out when empty so keys made with default settings are the same as before it existed.
    Used by the store's cache, by batch ``custom_id``s, and by briefings to find done work.
    """
    parts = (article_sha256, prompt_sha256, model, schema_version) + ((options,) if options else ())
    material = "\x1f".join(parts)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
