"""Rendering briefings: Markdown, one safe self-contained HTML page, schema-checked JSON."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from summariser.errors import ConfigError
from summariser.render import format_for, render_html, render_json, render_markdown, write_atomic, write_briefing
from summariser.schema import BRIEFING_ID, Briefing, output_json_schema

CHROMIUM = Path("/usr/bin/chromium")
XSS = "<script>alert(1)</script>"


def make_briefing(**overrides) -> Briefing:
    data = {
        "overview": f"Ports reopen across the country. {XSS}",
        "top_stories": [
            {"headline": "Harbour of Sines reopens", "synthesis": "Two reports say the harbour reopened.",
             "article_ids": ["a1", "a2"], "evidence": [{"article_id": "a1", "quote": "the harbour reopened"}]},
            {"headline": f"Evil <img src=x onerror=alert(2)> story {XSS}", "synthesis": f"Text {XSS} here.",
             "article_ids": ["a3"], "evidence": []},
        ],
        "themes": [{"name": "Ports", "summary": "Harbours reopen.", "article_ids": ["a1", "a2"]}],
        "key_people": [],
        "title": "Morning briefing",
        "since": datetime(2026, 11, 26, tzinfo=timezone.utc),
        "articles": [
            {"id": "a1", "title": "Sines harbour reopens", "source": "https://news.example/sines?x=1&y=2", "sha256": "1" * 64,
             "published": None, "headline": "Sines reopens", "cached": True},
            {"id": "a2", "title": None, "source": "inbox/sines-local.txt", "sha256": "2" * 64,
             "published": None, "headline": "Sines local", "cached": False},
            {"id": "a3", "title": f"Bad {XSS}", "source": "javascript:alert(3)", "sha256": "3" * 64,
             "published": None, "headline": XSS, "cached": False},
        ],
        "who_is_who": [{"name": "Carla Duarte", "kind": "person", "aliases": ["Mayor Duarte"], "roles": ["mayor"],
                        "article_ids": ["a1", "a2"], "note": None}],
        "stances": [{"holder": "Carla Duarte", "target": "the works", "position": "supports", "article_id": "a1",
                     "quote": f"finished {XSS} ahead of time"}],
        "failures": [{"source": "inbox/broken.txt", "sha256": None, "stage": "collect", "reason": f"is empty {XSS}"}],
        "dropped": [],
        "provenance": {
            "prompt": "briefing", "prompt_version": 1, "prompt_sha256": "p" * 64, "article_prompt": "article@2",
            "schema_version": "1.0", "model": "scripted", "endpoint": "127.0.0.1:1", "input_sha256": ["1" * 64],
            "stages": 1, "briefing_calls": 1, "article_calls": 2, "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "context_budget": 4096, "duration_s": 1.25, "created_at": "2026-11-27T08:00:00Z",
        },
    }
    data.update(overrides)
    return Briefing.model_validate(data)


def test_html_is_self_contained_escaped_and_phone_ready():
    html = render_html(make_briefing())
    body = html.split("<body>")[1]
    assert "<script" not in html.lower() and "<img" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html and "max-width" in html
    assert 'href="javascript' not in html
    assert 'href="https://news.example/sines?x=1&amp;y=2"' in html
    assert "http://" not in html and "<link" not in html and " src=" not in body.replace("&lt;img src=x", "")  # no external assets
    assert "inbox/sines-local.txt" in html and "Failed (1)" in html


def test_markdown_cites_sources_and_escapes_markup():
    text = render_markdown(make_briefing())
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[a1] [Sines harbour reopens](<https://news.example/sines?x=1&y=2>)" in text
    assert "[a2] inbox/sines-local.txt" in text
    assert "](javascript" not in text and "](<javascript" not in text
    assert "## Failed (1)" in text and "| Carla Duarte | supports | the works |" in text


def test_json_matches_the_published_schema():
    data = json.loads(render_json(make_briefing()))
    schema = output_json_schema(Briefing)
    assert schema["$id"] == BRIEFING_ID
    Draft202012Validator(schema).validate(data)
    assert data["articles"][2]["title"] == f"Bad {XSS}"  # JSON keeps the text; escaping is the viewer's job


def test_format_comes_from_the_suffix_and_writes_are_atomic(tmp_path):
    assert [format_for(n) for n in ("b.md", "b.HTML", "b.json")] == ["md", "html", "json"]
    with pytest.raises(ConfigError, match=".md, .html or .json"):
        format_for("b.pdf")
    out = tmp_path / "deep" / "b.html"
    write_briefing(make_briefing(), out)
    write_atomic(out, "second")
    assert out.read_text() == "second" and [p.name for p in out.parent.iterdir()] == ["b.html"]


@pytest.mark.browser
def test_headless_browser_renders_the_page_inert(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: apt-get install -y chromium")
    page = tmp_path / "briefing.html"
    write_briefing(make_briefing(), page)
    png = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([str(CHROMIUM), *flags, f"--screenshot={png}", "--window-size=412,900", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    dom = subprocess.run([str(CHROMIUM), *flags, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    assert png.exists() and png.stat().st_size > 5000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Harbour of Sines reopens" in dom and "Sines harbour reopens" in dom  # headline and a citation
    assert "<script>alert(1)</script>" in dom.replace("&lt;", "<").replace("&gt;", ">")  # shown as text...
    assert "<script>" not in dom  # ...never as an element
    assert "<img" not in dom

