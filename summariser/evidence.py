"""One self-contained page to check a summary against its article.

The article text is shown whole, with every quote highlighted at its character offsets
(``quote_start``/``quote_end``) and linked both ways to the key fact or stance it supports;
each participant's mentions are underlined and its first mention is a link target. Beside it:
the summary, the items kept out of it and why, and the provenance.

Everything on the page comes from an article or a model, so nothing is trusted as markup: the
template autoescapes, only http(s) URLs become links, no script runs (the CSP forbids it) and no
asset is loaded. Quotes may overlap (a fact and a stance on one sentence): the text is cut at
every span boundary and each piece carries every item that covers it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .files import atomic_write_text
from .redaction import redact
from .render import safe_url, shown
from .schema import ArticleSummary


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    ref: str  # the item's id on the page: fact-1, stance-2, participant-3
    kind: str  # "quote" or "name"
    first: bool = True  # the span that carries the item's anchor in the text


@dataclass
class Piece:
    """A run of article text and the items that cover it."""

    text: str
    refs: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    anchors: list[str] = field(default_factory=list)  # items whose (first) span starts here


@dataclass
class Item:
    ref: str
    label: str  # F1, S2, P3
    located: bool


def quote_spans(summary: ArticleSummary, length: int) -> list[Span]:
    """Spans of the located quotes of key facts and stances (``fact-N``, ``stance-N``, 1-based)."""
    spans = []
    for kind, items in (("fact", summary.key_facts), ("stance", summary.stances)):
        for n, item in enumerate(items, 1):
            start, end = item.quote_start, item.quote_end
            if start is not None and end is not None and 0 <= start < end <= length:
                spans.append(Span(start, end, f"{kind}-{n}", "quote"))
    return spans


def name_spans(summary: ArticleSummary, text: str) -> list[Span]:
    """Every whole-word mention of each participant's name or aliases (``participant-N``)."""
    spans = []
    for n, person in enumerate(summary.participants, 1):
        names = sorted({name.strip() for name in [person.name, *person.aliases] if name.strip()}, key=len, reverse=True)
        if not names:
            continue
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(name) for name in names) + r")(?!\w)")
        for i, match in enumerate(pattern.finditer(text)):
            spans.append(Span(match.start(), match.end(), f"participant-{n}", "name", first=i == 0))
    return spans


def pieces_of(text: str, spans: list[Span]) -> list[Piece]:
    """The text cut at every span boundary; each piece lists the spans covering it."""
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        covering = [s for s in spans if s.start <= a and b <= s.end]
        piece = Piece(text[a:b])
        for span in sorted(covering, key=lambda s: (s.kind != "quote", s.ref)):
            if span.ref not in piece.refs:
                piece.refs.append(span.ref)
            piece.kinds.add(span.kind)
            if span.start == a and span.first and span.ref not in piece.anchors:
                piece.anchors.append(span.ref)
        pieces.append(piece)
    return pieces


def _label(ref: str) -> str:
    kind, n = ref.split("-")
    return {"fact": "F", "stance": "S", "participant": "P"}[kind] + n


def _kept_out(summary: ArticleSummary) -> list[dict[str, str]]:
    rows = []
    for dropped in summary.grounding.unverified:
        try:
            item = json.dumps(json.loads(dropped.item), ensure_ascii=False, indent=1)
        except (TypeError, ValueError):
            item = dropped.item
        rows.append({"path": dropped.path, "reason": dropped.reason, "item": item})
    return rows


def _provenance(summary: ArticleSummary) -> list[tuple[str, str]]:
    p = summary.provenance
    s = p.source
    rows = [
        ("source", shown(s.path) if s.path else "(stdin or text)"),
        ("title", s.title), ("site", s.site_name), ("author", s.author),
        ("published", s.published.isoformat() if s.published else None), ("language", s.language),
        ("feed", shown(s.feed) if s.feed else None), ("text sha256", s.sha256), ("length", f"{s.length:,} characters"),
        ("prompt", f"{p.prompt}@{p.prompt_version} (sha256 {p.prompt_sha256[:12]})"),
        ("model", f"{p.model} @ {p.endpoint}"),
        ("attempts", f"{p.attempts}" + (f", {p.transport_retries} transport retries" if p.transport_retries else "")),
        ("tokens", f"{p.usage.total_tokens:,} ({p.usage.prompt_tokens:,} prompt + {p.usage.completion_tokens:,} completion)"),
        ("time", f"{p.duration_s:.1f} s"), ("grounding", f"{summary.grounding.grounding_rate:.0%} of quotes found, "
                                                      f"{summary.grounding.fuzzy_matches} fuzzy"),
        ("schema", p.schema_version), ("created", p.created_at.isoformat()),
    ]
    return [(k, v) for k, v in rows if v]


