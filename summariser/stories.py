"""Stories by code: group per-article summaries into stories and rank them, without a model.

Two articles report the same story when what their structured summaries hold says so:

* shared participants, after merging names and aliases across articles (``merge_participants``);
  a participant that half the briefing mentions (``"United States"``) says little and counts half,
* shared places (participants of kind place or country) and countries, whatever name stands for
  them ("Moscow", "Russian" and "Russia" are one; ``countries.lookup_country``),
* overlapping key facts: rapidfuzz's token-set similarity of the content words of the headline
  and key-fact statements,
* publish times: close together adds a little, more than a week apart takes a lot away.

A pair needs at least one shared participant or place *and* enough overlap of facts, or two
shared participants (or one and a place): one shared name alone ("Scientology" in a story on a
defector and one on a website attack) is not one story. Articles are then grouped by average linkage, so a chain of
weak links does not glue unrelated stories together; every article lands in exactly one story.

Stories are ranked by signals anyone can check in the JSON: how many sources (sites) and
articles report them, how recent the newest article is, how widely their participants appear
across the whole briefing, and, at most as a tie-breaker, where the model's own ranking put them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath
from urllib.parse import urlsplit

from rapidfuzz import fuzz

from .countries import lookup_country
from .schema import ArticleSummary, StorySignals, WhoEntry

PLACE_KINDS = frozenset({"place", "country"})
CLOSE_IN_TIME = timedelta(hours=36)
FAR_IN_TIME = timedelta(days=7)
LINK_THRESHOLD = 2.5  # a pair score at or above this says "same story"
COMMON_SHARE = 0.34  # a participant in more than this share of the articles (6+ articles) counts half
MAX_EXACT_LINKAGE = 400  # above this many articles, single linkage (connected pairs) keeps it O(n^2)

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)
# Words that say nothing about which story an article tells: grounding._STOP's words but "say",
# plus news-wide ones (weekdays, "people", "year", small numbers). Kept apart from grounding's
# list, whose checks need those words as evidence. With the two lists merged ("say" added here),
# the content words of 36 of the 127 eval texts would change.
_STOP = frozenset(
    """
    a about above after again against all also although am among an and another any are around as at be
    because been before being below between both but by can could did do does doing down during each
    either even every few for from further had has have having he her here hers him his how however i if
    in into is it its itself just last least less many may might more most much must my near neither
    new next no nor not now of off on once one only or other our out over own per said same says several
    she should since so some such than that the their them then there these they this those though
    through thus to too two under until up upon us very was we were what when where whether which while
    who whom whose why will with within without would year years yet you your week day days told says
    according people time first three four five monday tuesday wednesday thursday friday saturday sunday
    """.split()
)


@dataclass(frozen=True)
class StoryArticle:
    """What clustering needs of one summarised article."""

    id: str
    summary: ArticleSummary
    published: datetime | None = None
    site: str | None = None  # the publisher: a URL's host, else the source's own name


@dataclass
class StoryCluster:
    """One story as code sees it: its articles (most central first), participants, places, signals."""

    article_ids: list[str]
    participants: list[str]
    places: list[str]
    signals: StorySignals = field(default=None)  # type: ignore[assignment]


def site_name(source: str | None) -> str | None:
    """A URL's host without ``www.``; a file's name; None for text without a source."""
    if not source:
        return None
    parts = urlsplit(source.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        host = parts.hostname or parts.netloc
        return host.removeprefix("www.")
    return None


def source_name(source: str | None) -> str | None:
    """How a page names a source: a URL by its URL, a file by its name (never a local path)."""
    if not source:
        return None
    if site_name(source):
        return source.strip()
    return PurePath(source.replace("\\", "/")).name or source


def content_words(text: str) -> set[str]:
    """Lower-cased content words (no stop words, no one- or two-letter words) of ``text``."""
    return {w for w in (m.group().casefold() for m in _WORD.finditer(text)) if len(w) > 2 and w not in _STOP}


def _fact_text(summary: ArticleSummary) -> str:
    return " ".join([summary.headline, *(f.statement for f in summary.key_facts)])


@dataclass(frozen=True)
class _Features:
    people: frozenset[str]  # who's-who entries that are not places
    places: frozenset[str]  # places, and the country any name stands for ("Moscow", "Russian" -> Russia)
    words: str  # sorted content words, for rapidfuzz
    published: datetime | None


def _country(entry: WhoEntry) -> str | None:
    """The country a participant's name or an alias stands for (by name, capital or demonym)."""
    for name in (entry.name, *entry.aliases):
        match = lookup_country(name)
        if match is not None:
            return f"country:{match.country.iso2}"
    return None


