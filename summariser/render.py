"""Briefings as Markdown, one self-contained HTML page, or schema-checked JSON; atomic writes.

Text in a briefing comes from articles and models, so it is never trusted as markup: the HTML
template autoescapes everything, links only ``http(s)`` URLs, and loads no external asset (a
phone can read it offline); Markdown output escapes ``<``, ``>`` and link brackets so a viewer
that renders inline HTML shows the text, not a tag. JSON is validated against the published
``Briefing`` schema before it is written.

Why one module of ~500 lines: the three output formats read one view of the briefing
(stories built once per render) and share the escaping rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import jinja2

from markupsafe import Markup, escape

from .errors import ConfigError, ExportError
from .files import atomic_write_text
from .schema import Briefing, BriefingArticle, BriefingFailure, Story, StorySignals, WhoEntry, output_json_schema
from .stories import source_name

BriefingFormat = Literal["md", "html", "json"]
SUFFIX_FORMATS: dict[str, BriefingFormat] = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def format_for(path: Path | str) -> BriefingFormat:
    """The output format an ``--out`` path asks for, by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise ConfigError(f"--out {path}: cannot tell the format from {suffix or 'no suffix'!r}: end it in .md, .html or .json")
    return SUFFIX_FORMATS[suffix]


def safe_url(source: str | None) -> str | None:
    """The source as a link target only when it is an http(s) URL (never javascript: or data:)."""
    if not source:
        return None
    parts = urlsplit(source.strip())
    return source.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def source_label(article: BriefingArticle) -> str:
    return article.title or source_name(article.source) or f"text {article.sha256[:12]}"


