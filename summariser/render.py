"""Briefings as Markdown, one self-contained HTML page, or schema-checked JSON; atomic writes.

Text in a briefing comes from articles and models, so it is never trusted as markup: the HTML
template autoescapes everything, links only ``http(s)`` URLs, and loads no external asset (a
phone can read it offline); Markdown output escapes ``<``, ``>`` and link brackets so a viewer
that renders inline HTML shows the text, not a tag. JSON is validated against the published
``Briefing`` schema before it is written.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import jinja2

from .errors import ConfigError, ExportError
from .files import atomic_write_text
from markupsafe import Markup

from .schema import Briefing, BriefingArticle, output_json_schema

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
    return article.title or article.source or f"text {article.sha256[:12]}"


# -- Markdown -----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md(text: str | None) -> str:
    """Inline Markdown text: one line, with characters that could start markup escaped."""
    flat = " ".join((text or "").split())
    return _MD_SPECIAL.sub(r"\\\1", flat).replace("\\<", "&lt;").replace("\\>", "&gt;")


def _md_cite(article: BriefingArticle) -> str:
    url = safe_url(article.source)
    label = md(source_label(article))
    if url:
        return f"[{label}](<{url.replace('>', '%3E').replace('<', '%3C').replace(' ', '%20')}>)"
    return f"{label} ({md(article.source)})" if article.source and article.source != article.title else label


def render_markdown(briefing: Briefing) -> str:
    by_id = {a.id: a for a in briefing.articles}
    lines = [f"# {md(briefing.title)}", ""]
    meta = f"{len(briefing.articles)} articles"
    if briefing.since:
        meta += f" since {briefing.since:%Y-%m-%d %H:%M} UTC"
    meta += f" · {md(briefing.provenance.model)} · {briefing.provenance.prompt}@{briefing.provenance.prompt_version}"
    lines += [f"*{meta}*", "", md(briefing.overview), ""]
    if briefing.top_stories:
        lines += ["## Top stories", ""]
        for rank, story in enumerate(briefing.top_stories, 1):
            lines += [f"### {rank}. {md(story.headline)}", "", md(story.synthesis), ""]
            for ev in story.evidence:
                lines.append(f"> “{md(ev.quote)}” [{ev.article_id}]")
            if story.evidence:
                lines.append("")
            lines.append("Sources: " + "; ".join(f"[{aid}] {_md_cite(by_id[aid])}" for aid in story.article_ids if aid in by_id))
            lines.append("")
    if briefing.themes:
        lines += ["## Themes", ""]
        for theme in briefing.themes:
            ids = ", ".join(theme.article_ids)
            lines.append(f"- **{md(theme.name)}**: {md(theme.summary)} [{ids}]")
        lines.append("")
    if briefing.who_is_who:
        lines += ["## Who's who", ""]
        for entry in briefing.who_is_who:
            aka = f" (also {', '.join(md(a) for a in entry.aliases)})" if entry.aliases else ""
            what = md(entry.note) if entry.note else md("; ".join(entry.roles))
            lines.append(f"- **{md(entry.name)}**{aka}, {entry.kind}: {what} [{', '.join(entry.article_ids)}]")
        lines.append("")
    if briefing.stances:
        lines += ["## Stances", "", "| Who | Position | On | Evidence |", "|---|---|---|---|"]
        for s in briefing.stances:
            lines.append(f"| {md(s.holder)} | {s.position} | {md(s.target)} | “{md(s.quote)}” [{s.article_id}] |")
        lines.append("")
    lines += ["## Sources", ""]
    lines += [f"- [{a.id}] {_md_cite(a)}" + (" (cached)" if a.cached else "") for a in briefing.articles]
    lines.append("")
    if briefing.failures:
        lines += [f"## Failed ({len(briefing.failures)})", ""]
        lines += [f"- {md(f.source)} ({f.stage}): {md(f.reason)}" for f in briefing.failures]
        lines.append("")
    if briefing.dropped:
        lines += [f"## Kept out ({len(briefing.dropped)})", ""]
        lines += [f"- {md(d.path)}: {md(d.reason)}" for d in briefing.dropped]
        lines.append("")
    p = briefing.provenance
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
<title>{{ b.title }}</title>
<style>
:root { color-scheme: light dark; --muted: #666; --line: #ddd; --accent: #0a58ca; }
@media (prefers-color-scheme: dark) { :root { --muted: #aaa; --line: #444; --accent: #6ea8fe; } }
* { box-sizing: border-box; }
body { font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 42rem; padding: 1rem; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .5rem 0; }
h2 { font-size: 1.2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .25rem; }
.meta, .sources, footer { color: var(--muted); font-size: .85rem; }
blockquote { margin: .5rem 0; padding-left: .75rem; border-left: 3px solid var(--line); font-style: italic; }
a { color: var(--accent); }
ul { padding-left: 1.2rem; }
li { margin: .3rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
td, th { border-bottom: 1px solid var(--line); padding: .35rem; text-align: left; vertical-align: top; }
.wide { overflow-x: auto; }
.failed li { color: #b02a37; }
.id { font-variant-numeric: tabular-nums; color: var(--muted); }
</style>
</head>
<body>
<header>
<h1>{{ b.title }}</h1>
<p class="meta">{{ b.articles|length }} articles{% if b.since %} since {{ b.since.strftime('%Y-%m-%d %H:%M') }} UTC{% endif %} · {{ b.provenance.model }} · {{ b.provenance.prompt }}@{{ b.provenance.prompt_version }}</p>
</header>
<main>
<p>{{ b.overview }}</p>
{% if b.top_stories %}<section id="top-stories">
<h2>Top stories</h2>
{% for story in b.top_stories %}<article>
<h3>{{ loop.index }}. {{ story.headline }}</h3>
<p>{{ story.synthesis }}</p>
{% for ev in story.evidence %}<blockquote>“{{ ev.quote }}” <a class="id" href="#{{ ev.article_id }}">[{{ ev.article_id }}]</a></blockquote>
{% endfor %}<p class="sources">Sources: {% for aid in story.article_ids if aid in by_id %}{% set a = by_id[aid] %}{% if not loop.first %}; {% endif %}{{ cite(a) }}{% endfor %}</p>
</article>
{% endfor %}</section>{% endif %}
{% if b.themes %}<section id="themes">
<h2>Themes</h2>
<ul>{% for theme in b.themes %}
<li><strong>{{ theme.name }}</strong>: {{ theme.summary }} {% for aid in theme.article_ids %}<a class="id" href="#{{ aid }}">[{{ aid }}]</a> {% endfor %}</li>{% endfor %}
</ul>
</section>{% endif %}
{% if b.who_is_who %}<section id="who">
<h2>Who's who</h2>
<ul>{% for e in b.who_is_who %}
<li><strong>{{ e.name }}</strong>{% if e.aliases %} (also {{ e.aliases|join(', ') }}){% endif %}, {{ e.kind }}: {{ e.note if e.note else e.roles|join('; ') }} {% for aid in e.article_ids %}<a class="id" href="#{{ aid }}">[{{ aid }}]</a> {% endfor %}</li>{% endfor %}
</ul>
</section>{% endif %}
{% if b.stances %}<section id="stances">
<h2>Stances</h2>
<div class="wide"><table>
<tr><th>Who</th><th>Position</th><th>On</th><th>Evidence</th></tr>
{% for s in b.stances %}<tr><td>{{ s.holder }}</td><td>{{ s.position }}</td><td>{{ s.target }}</td><td>“{{ s.quote }}” <a class="id" href="#{{ s.article_id }}">[{{ s.article_id }}]</a></td></tr>
{% endfor %}</table></div>
</section>{% endif %}
<section id="sources">
<h2>Sources</h2>
<ol class="sources">{% for a in b.articles %}
<li id="{{ a.id }}">{{ cite(a) }}{% if a.cached %} · cached{% endif %}</li>{% endfor %}
</ol>
</section>
{% if b.failures %}<section id="failures" class="failed">
<h2>Failed ({{ b.failures|length }})</h2>
<ul>{% for f in b.failures %}
<li><strong>{{ f.source }}</strong> ({{ f.stage }}): {{ f.reason }}</li>{% endfor %}
</ul>
</section>{% endif %}
{% if b.dropped %}<section id="dropped">
<h2>Kept out ({{ b.dropped|length }})</h2>
<ul>{% for d in b.dropped %}
<li>{{ d.path }}: {{ d.reason }}</li>{% endfor %}
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


def _html_cite(article: BriefingArticle) -> "Markup":
    from markupsafe import escape

    url = safe_url(article.source)
    label = escape(source_label(article))
    anchor = Markup('<a class="id" href="#{0}">[{0}]</a> ').format(article.id)
    if url:
        return anchor + Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(url, label)
    if article.title and article.source:
        return anchor + label + Markup(' <span class="path">({})</span>').format(article.source)
    return anchor + label


def render_html(briefing: Briefing) -> str:
    """One self-contained page: no scripts, no external assets, readable on a phone."""
    return _template().render(b=briefing, by_id={a.id: a for a in briefing.articles}, cite=_html_cite)


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
