"""Turn what the user points at into Articles: text, Markdown and HTML files, directories, stdin.

Every way an input can be unusable gets a one-line InputError naming the input and what to do.
"""

from __future__ import annotations

import fnmatch
import sys
from datetime import datetime, timezone
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .article import Article
from .errors import InputError

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
# What a directory contributes unless --glob says otherwise: a news folder's README.md or
# SOURCES.md is not an article, so Markdown is read only when named or globbed.
DIRECTORY_SUFFIXES = (".txt", ".html", ".htm")
DIRECTORY_HELP = "A directory contributes its .txt, .html and .htm files; --glob PATTERN picks others."
_HTML_SUFFIXES = (".html", ".htm")
_SNIFF = 8192
# Dates the page declares (meta tags, <time>, the URL), with their time of day. htmldate's
# extensive search would otherwise turn a year in the text ("in 2022") into 2022-01-01.
_DATE_CONFIG = {"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True, "extensive_search": False}
MIN_HTML_WORDS = 25  # less main text than this means the extractor found navigation, not an article


def decode_text(data: bytes, label: str) -> str:
    """Bytes to article text, refusing binary and non-UTF-8 input with a clear message."""
    if b"\x00" in data[:_SNIFF]:
        raise InputError(f"{label}: looks like a binary file, not text: pass a .txt, .md or .html article")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{label}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            f"convert it first, e.g. iconv -f latin1 -t utf-8 {label} > fixed.txt"
        ) from None
    if not text.strip():
        raise InputError(f"{label}: is empty: nothing to summarise")
    return text


def looks_like_html(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head


def html_to_article(html: str, label: str, *, url: str | None = None) -> Article:
    """Extract the main text and what the page says about itself (title, site, author, date,
    language, canonical URL) with trafilatura."""
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False, favor_precision=True)
    words = len(text.split()) if text else 0
    if words < MIN_HTML_WORDS:
        raise InputError(
            f"{label}: no article text found in this HTML page (only {words} words of main text): "
            "save the article's text as .txt instead"
        )
    meta = trafilatura.extract_metadata(html, default_url=url, date_config=_DATE_CONFIG)
    return Article(
        text=text.strip(),
        source=label,
        title=clean_text(meta.title) if meta else None,
        published=parse_date(meta.date) if meta else None,
        url=url or (clean_text(meta.url) if meta else None),
        site_name=clean_text(meta.sitename) if meta else None,
        author=clean_text(meta.author) if meta else None,
        language=page_language(html),
    )


def parse_date(text: str | None) -> datetime | None:
    """An ISO date or date-time as an aware datetime (UTC when no zone is given), else None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def page_language(html: str) -> str | None:
    """The language the page declares (``<html lang>``, else Content-Language or og:locale)."""
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None
    declared = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not declared:
        for meta in root.iter("meta"):
            key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
            if key in ("content-language", "og:locale", "language") and meta.get("content"):
                declared = meta.get("content")
                break
    return clean_text(declared.replace("_", "-")) if declared else None


def clean_text(value: Any) -> str | None:
    """``value`` as one line of text with its spacing collapsed; None when empty."""
    value = " ".join(str(value).split()) if value else None
    return value or None


def text_to_article(text: str, label: str | None) -> Article:
    if looks_like_html(text):
        return html_to_article(text, label or "<stdin>")
    text = text.strip()
    first = text.splitlines()[0].strip() if text else ""
    title = first if 0 < len(first) <= 200 and not first.endswith(".") else None
    return Article(text=text, source=label, title=title)


def read_article(path: Path | str) -> Article:
    """Read one article file (.txt, .md, .html; other text files are read as plain text)."""
    path = Path(path)
    label = str(path)
    if not path.exists():
        raise InputError(f"{label}: no such file: check the path")
    if path.is_dir():
        raise InputError(f"{label}: is a directory: pass its files, e.g. {label}/*.txt")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{label}: cannot be read ({exc.strerror}): check its permissions") from None
    text = decode_text(data, label)
    if path.suffix.lower() in _HTML_SUFFIXES:
        return html_to_article(text, label)
    return text_to_article(text, label)


def read_stdin(stream=None) -> Article:
    stream = stream or sys.stdin.buffer
    return text_to_article(decode_text(stream.read(), "<stdin>"), None)


def directory_files(path: Path, pattern: str | None = None) -> tuple[list[Path], list[Path]]:
    """(article files, skipped files) of a directory, sorted: ``pattern`` (a glob on the file
    name, e.g. ``*.md``) if given, else ``DIRECTORY_SUFFIXES``."""
    files = sorted(p for p in path.iterdir() if p.is_file())
    if pattern:
        keep = [p for p in files if fnmatch.fnmatch(p.name, pattern)]
    else:
        keep = [p for p in files if p.suffix.lower() in DIRECTORY_SUFFIXES]
    return keep, [p for p in files if p not in keep]


def expand_paths(
    inputs: Iterable[str | Path],
    *,
    pattern: str | None = None,
    skipped: list[Path] | None = None,
    errors: list[InputError] | None = None,
) -> Iterator[Path | str]:
    """Paths as given, with directories replaced by their article files (sorted). ``-`` is stdin.

    Files a directory holds but does not contribute are added to ``skipped`` when it is given.
    A directory with no article files raises InputError, or, when ``errors`` is given, is added
    to it and skipped: one empty directory among the arguments does not stop the others."""
    for item in inputs:
        if str(item) == "-":
            yield "-"
            continue
        path = Path(item)
        if path.is_dir():
            files, rest = directory_files(path, pattern)
            if skipped is not None:
                skipped.extend(rest)
            if not files:
                problem = InputError(f"{path}: no {pattern or ', '.join(DIRECTORY_SUFFIXES)} files in this directory")
                if errors is None:
                    raise problem
                errors.append(problem)
                continue
            yield from files
        else:
            yield path


def load_input(item: Path | str) -> Article:
    return read_stdin() if str(item) == "-" else read_article(item)