def _entity_keys(who: Sequence[WhoEntry]) -> list[tuple[str, bool]]:
    """(key, is a place) per who's-who entry: a country's every name folds into one key."""
    keys = []
    for index, entry in enumerate(who):
        country = _country(entry)
        keys.append((country, True) if country else (f"who:{index}", entry.kind in PLACE_KINDS))
    return keys


def _features(articles: Sequence[StoryArticle], who: Sequence[WhoEntry]) -> dict[str, _Features]:
    by_article: dict[str, tuple[set[str], set[str]]] = {a.id: (set(), set()) for a in articles}
    for entry, (key, is_place) in zip(who, _entity_keys(who)):
        for aid in entry.article_ids:
            if aid in by_article:
                by_article[aid][1 if is_place else 0].add(key)
    return {
        a.id: _Features(
            people=frozenset(by_article[a.id][0]),
            places=frozenset(by_article[a.id][1]),
            words=" ".join(sorted(content_words(_fact_text(a.summary)))),
            published=a.published,
        )
        for a in articles
    }


def pair_score(a: _Features, b: _Features, weight: Mapping[str, float]) -> float:
    """How strongly two articles look like one story (0 = not at all; >= LINK_THRESHOLD = same)."""
    people = sum(weight[e] for e in a.people & b.people)
    places = sum(weight[e] for e in a.places & b.places)
    if not people and not places:
        return 0.0
    facts = fuzz.token_set_ratio(a.words, b.words) / 100 if a.words and b.words else 0.0
    score = 1.5 * people + 1.0 * places + 4.0 * max(0.0, facts - 0.45)
    if a.published and b.published:
        gap = abs(a.published - b.published)
        if gap <= CLOSE_IN_TIME:
            score += 0.5
        elif gap > FAR_IN_TIME:
            score -= 2.0
    return score


def _weights(features: Mapping[str, _Features]) -> dict[str, float]:
    """1 for each participant or place; 0.5 for one that more than a third of 6+ articles name."""
    n = len(features)
    df: dict[str, int] = {}
    for f in features.values():
        for key in f.people | f.places:
            df[key] = df.get(key, 0) + 1
    return {key: 0.5 if n >= 6 and count > COMMON_SHARE * n else 1.0 for key, count in df.items()}


def cluster_articles(articles: Sequence[StoryArticle], who: Sequence[WhoEntry]) -> list[list[str]]:
    """Article ids grouped into stories (average linkage over ``pair_score``), in input order."""
    ids = [a.id for a in articles]
    if not ids:
        return []
    features = _features(articles, who)
    weight = _weights(features)
    n = len(ids)
    score = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            score[i][j] = score[j][i] = pair_score(features[ids[i]], features[ids[j]], weight)
    if n > MAX_EXACT_LINKAGE:
        return _single_linkage(ids, score)
    clusters: dict[int, list[int]] = {i: [i] for i in range(n)}
    # Average linkage by the Lance-Williams update: link[a][b] is the mean pair score between clusters.
    link = {i: {j: score[i][j] for j in range(n) if j != i} for i in range(n)}
    while len(clusters) > 1:
        best, pair = LINK_THRESHOLD, None
        for a in clusters:
            for b, value in link[a].items():
                if a < b and value >= best and (pair is None or value > best or (a, b) < pair):
                    best, pair = value, (a, b)
        if pair is None:
            break
        a, b = pair
        size_a, size_b = len(clusters[a]), len(clusters[b])
        for c in clusters:
            if c in (a, b):
                continue
            merged = (size_a * link[a][c] + size_b * link[b][c]) / (size_a + size_b)
            link[a][c] = link[c][a] = merged
            del link[c][b]
        del link[a][b]
        del link[b]
        clusters[a] = sorted(clusters[a] + clusters.pop(b))
    groups = sorted(clusters.values(), key=lambda members: members[0])
    return [_by_centrality(members, score, ids) for members in groups]


