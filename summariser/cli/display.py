"""Readable terminal renderings of results (rich)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..schema import ArticleSummary

_POSITION_STYLE = {"supports": "green", "opposes": "red", "neutral": "yellow", "mixed": "magenta"}


def describe_provenance(summary: ArticleSummary, *, cached: bool = False) -> str:
    p = summary.provenance
    g = summary.grounding
    parts = [
        f"{p.prompt}@{p.prompt_version}",
        p.model,
        f"{p.attempts} attempt{'s' if p.attempts != 1 else ''}",
        f"{p.usage.total_tokens:,} tokens",
        f"{p.duration_s:.1f}s",
        f"grounding {g.grounding_rate:.0%}",
    ]
    if p.transport_retries:
        parts.insert(3, f"{p.transport_retries} transport retr{'ies' if p.transport_retries != 1 else 'y'}")
    if g.unverified:
        parts.append(f"{len(g.unverified)} ungrounded item{'s' if len(g.unverified) != 1 else ''} kept out")
    if g.fuzzy_matches:
        parts.append(f"{g.fuzzy_matches} fuzzy quote match{'es' if g.fuzzy_matches != 1 else ''}")
    if cached:
        parts.append("cached")
    return " · ".join(parts)


def render_summary(console: Console, summary: ArticleSummary, *, cached: bool = False) -> None:
    console.print(summary_panel(summary, cached=cached))


def describe_source(summary: ArticleSummary) -> str:
    """What is known about where the article came from, one line: site, author, date, language,
    URL, feed. Empty when nothing is known beyond the path (the panel's footer names that)."""
    s = summary.provenance.source
    parts = [s.site_name, f"by {s.author}" if s.author else None]
    if s.published:
        parts.append(s.published.strftime("%Y-%m-%d %H:%M") if (s.published.hour, s.published.minute) != (0, 0) else s.published.strftime("%Y-%m-%d"))
    parts.append(s.language)
    if s.url and s.url != s.path:
        parts.append(s.url)
    if s.feed:
        parts.append(f"via {s.feed}")
    known = [p for p in parts if p]
    if s.title and s.title != summary.headline:
        known.insert(0, f"“{s.title}”")
    return " · ".join(known)


def summary_panel(summary: ArticleSummary, *, cached: bool = False) -> Panel:
    """One summary as a panel: source, summary, facts, participants, stances; provenance below."""
    body: list = []
    about = describe_source(summary)
    if about:
        body += [Text(about, style="dim"), Text("")]
    body.append(Text(summary.summary))
    if summary.key_facts:
        facts = Table(show_header=True, header_style="bold", box=None, expand=True, padding=(0, 1))
        facts.add_column("Key fact", ratio=1)
        facts.add_column("Quote", ratio=1, style="dim")
        for fact in summary.key_facts:
            facts.add_row(fact.statement, f"“{fact.quote}”")
        body += [Text(""), facts]
    if summary.participants:
        people = Table(show_header=True, header_style="bold", box=None, expand=True, padding=(0, 1))
        people.add_column("Participant")
        people.add_column("Kind", style="cyan")
        people.add_column("Role", ratio=1)
        people.add_column("Also called", style="dim")
        for person in summary.participants:
            people.add_row(person.name, person.kind, person.role, ", ".join(person.aliases))
        body += [Text(""), people]
    if summary.stances:
        stances = Table(show_header=True, header_style="bold", box=None, expand=True, padding=(0, 1))
        stances.add_column("Who")
        stances.add_column("Position")
        stances.add_column("On what", ratio=1)
        stances.add_column("Evidence", ratio=1, style="dim")
        for stance in summary.stances:
            style = _POSITION_STYLE.get(stance.position, "")
            stances.add_row(stance.holder, Text(stance.position, style=style), stance.target, f"“{stance.quote}”")
        body += [Text(""), stances]
    source = summary.provenance.source.path or "(text)"
    return Panel(
        Group(*body),
        title=f"[bold]{escape(summary.headline)}[/]",
        title_align="left",
        subtitle=escape(f"{source} · {describe_provenance(summary, cached=cached)}"),
        subtitle_align="left",
    )