def render_evidence_html(summary: ArticleSummary, text: str) -> str:
    """The page for ``summary`` of ``text`` (the article text as summarised), with key-shaped
    text redacted like every other export (the page shows model replies and the article)."""
    spans = quote_spans(summary, len(text)) + name_spans(summary, text)
    located = {s.ref for s in spans if s.first}
    pieces = pieces_of(text, spans)
    source = summary.provenance.source
    facts = [(Item(f"fact-{n}", f"F{n}", f"fact-{n}" in located), fact) for n, fact in enumerate(summary.key_facts, 1)]
    stances = [(Item(f"stance-{n}", f"S{n}", f"stance-{n}" in located), st) for n, st in enumerate(summary.stances, 1)]
    people = [(Item(f"participant-{n}", f"P{n}", f"participant-{n}" in located), p) for n, p in enumerate(summary.participants, 1)]
    holders = {p.name: item.ref for item, p in people}
    return redact(_template().render(
        s=summary,
        pieces=pieces,
        label=_label,
        facts=facts,
        stances=stances,
        people=people,
        holders=holders,
        kept_out=_kept_out(summary),
        provenance=_provenance(summary),
        link=safe_url(source.url) or safe_url(source.path),
        source_name=source.site_name or (shown(source.path) if source.path else None),
        text_matches=source.length == len(text),
    ))


def write_evidence_html(summary: ArticleSummary, text: str, out: Path | str) -> Path:
    """Write the page atomically; returns its path."""
    out = Path(out)
    atomic_write_text(out, render_evidence_html(summary, text))
    return out


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_PAGE)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer">
<title>{{ s.headline }} · evidence</title>
<style>
:root { --bg: #fff; --fg: #1d1d1f; --muted: #5f6368; --line: #e3e3e3; --quote: #fff1a8; --quote-on: #ffd43b;
        --name: #1a73e8; --card: #f7f7f8; --bad: #b3261e; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #141416; --fg: #ececec; --muted: #a0a0a8; --line: #2e2e33; --quote: #5c4d00; --quote-on: #8a7300;
          --name: #8ab4f8; --card: #1e1e22; --bad: #f2b8b5; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif;
       overflow-wrap: break-word; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 20px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 6px; }
