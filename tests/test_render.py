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
from summariser.schema import (
    BRIEFING_ID,
    Briefing,
    BriefingArticle,
    BriefingChanges,
    BriefingFailure,
    StanceEntry,
    Story,
    output_json_schema,
)

from browser import CHROMIUM, measure

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
    assert "sines-local.txt" in html and "inbox/" not in html and "Failed (1)" in html  # a file by its name


def test_markdown_cites_sources_and_escapes_markup():
    text = render_markdown(make_briefing())
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[a1] [Sines harbour reopens](<https://news.example/sines?x=1&y=2>)" in text
    assert "[a2] sines-local.txt" in text and "inbox/" not in text
    assert "](javascript" not in text and "](<javascript" not in text
    assert "## Failed (1)" in text and "- **Carla Duarte** supports *the works*" in text


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



# -- the page people read: stories with sources, what is new, stance cards, at 1280 and 390 px ------


def _story(sid: str, headline: str, ids: list[str], *, status=None, new=(), change=None, theme=None) -> dict:
    return {"id": sid, "headline": headline, "synthesis": f"What {headline.lower()} means.", "article_ids": ids,
            "evidence": [], "written_by": "model" if len(ids) > 1 else "summary", "written_from": ids,
            "participants": [], "places": [], "theme": theme,
            "signals": {"articles": len(ids), "sites": len(ids), "latest": None, "recency": 0.0, "prominence": 0.0,
                        "model_rank": None, "score": 1.0},
            "status": status, "new_article_ids": list(new), "change": change}


def rich_briefing() -> Briefing:
    """Stories with several dated sources, what is new, many stance cards, a teaser, a failure with a local path."""
    base = make_briefing()
    articles = [a.model_dump() for a in base.articles] + [
        {"id": "a4", "title": "Sines port: the second day", "source": "https://www.port-daily.example/sines/2", "sha256": "4" * 64,
         "published": datetime(2026, 11, 26, 18, 5, tzinfo=timezone.utc), "headline": "Sines, day two", "cached": False,
         "site": "port-daily.example"},
        {"id": "a5", "title": "Teaser only", "source": "https://feeds.example/item/5", "sha256": "5" * 64,
         "published": datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc), "headline": "Teaser", "cached": False,
         "site": "feeds.example", "from_teaser": True, "teaser_reason": "https://feeds.example/item/5: the server answered 404: check the URL"},
    ]
    articles[0] |= {"site": "news.example", "published": datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)}
    words = ["supports", "Positions", "internationalisation", "counterproductive", "Constitutional", "responsibilities"]
    stances = [{"holder": f"Minister {w.title()} Representative", "target": f"the {w} of harbour reconstruction programmes",
                "position": pos, "article_id": "a1", "quote": f"we wholeheartedly {w} the extraordinary arrangements"}
               for w in words for pos in ("supports", "opposes", "neutral", "mixed")]
    return base.model_copy(update={
        "articles": [BriefingArticle.model_validate(a) for a in articles],
        "stories": [Story.model_validate(s) for s in (
            _story("s1", "Harbour of Sines reopens", ["a1", "a2", "a4"], status="developing", new=["a4"],
                   change="1 new article: Sines, day two", theme="Ports"),
            _story("s2", f"Evil <img src=x onerror=alert(2)> story {XSS}", ["a3"], status="unchanged"),
            _story("s3", "A feed item whose page was gone", ["a5"], status="new", new=["a5"]),
        )],
        "changes": BriefingChanges(previous="the last briefing.html", previous_created_at=datetime(2026, 11, 26, 8, tzinfo=timezone.utc),
                                   new=1, developing=1, unchanged=1, dropped=[{"headline": "Old news", "articles": 2}]),
        "stances": [StanceEntry.model_validate(s) for s in stances],
        "failures": base.failures + [BriefingFailure(source="/home/someone/news/inbox/cursed.txt", sha256=None, stage="summarise",
                                                     reason="/home/someone/news/inbox/cursed.txt: still invalid after 2 attempts")],
        "window_start": datetime(2026, 11, 26, 8, tzinfo=timezone.utc),
        "window_end": datetime(2026, 11, 27, 8, tzinfo=timezone.utc),
    })