_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])(?:~|[A-Za-z]:)?[/\\](?:[^\s/\\:;,()'\"]+[/\\])+([^\s/\\:;,()'\"]+)")


def shown(text: str | None) -> str:
    """Text for a page: local absolute paths cut to their file name (URLs are left whole)."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1), text or "")


def failure_source(failure: BriefingFailure) -> str:
    """What failed, for a page: an input file by its name, a URL whole, a briefing step as described."""
    return (source_name(failure.source) or failure.source) if failure.stage != "briefing" else shown(failure.source)


KIND_LABELS = {"person": "People", "organisation": "Organisations", "country": "Countries", "place": "Places",
               "group": "Groups", "other": "Others"}
STATUS_LABELS = {"new": "New", "developing": "Developing", "unchanged": "Unchanged"}


def _day(moment: datetime | None) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}" if moment else ""


def _stamp(moment: datetime | None) -> str:
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC" if moment else ""


def _short_date(moment: datetime | None) -> str:
    return f"{moment.day} {moment:%b %Y}" if moment else ""


def window_text(briefing: Briefing) -> str:
    """The time window the briefing covers, in words."""
    start, end = briefing.window_start, briefing.window_end or briefing.provenance.created_at
    if start and end:
        return f"{_stamp(start)} to {_stamp(end)}"
    return f"up to {_stamp(end)}"


@dataclass
class _Group:
    name: str | None
    summary: str | None
    anchor: str
    stories: list[Story]


def _stories(briefing: Briefing) -> list[Story]:
    """The briefing's stories; a 1.0 briefing (no ``stories``) shows its top stories as such."""
    if briefing.stories:
        return list(briefing.stories)
    return [
        Story(id=f"s{n}", headline=t.headline, synthesis=t.synthesis, article_ids=t.article_ids, evidence=t.evidence,
              written_by="model", written_from=t.article_ids, participants=[], places=[], theme=None,
              signals=StorySignals(articles=len(t.article_ids), sites=len(t.article_ids), latest=None, recency=0.0,
                                   prominence=0.0, model_rank=n, score=0.0),
              status=None, new_article_ids=[], change=None)
        for n, t in enumerate(briefing.top_stories, 1)
    ]


def story_groups(briefing: Briefing, stories: list[Story]) -> list[_Group]:
    """``stories`` (the briefing's, from ``_stories``) under their themes (in the themes'
    order), then those no theme covers."""
    themes = {t.name: t for t in briefing.themes}
    groups: dict[str | None, _Group] = {}
    for n, theme in enumerate(briefing.themes, 1):
        groups.setdefault(theme.name, _Group(theme.name, theme.summary, f"theme-{n}", []))
    for story in stories:
        key = story.theme if story.theme in themes else None
        if key is None and None not in groups:
            groups[None] = _Group("Other stories" if briefing.themes else "Stories", None, "theme-other", [])
        groups[key].stories.append(story)
    return [g for g in groups.values() if g.stories]


def who_groups(briefing: Briefing) -> list[tuple[str, list[WhoEntry]]]:
    grouped: dict[str, list[WhoEntry]] = {}
    for entry in briefing.who_is_who:
        grouped.setdefault(entry.kind, []).append(entry)
    return [(KIND_LABELS[k], grouped[k]) for k in KIND_LABELS if k in grouped]


def new_stories(stories: list[Story]) -> list[Story]:
    return [s for s in stories if s.status in ("new", "developing")]


def _source_count(briefing: Briefing) -> int:
    """How many sources (sites, else files or feeds, else distinct texts) the articles come from."""
    return len({a.site or source_name(a.source) or a.sha256 for a in briefing.articles})


# -- Markdown -----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md(text: str | None) -> str:
    """Inline Markdown text: one line, with characters that could start markup escaped."""
    flat = " ".join((text or "").split())
    return _MD_SPECIAL.sub(r"\\\1", flat).replace("\\<", "&lt;").replace("\\>", "&gt;")


def _md_url(url: str) -> str:
    return url.replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")


def _md_cite(article: BriefingArticle) -> str:
    url = safe_url(article.source)
    label = md(source_label(article))
    if url:
        return f"[{label}](<{_md_url(url)}>)"
    name = source_name(article.source)
    return f"{label} ({md(name)})" if name and name != label else label


def _md_source(article: BriefingArticle) -> str:
    bits = [f"[{article.id}]"]
    if article.site:
        bits.append(f"{md(article.site)}:")
    bits.append(_md_cite(article))
    if article.published:
        bits.append(f"({_short_date(article.published)})")
    if article.from_teaser:
        bits.append("· *from the feed's teaser only*")
    return " ".join(bits)


def render_markdown(briefing: Briefing) -> str:
    by_id = {a.id: a for a in briefing.articles}
    p = briefing.provenance
    stories = _stories(briefing)
    lines = [f"# {md(briefing.title)}", ""]
    lines += [f"**{_day(p.created_at)}** · covers {window_text(briefing)}", ""]
    lines += [f"*{len(stories)} stories from {len(briefing.articles)} articles ({_source_count(briefing)} sources) · "
              f"{md(p.model)} · {p.prompt}@{p.prompt_version}*", ""]
    c = briefing.changes
    if c is not None:
        lines += ["## What's new", "",
                  f"Since {md(c.previous)}{' of ' + _stamp(c.previous_created_at) if c.previous_created_at else ''}: "
                  f"{c.new} new, {c.developing} developing, {c.unchanged} unchanged.", ""]
        for story in new_stories(stories):
            k = len(story.new_article_ids)
            what = f" · {k} new article{'s' if k > 1 else ''}" if story.status == "developing" else ""
            lines.append(f"- **{STATUS_LABELS[story.status]}**: [{md(story.headline)}](#{story.id}){what}")
        if c.dropped:
            lines += ["", "No longer in the news: " + "; ".join(f"{md(d.headline)} ({d.articles})" for d in c.dropped) + "."]
        lines.append("")
    lines += [md(briefing.overview), ""]
    groups = story_groups(briefing, stories)
    if groups:
        lines += ["## Contents", ""]
        for group in groups:
            lines.append(f"- {md(group.name)}")
            lines += [f"  - [{md(s.headline)}](#{s.id})" for s in group.stories]
        lines.append("")
    for group in groups:
        lines += [f"## {md(group.name)}", ""]
        if group.summary:
            lines += [f"*{md(group.summary)}*", ""]
        for story in group.stories:
            badge = f" ({STATUS_LABELS[story.status]})" if story.status in ("new", "developing") else ""
            lines += [f'### <a id="{story.id}"></a>{md(story.headline)}{badge}', "", md(story.synthesis), ""]
            if story.change:
                lines += [f"*What changed: {md(story.change)}*", ""]
            for ev in story.evidence:
                lines.append(f"> “{md(ev.quote)}” [{ev.article_id}]")
            if story.evidence:
                lines.append("")
            lines.append(f"Sources ({len(story.article_ids)}):")
            lines += [f"- {_md_source(by_id[aid])}" for aid in story.article_ids if aid in by_id]
            lines.append("")
    if briefing.who_is_who:
        lines += ["## Who's who", ""]
        for label, entries in who_groups(briefing):
            lines += [f"### {label} ({len(entries)})", ""]
            for entry in entries:
                aka = f" (also {', '.join(md(a) for a in entry.aliases)})" if entry.aliases else ""
                what = md(entry.note) if entry.note else md("; ".join(entry.roles))
                lines.append(f"- **{md(entry.name)}**{aka}: {what} [{', '.join(entry.article_ids)}]")
            lines.append("")
    if briefing.stances:
        lines += ["## Stances", ""]
        for s in briefing.stances:
            lines.append(f"- **{md(s.holder)}** {s.position} *{md(s.target)}*: “{md(s.quote)}” [{s.article_id}]")
        lines.append("")
    lines += ["## Sources", ""]
    lines += [f"- {_md_source(a)}" + (" (cached)" if a.cached else "") for a in briefing.articles]
    lines.append("")
    if briefing.failures:
        lines += [f"## Failed ({len(briefing.failures)})", ""]
        lines += [f"- {md(failure_source(f))} ({f.stage}): {md(shown(f.reason))}" for f in briefing.failures]
        lines.append("")
    if briefing.dropped:
        lines += [f"## Kept out ({len(briefing.dropped)})", ""]
        lines += [f"- {md(d.path)}: {md(shown(d.reason))}" for d in briefing.dropped]
        lines.append("")
    lines.append(
        f"*Generated {p.created_at:%Y-%m-%d %H:%M} UTC in {p.duration_s:.1f}s; {p.stages} stage(s); "
        f"{p.article_calls} article and {p.briefing_calls} briefing model calls; {p.usage.total_tokens:,} tokens in all.*"
    )
    return "\n".join(lines) + "\n"


# -- HTML ---------------------------------------------------------------------------------------

_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer">
<title>{{ b.title }} · {{ day(b.provenance.created_at) }}</title>
<style>
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fff; --muted: #5f6368; --line: #dadce0; --card: #f6f7f9; --accent: #0b57d0;
  --new: #0b7a3e; --new-bg: #e6f4ea; --dev: #8a5300; --dev-bg: #fef3e0;
  --supports: #0b7a3e; --supports-bg: #e6f4ea; --opposes: #b3261e; --opposes-bg: #fce8e6;
  --neutral: #5f6368; --neutral-bg: #eef0f2; --mixed: #8a5300; --mixed-bg: #fef3e0; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8eaed; --bg: #17181a; --muted: #a8adb3; --line: #3c4043; --card: #222427; --accent: #8ab4f8;
  --new: #81c995; --new-bg: #1e3a2a; --dev: #fdd663; --dev-bg: #3d3217;
  --supports: #81c995; --supports-bg: #1e3a2a; --opposes: #f28b82; --opposes-bg: #442726;
  --neutral: #bdc1c6; --neutral-bg: #2d2f31; --mixed: #fdd663; --mixed-bg: #3d3217; } }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg);
  margin: 0 auto; max-width: 46rem; padding: 1rem; overflow-wrap: break-word; word-break: normal; hyphens: manual; }
