"""Every command that reads articles reads URLs, feeds and files alike: `summarise URL`,
`batch prepare URL`, `--fetch-timeout`. A local HTTP server serves the pages."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from summariser.schema import ArticleSummary

from cliutil import run_cli
from conftest import SEED_ARTICLE

SEED = SEED_ARTICLE.read_text(encoding="utf-8")


def story_page() -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in SEED.splitlines() if line.strip())
    return (
        '<!doctype html><html lang="en"><head><title>Wang Yi meets Lavrov | Example News</title>'
        '<meta property="og:title" content="Wang Yi meets Lavrov in Moscow">'
        '<meta property="og:site_name" content="Example News">'
        '<meta name="author" content="Jane Reporter">'
        '<meta property="article:published_time" content="2026-11-20T08:30:00Z">'
        f"</head><body><nav>Home | World | Sport</nav><article>{paragraphs}</article>"
        "<footer>Copyright Example News</footer></body></html>"
    )


def feed(base: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Example World</title><language>en-gb</language>'
        f"<item><title>Wang Yi in Moscow</title><link>{base}/story.html</link><author>desk@example.com (Desk)</author>"
        "<pubDate>Fri, 20 Nov 2026 08:30:00 GMT</pubDate></item></channel></rss>"
    )


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/slow.html":
            time.sleep(3)
        routes = {"/story.html": ("text/html; charset=utf-8", story_page()), "/slow.html": ("text/html", story_page()),
                  "/world.rss": ("application/rss+xml", feed(base))}
        if self.path not in routes:
            self.send_error(404)
            return
        kind, text = routes[self.path]
        data = text.encode("utf-8")
        try:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(llm) -> dict:
    return {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}


def test_summarise_reads_a_url_like_briefing_does(web, endpoint, llm):
    url = f"{web}/story.html"
    result = run_cli("summarise", url, "--format", "json", env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    summary = ArticleSummary.model_validate_json(result.stdout)
    assert summary.provenance.source.path == url
    sent = llm.requests[0]["messages"][1]["content"]
    assert "Wang Yi" in sent and "Home | World" not in sent and "<p>" not in sent  # main text, extracted


def test_summarise_reads_a_feed_and_mixes_urls_with_files(web, endpoint, tmp_path):
    out = tmp_path / "out"
    result = run_cli("summarise", f"{web}/world.rss", str(SEED_ARTICLE.parent / "wikinews-expo.txt"), "--out", str(out), env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    sources = [json.loads(line)["provenance"]["source"]["path"] for line in result.stdout.decode().splitlines()]
    assert sources == [f"{web}/story.html", str(SEED_ARTICLE.parent / "wikinews-expo.txt")]
    assert sorted(p.name for p in out.iterdir()) == ["story.json", "wikinews-expo.json"]


def test_fetch_timeout_gives_one_line_and_the_rest_go_on(web, endpoint):
    started = time.monotonic()
    result = run_cli("summarise", f"{web}/slow.html", str(SEED_ARTICLE), "--fetch-timeout", "1", "--format", "json", env=endpoint)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert f"Error: {web}/slow.html: timed out after 1s" in err and "--fetch-timeout" in err and "Traceback" not in err
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len([r for r in lines if "error" not in r]) == 1  # the file was still summarised
    assert [r["error"]["path"] for r in lines if "error" in r] == [f"{web}/slow.html"]  # the URL failed
    assert time.monotonic() - started < 15


def test_a_missing_page_is_a_one_line_error(web, endpoint):
    result = run_cli("summarise", f"{web}/gone.html", env=endpoint)
    err = result.stderr.decode()
    assert result.returncode == 1 and f"Error: {web}/gone.html: the server answered 404" in err
    assert [line for line in err.splitlines() if line.startswith("Error:")] == [line for line in err.splitlines() if "404" in line]


def test_batch_prepare_reads_urls_too(web, endpoint, tmp_path):
    out = tmp_path / "requests.jsonl"
    result = run_cli("batch", "prepare", f"{web}/story.html", "--out", str(out), "--json", env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and "Wang Yi" in json.loads(lines[0])["body"]["messages"][1]["content"]


def test_stdin_still_reads_as_one_article(endpoint):
    result = run_cli("summarise", "-", "--format", "json", env=endpoint, stdin=SEED_ARTICLE.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    assert ArticleSummary.model_validate_json(result.stdout).provenance.source.path is None


def test_provenance_source_keeps_what_the_page_and_feed_say(web, endpoint):
    result = run_cli("summarise", f"{web}/world.rss", "--format", "json", env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    source = json.loads(result.stdout)["provenance"]["source"]
    assert source["url"] == source["path"] == f"{web}/story.html"
    assert source["title"] == "Wang Yi meets Lavrov in Moscow"
    assert source["site_name"] == "Example News" and source["author"] == "Jane Reporter"
    assert source["published"] == "2026-11-20T08:30:00Z" and source["language"] == "en"
    assert source["feed"] == f"{web}/world.rss"


def test_a_file_says_only_what_it_knows(endpoint, tmp_path):
    result = run_cli("summarise", str(SEED_ARTICLE), "--format", "json", env=endpoint)
    source = json.loads(result.stdout)["provenance"]["source"]
    assert source["path"] == str(SEED_ARTICLE)
    assert source["url"] is source["site_name"] is source["author"] is source["published"] is source["language"] is None


def test_a_cached_result_describes_the_source_read_now(web, endpoint, tmp_path):
    copy = tmp_path / "story.html"
    copy.write_text(story_page(), encoding="utf-8")
    assert run_cli("summarise", str(copy), env=endpoint).returncode == 0
    result = run_cli("summarise", f"{web}/story.html", "--format", "json", env=endpoint)
    source = json.loads(result.stdout)["provenance"]["source"]
    assert "cached" in result.stderr.decode() and source["path"] == source["url"] == f"{web}/story.html"


def test_the_terminal_panel_shows_the_source(web, endpoint):
    result = run_cli("summarise", f"{web}/story.html", "--format", "text", env={**endpoint, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr.decode()
    assert "Example News · by Jane Reporter · 2026-11-20 08:30 · en" in result.stdout.decode()


def test_a_year_in_the_text_is_not_taken_for_the_publish_date():
    from summariser.sources import html_to_article

    undated = story_page().replace('<meta property="article:published_time" content="2026-11-20T08:30:00Z">', "")
    assert "2022" in undated  # the article text names a year
    article = html_to_article(undated, "story.html")
    assert article.published is None and article.language == "en" and article.site_name == "Example News"