def _single_linkage(ids: list[str], score: list[list[float]]) -> list[list[str]]:
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            if score[i][j] >= LINK_THRESHOLD:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(ids)):
        groups.setdefault(find(i), []).append(i)
    return [_by_centrality(members, score, ids) for members in sorted(groups.values(), key=lambda m: m[0])]


def _by_centrality(members: list[int], score: list[list[float]], ids: list[str]) -> list[str]:
    """The story's articles, the one most like the others first (ties: input order)."""
    if len(members) == 1:
        return [ids[members[0]]]
    total = {i: sum(score[i][j] for j in members if j != i) for i in members}
    return [ids[i] for i in sorted(members, key=lambda i: (-total[i], i))]


def build_stories(articles: Sequence[StoryArticle], who: Sequence[WhoEntry]) -> list[StoryCluster]:
    """Cluster ``articles`` into stories and rank them by code-visible signals, best first."""
    by_id = {a.id: a for a in articles}
    times = [a.published for a in articles if a.published]
    oldest, newest = (min(times), max(times)) if times else (None, None)
    clusters = []
    for ids in cluster_articles(articles, who):
        members = set(ids)
        entries = [e for e in who if members & set(e.article_ids)]
        people = sorted((e for e in entries if e.kind not in PLACE_KINDS), key=lambda e: (-len(e.article_ids), e.name.casefold()))
        places = sorted((e for e in entries if e.kind in PLACE_KINDS), key=lambda e: (-len(e.article_ids), e.name.casefold()))
        # Prominence: how many articles of the whole briefing mention the story's best-known participants.
        reach = sorted((len(e.article_ids) for e in entries), reverse=True)[:3]
        prominence = round(sum(math.log2(r) for r in reach) / 3, 3) if reach else 0.0
        sites = {by_id[i].site or f"#{i}" for i in ids}  # a file, or text, is a source of its own
        dated = [by_id[i].published for i in ids if by_id[i].published]
        latest = max(dated) if dated else None
        recency = 0.0
        if latest and oldest and newest:
            span = (newest - oldest).total_seconds()
            recency = round((latest - oldest).total_seconds() / span, 3) if span > 0 else 1.0
        signals = StorySignals(
            articles=len(ids), sites=len(sites), latest=latest, recency=recency, prominence=prominence, model_rank=None, score=0.0,
        )
        clusters.append(StoryCluster(
            article_ids=ids, participants=[e.name for e in people][:8], places=[e.name for e in places][:6], signals=signals,
        ))
    return rank_stories(clusters, order=[a.id for a in articles])


def story_score(signals: StorySignals) -> float:
    """Sources count most, then articles, recency and prominence; the model's rank breaks near-ties."""
    model_bonus = 0.5 / signals.model_rank if signals.model_rank else 0.0
    score = 2.0 * signals.sites + 1.0 * signals.articles + 1.5 * signals.recency + min(signals.prominence, 1.5) + model_bonus
    return round(score, 3)


def rank_stories(
    clusters: list[StoryCluster], *, order: Sequence[str], model_rank: Mapping[str, int] | None = None
) -> list[StoryCluster]:
    """``clusters`` scored and sorted best first (ties: the first article's input order).

    ``model_rank`` maps an article id to the position (1 = first) of the model's top story that
    cites it: one input among the others, worth less than a second source."""
    position = {aid: i for i, aid in enumerate(order)}
    for cluster in clusters:
        ranks = [model_rank[i] for i in cluster.article_ids if model_rank and i in model_rank]
        signals = cluster.signals.model_copy(update={"model_rank": min(ranks) if ranks else None})
        cluster.signals = signals.model_copy(update={"score": story_score(signals)})
    return sorted(clusters, key=lambda c: (-c.signals.score, min(position.get(i, 0) for i in c.article_ids)))


__all__ = [
    "StoryArticle",
    "StoryCluster",
    "build_stories",
    "cluster_articles",
    "content_words",
    "pair_score",
    "rank_stories",
    "story_score",
    "site_name",
    "source_name",
]