h1 { font-size: 1.7rem; line-height: 1.2; margin: .25rem 0; }
h2 { font-size: 1.25rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; margin-top: 2.25rem; }
h3 { font-size: 1.08rem; line-height: 1.3; margin: 1.5rem 0 .35rem; }
header .date { font-size: 1.05rem; font-weight: 600; margin: 0; }
.meta, .sources, footer, .theme-summary, .window { color: var(--muted); font-size: .88rem; }
.window { margin: .1rem 0; }
blockquote { margin: .5rem 0; padding-left: .75rem; border-left: 3px solid var(--line); font-style: italic; }
a { color: var(--accent); }
ul, ol { padding-left: 1.3rem; }
li { margin: .3rem 0; }
nav ol { padding-left: 1.1rem; }
nav li { margin: .15rem 0; }
nav .theme { margin-top: .5rem; }
nav .theme > a { font-weight: 600; }
nav a { text-decoration: none; }
.story { border-top: 1px solid var(--line); padding-top: .25rem; scroll-margin-top: .5rem; }
.badge { display: inline-block; font-size: .72rem; font-weight: 700; letter-spacing: .03em; text-transform: uppercase;
  border-radius: 999px; padding: .05rem .5rem; vertical-align: .12em; white-space: nowrap; }
.badge.new { color: var(--new); background: var(--new-bg); }
.badge.developing { color: var(--dev); background: var(--dev-bg); }
.change { font-size: .92rem; }
.sources { list-style: none; padding-left: 0; }
.sources-label { color: var(--muted); font-size: .78rem; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; margin: .75rem 0 .1rem; }
ul.sources { margin-top: 0; }
.sources li { margin: .2rem 0; }
.site { font-weight: 600; color: var(--fg); }
.teaser { color: var(--dev); font-style: italic; }
.whatsnew { background: var(--card); border-radius: .6rem; padding: .5rem 1rem; margin: 1rem 0; }
.whatsnew h2 { margin-top: .5rem; border: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: .75rem; padding: 0; list-style: none; }
.card { background: var(--card); border-left: 4px solid var(--neutral); border-radius: .4rem; padding: .6rem .8rem; margin: 0; }
.card.supports { border-left-color: var(--supports); }
.card.opposes { border-left-color: var(--opposes); }
.card.mixed { border-left-color: var(--mixed); }
.card .holder { font-weight: 700; }
.card .position { font-size: .75rem; font-weight: 700; text-transform: uppercase; letter-spacing: .03em; border-radius: 999px;
  padding: .05rem .45rem; white-space: nowrap; }
