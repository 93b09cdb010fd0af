"""The evidence page: the article with every quote highlighted at its offsets and linked both
ways to its fact or stance, kept-out items, provenance; escaped, scriptless, phone-ready."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from summariser.evidence import pieces_of, quote_spans, render_evidence_html
from summariser.schema import ArticleSummary

from cliutil import run_cli
from browser import CHROMIUM, FLAGS, measure
from conftest import SEED_ARTICLE

XSS = "<script>alert(1)</script>"
TEXT = (
    "Mayor Carla Duarte said on Friday the harbour of Sines would reopen. "
    f"“We will not give up on the port,” Duarte said. Critics {XSS} called it rushed. "
    "The works cost 12 million euros."
)


def _span(quote: str) -> tuple[int, int]:
    start = TEXT.index(quote)
    return start, start + len(quote)


def make_summary(**overrides) -> ArticleSummary:
    fact1, fact2, stance = "the harbour of Sines would reopen", "The works cost 12 million euros.", "harbour of Sines would reopen. “We will not give up"
    data = {
        "headline": f"Sines reopens {XSS}",
        "summary": f"The mayor says the port reopens. <img src=x onerror=alert(2)>",
        "key_facts": [
            {"statement": f"The harbour reopens {XSS}", "quote": fact1, "quote_start": _span(fact1)[0], "quote_end": _span(fact1)[1]},
            {"statement": "It cost 12 million euros.", "quote": fact2, "quote_start": _span(fact2)[0], "quote_end": _span(fact2)[1]},
            {"statement": "Not located.", "quote": "nowhere", "quote_start": None, "quote_end": None},
        ],
        "participants": [{"name": "Carla Duarte", "kind": "person", "role": f"mayor {XSS}", "aliases": ["Duarte"]}],
        "stances": [{"holder": "Carla Duarte", "target": "the port", "position": "supports", "quote": stance,
                     "quote_start": _span(stance)[0], "quote_end": _span(stance)[1]}],
        "provenance": {
            "prompt": "article", "prompt_version": 2, "prompt_sha256": "p" * 64, "schema_version": "1.3", "model": f"m{XSS}",
            "endpoint": "127.0.0.1:1", "attempts": 2, "transport_retries": 0, "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "duration_s": 1.5, "created_at": "2026-11-27T08:00:00Z",
            "source": {"path": "/home/someone/news/sines.html", "sha256": "0" * 64, "length": len(TEXT), "url": "javascript:alert(3)",
                       "site_name": f"Port Daily {XSS}", "author": "A. Writer", "published": "2026-11-27T07:00:00Z", "language": "en"},
        },
        "grounding": {"verified": [], "grounding_rate": 0.75, "fuzzy_matches": 0, "warnings": [f"the article talks to the model {XSS}"],
                      "unverified": [{"path": "stances[1]", "reason": f"quote not in the article {XSS}",
                                      "item": json.dumps({"holder": XSS, "quote": "<b>made up</b>"})}]},
    }
    data.update(overrides)
    return ArticleSummary.model_validate(data)


class _Marks(HTMLParser):
    """Text inside each <mark>, by class; ids of anchors; hrefs."""

    def __init__(self) -> None:
        super().__init__()
        self.by_ref: dict[str, str] = {}
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.tags: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "mark":
            self._open = [c for c in attrs.get("class", "").split() if c != "nm"]

    def handle_endtag(self, tag):
        if tag == "mark":
            self._open = None

    def handle_data(self, data):
        for ref in self._open or []:
            self.by_ref[ref] = self.by_ref.get(ref, "") + data


def test_every_quote_is_highlighted_at_its_offsets_even_where_they_overlap():
    summary = make_summary()
    parsed = _Marks()
    parsed.feed(render_evidence_html(summary, TEXT))
    for ref, item in [("fact-1", summary.key_facts[0]), ("fact-2", summary.key_facts[1]), ("stance-1", summary.stances[0])]:
        assert parsed.by_ref[ref] == TEXT[item.quote_start:item.quote_end], ref
    overlap = [p for p in pieces_of(TEXT, quote_spans(summary, len(TEXT))) if len(p.refs) > 1]
    assert overlap and overlap[0].refs == ["fact-1", "stance-1"] and overlap[0].text == "harbour of Sines would reopen"
    # linked both ways: text -> item and item -> text, and the holder to the participant
    for ref in ("fact-1", "fact-2", "stance-1", "participant-1"):
        assert ref in parsed.ids and f"q-{ref}" in parsed.ids and f"#{ref}" in parsed.hrefs and f"#q-{ref}" in parsed.hrefs
    assert "fact-3" in parsed.ids and "#q-fact-3" not in parsed.hrefs  # not located: said so, no dead link


def test_hostile_text_stays_text_and_the_page_loads_nothing():
    html = render_evidence_html(make_summary(), TEXT)
    parsed = _Marks()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6  # headline, fact, role, site, reason, model, article
    assert "javascript:" not in "".join(parsed.hrefs) and all(h.startswith("#") for h in parsed.hrefs)
    assert "Content-Security-Policy" in html and "<link" not in html and " src=" not in html.replace("&lt;img src=x", "")
    assert "/home/someone" not in html and "sines.html" in html  # a local path is named by its file name
    assert "quote not in the article" in html and "Kept out (1)" in html and "made up" in html
    assert "Warnings (1)" in html and "the article talks to the model" in html


def test_summarise_format_html_writes_the_page(llm, tmp_path):
    env = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}
    one = run_cli("summarise", str(SEED_ARTICLE), "--format", "html", env=env)
    assert one.returncode == 0, one.stderr.decode()
    page = one.stdout.decode()
    assert page.startswith("<!doctype html>") and page.count("<mark") >= 3 and "Wang Yi" in page
    two = [str(SEED_ARTICLE), str(SEED_ARTICLE.parent / "wikinews-expo.txt")]
    refused = run_cli("summarise", *two, "--format", "html", env=env)
    assert refused.returncode == 2 and "pass --out DIR" in refused.stderr.decode()
    out = tmp_path / "pages"
    both = run_cli("summarise", *two, "--format", "html", "--out", str(out), env=env)
    assert both.returncode == 0, both.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{Path(p).stem}{s}" for p in two for s in (".html", ".json"))


def test_runs_show_html_writes_the_page_of_a_stored_run(llm, tmp_path):
    env = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}
    assert run_cli("summarise", str(SEED_ARTICLE), env=env).returncode == 0
    listed = json.loads(run_cli("runs", "list", "--json").stdout)
    page = tmp_path / "run.html"
    result = run_cli("runs", "show", str(listed[0]["id"]), "--html", str(page))
    assert result.returncode == 0, result.stderr.decode()
    assert page.read_text().count("<mark") >= 3 and "Wang Yi" in page.read_text()
    assert run_cli("runs", "show", "999", "--html", str(page)).returncode != 0


MEASURE = """<script>
parent.postMessage(JSON.stringify({
  innerWidth: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  marks: document.querySelectorAll("#article mark").length,
  refs: document.querySelectorAll("#article a.ref").length,
  scripts: document.querySelectorAll("script").length,
  summaryFirst: document.getElementById("summary").getBoundingClientRect().top < document.getElementById("article").getBoundingClientRect().top,
}), "*");
</script>"""

@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_headless_browser_at_desktop_and_phone_width(tmp_path, width):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: apt-get install -y chromium")
    html = render_evidence_html(make_summary(), TEXT)
    page = tmp_path / "evidence.html"
    page.write_text(html, encoding="utf-8")
    profile = f"--user-data-dir={tmp_path / 'profile'}"
    png = tmp_path / f"evidence-{width}.png"
    subprocess.run([str(CHROMIUM), *FLAGS, profile, f"--screenshot={png}", f"--window-size={width},1200", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    dom = subprocess.run([str(CHROMIUM), *FLAGS, profile, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=False).stdout
    assert "<script>" not in dom and "<img" not in dom and "Sines reopens" in dom
    m = measure(html, width, tmp_path, MEASURE)  # at the exact width (tests/browser.py)
    assert m["innerWidth"] == width and m["scrollWidth"] <= width, f"the page scrolls sideways at {width} px: {m}"
    assert m["marks"] >= 4 and m["refs"] >= 4 and m["scripts"] == 1  # only the probe's own script
    assert m["summaryFirst"] == (width < 820)  # on a phone the summary comes first, the article below


def test_the_page_redacts_key_shaped_text_like_every_other_export():
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    page = render_evidence_html(make_summary(summary=f"The port reopens; the key {key} leaked."), TEXT)
    assert key not in page and "[REDACTED]" in page