def test_page_structure_whats_new_first_sources_dates_toc_cards_and_no_local_paths():
    b = rich_briefing()
    html = render_html(b)
    main = html.split("<main>")[1]
    assert main.index('id="whats-new"') < main.index('id="contents"') < main.index('id="theme-1"')
    assert "Friday 27 November 2026" in html.split("</header>")[0] and "Covers 26 Nov 2026, 08:00 UTC to 27 Nov 2026, 08:00 UTC" in html
    assert "No longer in the news: Old news (2)." in html and "1 new article" in html
    for story in b.stories:
        assert f'href="#{story.id}"' in html.split('id="contents"')[1].split("</nav>")[0]  # a jump link per story
    s1 = html.split('<article id="s1"')[1].split("</article>")[0]
    assert s1.count("<li>") == 3 and "port-daily.example" in s1 and '<time datetime="2026-11-26T18:05:00+00:00">26 Nov 2026</time>' in s1
    assert 'href="https://www.port-daily.example/sines/2"' in s1 and "What changed:" in s1
    assert "from the feed's teaser only" in html.split('<article id="s3"')[1].split("</article>")[0]
    assert html.count('class="card ') == len(b.stances) and 'class="card opposes"' in html and "<table" not in html
    assert "<details>" in html and "People (1)" in html
    assert "/home/someone" not in html and "cursed.txt" in html
    assert "@media print" in html and "prefers-color-scheme: dark" in html


def test_markdown_has_the_same_structure():
    text = render_markdown(rich_briefing())
    assert text.index("## What's new") < text.index("## Contents") < text.index("## Ports")
    assert "**Friday 27 November 2026**" in text and "No longer in the news: Old news (2)." in text
    assert "  - [Harbour of Sines reopens](#s1)" in text and '### <a id="s1"></a>Harbour of Sines reopens (Developing)' in text
    assert "- [a4] port-daily.example: [Sines port: the second day](<https://www.port-daily.example/sines/2>) (26 Nov 2026)" in text
    assert "*from the feed's teaser only*" in text and "### People (1)" in text
    assert "/home/someone" not in text and "<img" not in text


MEASURE = """<script>
const words = /[^\\s\\-\\u2010-\\u2014\\/]+/g;
function broken(root) {
  const out = [];
  if (!root) return out;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    let m;
    while ((m = words.exec(node.data))) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1) out.push(m[0]);
    }
  }
  return out;
}
const stories = Array.from(document.querySelectorAll("article.story"));
parent.postMessage(JSON.stringify({
  innerWidth: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  broken: broken(document.getElementById("stances")),
  cards: document.querySelectorAll("#stances .card").length,
  header: document.querySelector("header").innerText,
  sources: stories.map(s => Array.from(s.querySelectorAll("ul.sources li")).map(li => li.innerText)),
}), "*");
</script>"""

def _measure(html: str, width: int, tmp_path: Path) -> dict:
    """Lay the page out in headless Chromium at ``width`` px and measure it (tests/browser.py)."""
    return measure(html, width, tmp_path, MEASURE)


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_headless_browser_layout_at_desktop_and_phone_width(tmp_path, width):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: apt-get install -y chromium")
    b = rich_briefing()
    m = _measure(render_html(b), width, tmp_path)
    assert m["innerWidth"] == width
    assert m["scrollWidth"] <= width, "the page scrolls sideways"
    assert m["cards"] == len(b.stances) and m["broken"] == [], f"words broken mid-word in the stances: {m['broken'][:5]}"
    assert "Friday 27 November 2026" in m["header"]
    assert [len(s) for s in m["sources"]] == [len(s.article_ids) for s in b.stories]
    assert all(text.strip() for s in m["sources"] for text in s)