.position.supports { color: var(--supports); background: var(--supports-bg); }
.position.opposes { color: var(--opposes); background: var(--opposes-bg); }
.position.neutral { color: var(--neutral); background: var(--neutral-bg); }
.position.mixed { color: var(--mixed); background: var(--mixed-bg); }
.card .target { margin: .2rem 0; }
.card .on { color: var(--muted); font-size: .85rem; }
.card .quote { font-style: italic; font-size: .92rem; color: var(--muted); }
details > summary { cursor: pointer; font-weight: 600; }
.failed li { color: var(--opposes); }
.id { font-variant-numeric: tabular-nums; color: var(--muted); text-decoration: none; }
@media print {
  :root { color-scheme: light; --fg: #000; --bg: #fff; --muted: #333; --card: #fff; }
  body { max-width: none; font-size: 11pt; padding: 0; }
  nav#contents, .skip { display: none; }
  a { color: inherit; text-decoration: none; }
  .sources a[href^="http"]::after { content: " <" attr(href) ">"; font-size: .85em; overflow-wrap: anywhere; }
  .story, .card { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .card, .whatsnew { border: 1px solid #999; }
  details::details-content { content-visibility: visible; display: block; }
}
</style>
</head>
<body>
<header>
<h1>{{ b.title }}</h1>
<p class="date"><time datetime="{{ b.provenance.created_at.isoformat() }}">{{ day(b.provenance.created_at) }}</time></p>
<p class="window">Covers {{ window }}</p>
<p class="meta">{{ stories|length }} stories from {{ b.articles|length }} articles ({{ sites }} sources) · {{ b.provenance.model }} · {{ b.provenance.prompt }}@{{ b.provenance.prompt_version }}{% if b.failures %} · <a href="#failures">{{ b.failures|length }} failed</a>{% endif %}</p>
</header>
<main>
{% if b.changes %}{% set c = b.changes %}<section id="whats-new" class="whatsnew">
<h2>What's new</h2>
<p>Since {{ c.previous }}{% if c.previous_created_at %} of {{ stamp(c.previous_created_at) }}{% endif %}: {{ c.new }} new, {{ c.developing }} developing, {{ c.unchanged }} unchanged.</p>
{% if fresh %}<ul>{% for s in fresh %}
<li><span class="badge {{ s.status }}">{{ status[s.status] }}</span> <a href="#{{ s.id }}">{{ s.headline }}</a>{% if s.status == 'developing' %} · {{ s.new_article_ids|length }} new article{{ 's' if s.new_article_ids|length > 1 }}{% endif %}</li>{% endfor %}
</ul>{% endif %}
{% if c.dropped %}<p class="meta">No longer in the news: {% for d in c.dropped %}{% if not loop.first %}; {% endif %}{{ d.headline }} ({{ d.articles }}){% endfor %}.</p>{% endif %}
</section>{% endif %}
<p class="overview">{{ b.overview }}</p>
{% if groups %}<nav id="contents" aria-label="Contents">
<h2>Contents</h2>
<ol>{% for g in groups %}
<li class="theme"><a href="#{{ g.anchor }}">{{ g.name }}</a>
<ol>{% for s in g.stories %}<li><a href="#{{ s.id }}">{{ s.headline }}</a>{% if s.status in ('new', 'developing') %} <span class="badge {{ s.status }}">{{ status[s.status] }}</span>{% endif %}</li>{% endfor %}</ol></li>{% endfor %}
{% if b.who_is_who %}<li class="theme"><a href="#who">Who's who</a></li>{% endif %}
{% if b.stances %}<li class="theme"><a href="#stances">Stances</a></li>{% endif %}
<li class="theme"><a href="#sources">All sources</a></li>
{% if b.failures %}<li class="theme"><a href="#failures">Failed</a></li>{% endif %}
</ol>
</nav>{% endif %}
{% for g in groups %}<section id="{{ g.anchor }}" class="theme-group">
<h2>{{ g.name }}</h2>
{% if g.summary %}<p class="theme-summary">{{ g.summary }}</p>{% endif %}
{% for story in g.stories %}<article id="{{ story.id }}" class="story">
<h3>{{ story.headline }}{% if story.status in ('new', 'developing') %} <span class="badge {{ story.status }}">{{ status[story.status] }}</span>{% endif %}</h3>
<p>{{ story.synthesis }}</p>
{% if story.change %}<p class="change"><strong>What changed:</strong> {{ story.change }}</p>{% endif %}
{% for ev in story.evidence %}<blockquote>“{{ ev.quote }}” <a class="id" href="#{{ ev.article_id }}">[{{ ev.article_id }}]</a></blockquote>
{% endfor %}<p class="sources-label">Sources ({{ story.article_ids|length }})</p>
<ul class="sources" aria-label="Sources">{% for aid in story.article_ids if aid in by_id %}
<li>{{ cite(by_id[aid]) }}</li>{% endfor %}
</ul>
</article>
{% endfor %}</section>
{% endfor %}
{% if b.who_is_who %}<section id="who">
<h2>Who's who</h2>
<details>
<summary>{{ b.who_is_who|length }} participants across the articles</summary>
{% for label, entries in who %}<h3>{{ label }} ({{ entries|length }})</h3>
<ul>{% for e in entries %}
<li><strong>{{ e.name }}</strong>{% if e.aliases %} (also {{ e.aliases|join(', ') }}){% endif %}: {{ e.note if e.note else e.roles|join('; ') }} {% for aid in e.article_ids %}<a class="id" href="#{{ aid }}">[{{ aid }}]</a> {% endfor %}</li>{% endfor %}
</ul>
{% endfor %}</details>
</section>{% endif %}
{% if b.stances %}<section id="stances">
<h2>Stances</h2>
<ul class="cards">{% for s in b.stances %}
<li class="card {{ s.position }}"><span class="holder">{{ s.holder }}</span> <span class="position {{ s.position }}">{{ s.position }}</span>
<div class="target"><span class="on">on</span> {{ s.target }}</div>
<div class="quote"><q>{{ s.quote }}</q> <a class="id" href="#{{ s.article_id }}">[{{ s.article_id }}]</a></div></li>{% endfor %}
</ul>
</section>{% endif %}
<section id="sources">
<h2>All sources</h2>
<ol class="sources">{% for a in b.articles %}
<li id="{{ a.id }}">{{ cite(a) }}{% if a.cached %} · cached{% endif %}</li>{% endfor %}
</ol>
</section>
{% if b.failures %}<section id="failures" class="failed">
<h2>Failed ({{ b.failures|length }})</h2>
<ul>{% for f in b.failures %}
<li><strong>{{ failure_source(f) }}</strong> ({{ f.stage }}): {{ shown(f.reason) }}</li>{% endfor %}
</ul>
</section>{% endif %}
{% if b.dropped %}<section id="dropped">
<h2>Kept out ({{ b.dropped|length }})</h2>
<ul>{% for d in b.dropped %}
<li>{{ d.path }}: {{ shown(d.reason) }}</li>{% endfor %}
</ul>
</section>{% endif %}
</main>
<footer><p>Generated {{ b.provenance.created_at.strftime('%Y-%m-%d %H:%M') }} UTC in {{ '%.1f'|format(b.provenance.duration_s) }}s; {{ b.provenance.stages }} stage(s); {{ b.provenance.article_calls }} article and {{ b.provenance.briefing_calls }} briefing model calls; {{ '{:,}'.format(b.provenance.usage.total_tokens) }} tokens in all.</p></footer>
</body>
</html>
"""


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    return env.from_string(_HTML)


def _html_cite(article: BriefingArticle) -> Markup:
    url = safe_url(article.source)
    label = escape(source_label(article))
    html = Markup('<a class="id" href="#{0}">[{0}]</a> ').format(article.id)
    if article.site:
        html += Markup('<span class="site">{}</span> · ').format(article.site)
    if url:
        html += Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(url, label)
    else:
        html += label
        name = source_name(article.source)
        if name and name != source_label(article):
            html += Markup(' <span class="path">({})</span>').format(name)
    if article.published:
        html += Markup(' · <time datetime="{}">{}</time>').format(article.published.isoformat(), _short_date(article.published))
    if article.from_teaser:
        reason = f": {shown(article.teaser_reason)}" if article.teaser_reason else ""
        html += Markup(' · <span class="teaser" title="{}">from the feed\'s teaser only</span>').format(
            f"The article's page could not be read{reason}")
    return html


def render_html(briefing: Briefing) -> str:
    """One self-contained page: no scripts, no external assets, readable on a phone."""
    stories = _stories(briefing)
    return _template().render(
        b=briefing, by_id={a.id: a for a in briefing.articles}, cite=_html_cite, stories=stories, sites=_source_count(briefing),
        groups=story_groups(briefing, stories), who=who_groups(briefing), fresh=new_stories(stories), status=STATUS_LABELS,
        day=_day, stamp=_stamp, window=window_text(briefing), shown=shown, failure_source=failure_source,
    )


# -- JSON ---------------------------------------------------------------------------------------


@cache
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(output_json_schema(Briefing))


def render_json(briefing: Briefing) -> str:
    """The briefing as JSON, checked against the published Briefing schema."""
    data = briefing.model_dump(mode="json")
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise ExportError(f"the briefing does not match its schema at {where}: {first.message}")
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


RENDERERS = {"md": render_markdown, "html": render_html, "json": render_json}


def render_briefing(briefing: Briefing, fmt: BriefingFormat) -> str:
    """The briefing as Markdown, one self-contained HTML page or schema-checked JSON text."""
    return RENDERERS[fmt](briefing)


def write_atomic(path: Path | str, text: str) -> None:
    """Write ``text`` beside ``path`` then rename over it: readers see the old file or the new one."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text, newline="\n")


def write_briefing(briefing: Briefing, out: Path | str) -> BriefingFormat:
    """Render in the format ``out``'s suffix names and write it atomically; return the format."""
    fmt = format_for(out)
    write_atomic(out, render_briefing(briefing, fmt))
    return fmt
