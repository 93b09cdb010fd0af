"""Collecting articles: files, directories, globs, feeds and URLs over a local HTTP server."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from summariser.article import Article
from summariser.collect import Collector, collect_articles, filter_since, first_seen
from summariser.store import Store


def _page(title: str, body: str, date: str = "2026-11-20") -> str:
    paragraphs = "".join(f"<p>{body} Sentence {i} adds detail about the council vote and its budget.</p>" for i in range(4))
    return (
        f"<!doctype html><html><head><title>{title}</title>"
        f'<meta property="article:published_time" content="{date}"></head>'
        f"<body><nav>Home | World</nav><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


def _feed(base: str) -> str:
    items = [
        ("Council votes", f"{base}/a1.html", "Thu, 26 Nov 2026 08:00:00 GMT", ""),
        ("Bridge reopens", f"{base}/a2.html", "Wed, 25 Nov 2026 08:00:00 GMT", ""),
        ("Gone", f"{base}/missing.html", "Wed, 25 Nov 2026 09:00:00 GMT", ""),
        ("Same as one", f"{base}/a1.html#comments", "Thu, 26 Nov 2026 08:00:00 GMT", ""),
    ]
    xml = "".join(
        f"<item><title>{t}</title><link>{l}</link><pubDate>{d}</pubDate></item>" for t, l, d, _ in items
    )
    inline = "<item><title>Inline only</title><description>The harbour authority in Faro said on Friday that dredging will start in spring.</description><pubDate>Fri, 27 Nov 2026 08:00:00 GMT</pubDate></item>"
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{xml}{inline}</channel></rss>'


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        routes = {
            "/a1.html": ("text/html; charset=utf-8", _page("Council votes", "The council in Braga voted on Thursday.")),
            "/a2.html": ("text/html", _page("Bridge reopens", "The bridge in Coimbra reopened on Wednesday.")),
            "/copy-of-a2.html": ("text/html", _page("Bridge reopens", "The bridge in Coimbra reopened on Wednesday.")),
            "/feed.xml": ("application/rss+xml", _feed(base)),
            "/plain.txt": ("text/plain", "Plain news\n\nThe mayor of Evora opened a library on Monday."),
            "/image.png": ("image/png", "PNG"),
        }
        if self.path not in routes:
            self.send_error(404)
            return
        kind, text = routes[self.path]
        data = text.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_feed_over_http_fetches_linked_articles_dedupes_and_reports_failures(web):
    c = collect_articles([f"{web}/feed.xml"])
    assert [a.source for a in c.articles] == [f"{web}/a1.html", f"{web}/a2.html", f"{web}/feed.xml"]
    assert c.articles[0].title == "Council votes" and "Braga" in c.articles[0].text
    assert c.articles[0].published == datetime(2026, 11, 20, tzinfo=timezone.utc)  # the page's own date wins
    assert "Faro" in c.articles[2].text and c.articles[2].title == "Inline only"
    assert c.articles[2].published == datetime(2026, 11, 27, 8, tzinfo=timezone.utc)
    # The entry's own text stands in for an article page: said so, and why.
    assert c.articles[2].teaser == "the feed entry has no link to the article"
    assert c.articles[0].teaser is None and c.articles[1].teaser is None
    assert [(f.source, "404" in f.reason) for f in c.failures] == [(f"{web}/missing.html", True)]
    assert [(a.source, first) for a, first in c.duplicates] == [(f"{web}/a1.html#comments", f"{web}/a1.html")]


def test_urls_dedupe_by_text_and_reject_non_text(web):
    c = collect_articles([f"{web}/a2.html", f"{web}/copy-of-a2.html", f"{web}/plain.txt", f"{web}/image.png", "http://127.0.0.1:9/x"])
    assert [a.source for a in c.articles] == [f"{web}/a2.html", f"{web}/plain.txt"]
    assert c.articles[1].title == "Plain news"
    assert [first for _, first in c.duplicates] == [f"{web}/a2.html"]
    reasons = {f.source: f.reason for f in c.failures}
    assert "image/png" in reasons[f"{web}/image.png"] and "cannot fetch" in reasons["http://127.0.0.1:9/x"]


def test_feed_file_on_disk(web, tmp_path):
    feed = tmp_path / "world.rss"
    feed.write_text(_feed(web), encoding="utf-8")
    c = collect_articles([str(feed)])
    assert len(c.articles) == 3 and len(c.failures) == 1


def test_files_directories_and_globs_with_failures_and_dedupe(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "one.txt").write_text("One\n\nThe port of Sines expanded on Monday.")
    (inbox / "two.md").write_text("Two\n\nThe port of Leixoes closed on Tuesday.")
    (inbox / "sub" / "three.txt").write_text("One\n\nThe port of Sines expanded on Monday.")  # same text as one
    (inbox / "empty.txt").write_text("   ")
    c = collect_articles([str(inbox), str(inbox / "**" / "*.txt"), str(tmp_path / "missing.txt"), str(tmp_path / "*.nothing")])
    assert [Path(a.source).name for a in c.articles] == ["one.txt"]  # a directory's .md is not an article
    assert [p.name for p in c.skipped] == ["two.md"]
    assert {Path(a.source).name for a, _ in c.duplicates} == {"one.txt", "three.txt"}
    reasons = {Path(f.source).name: f.reason for f in c.failures}
    assert "empty" in reasons["empty.txt"] and "no such file" in reasons["missing.txt"]
    assert "no files match" in reasons["*.nothing"]


def test_since_uses_the_date_else_first_seen_else_now(tmp_path):
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    old = Article("Old dated", source="old", published=datetime(2026, 10, 1))
    new = Article("New dated", source="new", published=datetime(2026, 11, 2, tzinfo=timezone.utc))
    seen_long_ago = Article("Seen long ago", source="seen")
    never_seen = Article("Never seen", source="never")
    with Store(tmp_path / "s.db") as store:
        store.save_article(seen_long_ago)
        with store._write("age") as conn:
            conn.execute("UPDATE articles SET first_seen = '2026-01-01T00:00:00.000000+00:00'")
        assert first_seen(store, [seen_long_ago.sha256, never_seen.sha256]) == {
            seen_long_ago.sha256: datetime(2026, 1, 1, tzinfo=timezone.utc)
        }
        kept, too_old = filter_since([old, new, seen_long_ago, never_seen], since, store=store)
    assert [a.source for a in kept] == ["new", "never"]
    assert [a.source for a in too_old] == ["old", "seen"]
    assert filter_since([old], None) == ([old], [])


def test_collector_reuses_one_client(web):
    with Collector() as collector:
        a = collector.read_url(f"{web}/a1.html")
        client = collector.client
        b = collector.read_url(f"{web}/a2.html")
        assert collector.client is client
    assert a[0].title == "Council votes" and b[0].title == "Bridge reopens"


def test_a_directory_contributes_txt_and_html_unless_a_glob_says_otherwise(tmp_path):
    (tmp_path / "story.txt").write_text("Story\n\nThe port of Sines expanded on Monday.")
    (tmp_path / "SOURCES.md").write_text("# Sources\n\nWhere these articles came from.")
    c = collect_articles([str(tmp_path)])
    assert [Path(a.source).name for a in c.articles] == ["story.txt"]
    assert [p.name for p in c.skipped] == ["SOURCES.md"]
    c = collect_articles([str(tmp_path)], pattern="*.md")
    assert [Path(a.source).name for a in c.articles] == ["SOURCES.md"]
    assert [p.name for p in c.skipped] == ["story.txt"]