h2 { font-size: 1.1rem; margin: 22px 0 8px; }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 14px; }
a { color: var(--name); }
main { display: grid; grid-template-columns: minmax(0, 1.2fr) minmax(0, 1fr); gap: 28px; }
@media (max-width: 820px) { main { grid-template-columns: minmax(0, 1fr); gap: 0; } #summary { order: -1; } }
#article .text { white-space: pre-wrap; font-family: Georgia, "Times New Roman", serif; font-size: 1.02rem; }
mark { background: var(--quote); color: inherit; }
mark:target, .text a.ref:target + mark { background: var(--quote-on); }
.nm { text-decoration: underline dotted var(--name); text-underline-offset: 3px; }
a.ref { font: 700 .68rem/1 system-ui, sans-serif; vertical-align: super; text-decoration: none; margin: 0 1px;
        padding: 1px 3px; border-radius: 3px; background: var(--card); border: 1px solid var(--line); }
a.ref:target { outline: 2px solid var(--quote-on); }
ol, ul { padding-left: 1.3em; }
li { margin: 0 0 10px; }
li:target { background: var(--card); outline: 2px solid var(--quote-on); border-radius: 4px; }
.tag { font: 700 .72rem/1 system-ui, sans-serif; color: var(--muted); margin-right: 4px; }
.quote { color: var(--muted); font-style: italic; display: block; }
.missing { color: var(--bad); font-size: .85rem; }
.pos { font-weight: 600; }
.supports { color: #1e8e3e; } .opposes { color: var(--bad); } .mixed { color: #a142f4; } .neutral { color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 0 0 8px; }
.card pre { white-space: pre-wrap; margin: 6px 0 0; font-size: .82rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px 4px 0; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; white-space: nowrap; width: 1%; }
td { word-break: break-word; }
footer { color: var(--muted); font-size: .8rem; padding-top: 10px; padding-bottom: 30px; }
@media print { a.ref { display: none; } main { display: block; } mark { background: none; text-decoration: underline; } }
</style>
</head>
<body>
<header>
<h1>{{ s.headline }}</h1>
<p class="meta">
{%- if source_name %}{{ source_name }}{% endif %}
{%- if s.provenance.source.author %} · by {{ s.provenance.source.author }}{% endif %}
{%- if s.provenance.source.published %} · {{ s.provenance.source.published.strftime("%Y-%m-%d %H:%M") }}{% endif %}
{%- if link %} · <a href="{{ link }}" rel="noopener noreferrer">original</a>{% endif %}
 · {{ s.provenance.prompt }}@{{ s.provenance.prompt_version }} · {{ s.provenance.model }}
 · grounding {{ "%.0f"|format(s.grounding.grounding_rate * 100) }}%
{%- if kept_out %} · {{ kept_out|length }} item{{ "" if kept_out|length == 1 else "s" }} kept out{% endif %}
</p>
</header>
<main>
<section id="article">
<h2>The article</h2>
{%- if not text_matches %}<p class="missing">This text is not the one summarised (its length differs): offsets may be off.</p>{% endif %}
<div class="text">
{%- for p in pieces -%}
{%- for ref in p.anchors %}<a class="ref" id="q-{{ ref }}" href="#{{ ref }}" title="{{ ref }}">{{ label(ref) }}</a>{% endfor -%}
{%- if "quote" in p.kinds -%}<mark class="{{ p.refs|join(' ') }}{{ ' nm' if 'name' in p.kinds else '' }}">{{ p.text }}</mark>
{%- elif "name" in p.kinds -%}<span class="nm {{ p.refs|join(' ') }}">{{ p.text }}</span>
{%- else -%}{{ p.text }}{%- endif -%}
{%- endfor -%}
</div>
</section>
<section id="summary">
<h2>Summary</h2>
<p>{{ s.summary }}</p>
<h2>Key facts</h2>
<ol>
{%- for item, fact in facts %}
<li id="{{ item.ref }}"><span class="tag">{{ item.label }}</span>{{ fact.statement }}
{%- if item.located %} <a href="#q-{{ item.ref }}">in the text</a>{% else %} <span class="missing">(quote not located in the text)</span>{% endif %}
<span class="quote">“{{ fact.quote }}”</span></li>
{%- endfor %}
</ol>
{%- if stances %}
<h2>Stances</h2>
<ol>
{%- for item, st in stances %}
<li id="{{ item.ref }}"><span class="tag">{{ item.label }}</span>
{%- if st.holder in holders %}<a href="#{{ holders[st.holder] }}">{{ st.holder }}</a>{% else %}{{ st.holder }}{% endif %}
 <span class="pos {{ st.position }}">{{ st.position }}</span> {{ st.target }}
{%- if item.located %} <a href="#q-{{ item.ref }}">in the text</a>{% else %} <span class="missing">(quote not located in the text)</span>{% endif %}
<span class="quote">“{{ st.quote }}”</span></li>
{%- endfor %}
</ol>
{%- endif %}
{%- if people %}
<h2>Participants</h2>
<ul>
{%- for item, person in people %}
<li id="{{ item.ref }}"><span class="tag">{{ item.label }}</span><strong>{{ person.name }}</strong> <span class="tag">{{ person.kind }}</span> {{ person.role }}
{%- if person.aliases %} (also {{ person.aliases|join(", ") }}){% endif %}
{%- if item.located %} <a href="#q-{{ item.ref }}">first mention</a>{% else %} <span class="missing">(not found in the text)</span>{% endif %}</li>
{%- endfor %}
</ul>
{%- endif %}
{%- if s.grounding.warnings %}
<h2 id="warnings">Warnings ({{ s.grounding.warnings|length }})</h2>
{%- for warning in s.grounding.warnings %}
<div class="card">{{ warning }}</div>
{%- endfor %}
{%- endif %}
<h2 id="kept-out">Kept out ({{ kept_out|length }})</h2>
{%- if kept_out %}
{%- for row in kept_out %}
<div class="card"><strong>{{ row.path }}</strong>: {{ row.reason }}<pre>{{ row.item }}</pre></div>
{%- endfor %}
{%- else %}
<p class="meta">Nothing: every item the model gave was grounded in the article.</p>
{%- endif %}
<h2 id="provenance">Provenance</h2>
<table>
{%- for key, value in provenance %}
<tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{%- endfor %}
</table>
</section>
</main>
<footer>Made by summariser. Highlighted: the quotes behind the key facts (F) and stances (S); dotted: mentions of participants (P).</footer>
</body>
</html>
"""


__all__ = ["name_spans", "pieces_of", "quote_spans", "render_evidence_html", "write_evidence_html"]
