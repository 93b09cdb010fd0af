"""Check a draft summary against the article text. Pure functions, no I/O.

A quote is grounded when it occurs in the article after normalising case, whitespace, quote
marks and dashes; failing that, a near-exact fuzzy match (rapidfuzz partial ratio at or above
the threshold) counts and is reported as ``fuzzy``. Participant names and aliases must occur in
the article; stance holders must be listed participants; a key fact's quote must share at least
one content word or number with its statement (a quote that says nothing about the fact does
not support it).

Why one module of ~430 lines: normalising text with an offset map and every check that
uses it belong together; offsets must come from the same normalisation as the match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from .schema import LocatedKeyFact, LocatedStance, QuoteCheck, QuoteMatch, SummaryDraft

_QUOTE_MARKS_SOURCE = {  # typographic marks a faithful copy may write plainly
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ",
}
_EDGE = " \t\n\"'.,;:!?…"
_WORD = re.compile(r"[a-z0-9]+")
# Words too common to show that a fact came from a sentence. Not stories._STOP, on purpose: that
# list also drops news-wide words ("people", "year", weekdays, small numbers) which join unrelated
# stories there but are evidence here ("three people died on Monday"). With the two lists merged,
# the content stems of all 127 eval texts would change (4,319 fewer).
_STOP = frozenset(
    "the a an and or but of to in on at for by with from as is are was were be been being has have had "
    "it its this that these those he she they them his her their we our you your not no said says say "
    "will would could should may might can also after before about over into than then there which who "
    "whom what when where while more most some any all other such only very".split()
)
MIN_QUOTE_CHARS = 12


_FOLDABLE = re.compile("[" + re.escape("".join(_QUOTE_MARKS_SOURCE)) + "]")


def _fold_mark(match: re.Match[str]) -> str:
    return _QUOTE_MARKS_SOURCE[match.group()]


def normalise(text: str) -> str:
    """Fold what differs between a faithful copy and the original: case, spacing, quote marks, dashes."""
    text = unicodedata.normalize("NFKC", text)
    if _FOLDABLE.search(text):  # most text has none: skip the substitution pass
        text = _FOLDABLE.sub(_fold_mark, text)
    return " ".join(text.casefold().split())


def _clusters(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each base character with the combining marks after it: NFKC composes
    within such a run, so normalising run by run gives the whole text's NFKC (checked anyway)."""
    start = 0
    for i in range(1, len(text)):
        if not unicodedata.combining(text[i]):
            yield start, i
            start = i
    if text:
        yield start, len(text)


def normalise_with_map(text: str) -> tuple[str, list[int], list[int]] | None:
    """``normalise(text)`` and, for each of its characters, the start and end of the original
    characters it came from: a match in the normalised text maps back to a span of ``text``.

    None in the rare case run-by-run folding differs from ``normalise`` (e.g. conjoining Hangul
    jamo), so a span is never reported that does not correspond to the match."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for begin, end in _clusters(text):
        piece = unicodedata.normalize("NFKC", text[begin:end])
        for ch in piece:
            for c in _QUOTE_MARKS_SOURCE.get(ch, ch).casefold():
                if c.isspace():
                    if not out or out[-1] == " ":
                        continue  # leading or repeated whitespace collapses, as in normalise
                    c = " "
                out.append(c)
                starts.append(begin)
                ends.append(end)
    if out and out[-1] == " ":
        out.pop(), starts.pop(), ends.pop()
    folded_text = "".join(out)
    if folded_text != normalise(text):
        return None
    return folded_text, starts, ends


_NAME_WORD = r"(?:[A-Z][a-z]+(?:[-'’][A-Za-z]+)*|[A-Z]{2,}[0-9]*|(?:[A-Z]\.){2,})"
_NAME = re.compile(rf"{_NAME_WORD}(?:[ ](?:(?:of|the|de|van|von|al|bin|la|du)[ ])?{_NAME_WORD})*")
_NOT_NAMES = frozenset(
    "a an and as at but by for from he her his i if in it its on or our she so that the their then there "
    "these they this those to we when while who with you after before during also although however "
    "meanwhile now some one two many most other such what which where why how despite since until "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december reporting writing editing "
    "president minister foreign prime secretary chancellor king queen senator governor mayor judge "
    "general mr mrs ms dr leader chief director spokesman spokeswoman officials official".split()
)


# Words that title a name rather than belong to it ("U.S. President Donald Trump" is the U.S.
# and Donald Trump). Split on them, a small model's hints are bare names.
_TITLES = frozenset(
    "president vice prime minister secretary ambassador attorney assistant deputy chancellor "
    "king queen prince princess senator sen rep representative congressman congresswoman governor "
    "gov mayor judge justice general gen mr mrs ms dr leader chief director spokesman spokeswoman "
    "spokesperson coach founder co-founder ceo chairman chairwoman chair commissioner officer "
    "captain capt colonel col lieutenant lt sergeant sgt detective inspector professor prof pope "
    "cardinal bishop sheikh filmmaker reporter correspondent editor image photo".split()
)


# Connectors and qualifiers left at the edge of a name once its title is cut off.
_EDGE_WORDS = frozenset("of the de van von al bin la du former then acting interim".split())


@functools.lru_cache(maxsize=256)
def _candidate_names(text: str, limit: int, bare: bool = False) -> tuple[str, ...]:
    return tuple(_rank_names(text, limit, bare))


def candidate_names(text: str, limit: int = 25, *, bare: bool = False) -> list[str]:
    """Capitalised name-like phrases, most frequent first (cached by text: an article is
    prepared once however many sessions, prompts or re-runs it goes through).

    ``bare`` splits phrases at titles and drops stray edge words: "U.S. President Donald
    Trump" gives "U.S." and "Donald Trump", "Washington D.C. The" gives "Washington D.C."."""
    return list(_candidate_names(text, limit, bare))


def _segments(words: list[str], bare: bool) -> Iterator[tuple[int, list[str]]]:
    """(index of the first word, words) of each name in one capitalised phrase."""
    if not bare:
        yield 0, words
        return
    titles = [i for i, word in enumerate(words) if word.lower().rstrip(".") in _TITLES]
    if not titles:
        spans = [(0, len(words))]
    else:  # the name before the first title and after the last; words between titles are titles
        spans = [(0, titles[0]), (titles[-1] + 1, len(words))]
    for start, end in spans:
        segment = words[start:end]
        while segment and segment[0].lower() in _EDGE_WORDS:
            segment, start = segment[1:], start + 1
        while segment and (segment[-1].lower() in _NOT_NAMES or segment[-1].lower() in _EDGE_WORDS):
            segment = segment[:-1]
        if segment:
            yield start, segment


def _rank_names(text: str, limit: int, bare: bool = False) -> list[str]:
    """Capitalised name-like phrases, most frequent first: hints that help a small model find
    every participant (it still decides who takes part, and every name is still checked)."""
    counts: dict[str, int] = {}
    named: set[str] = set()
    for match in _NAME.finditer(text):
        words = match.group().split(" ")
        while words and words[0].lower() in _NOT_NAMES:
            words = words[1:]
        # "On Monday U.S. ...": once leading words are cut, the name does not open the sentence.
        after_lead = bare and len(words) < match.group().count(" ") + 1
        for first, segment in _segments(words, bare):
            name = " ".join(segment)
            for suffix in ("’s", "'s"):
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
            if len(name) > 1 and name.lower() not in _NOT_NAMES:
                counts[name] = counts.get(name, 0) + 1
                # After a title a name does not open the sentence, whatever the offset says.
                if " " in name or first > 0 or after_lead or not _opens_sentence(text, match.start()):
                    named.add(name)
    # A lone capitalised word seen only at the start of sentences is an ordinary word.
    kept = {n: c for n, c in counts.items() if n in named}
    # "Lavrov" after "Sergei Lavrov" is the same person: count it for the full name.
    for name in sorted(kept, key=len):
        if " " in name:
            continue
        longer = [full for full in kept if " " in full and name in full.split(" ")]
        if bare:  # a surname ends the full name; "Afghan" is no part of "Better Idea of Afghan Girls"
            longer = [full for full in longer if full.endswith(" " + name)]
        if len(longer) == 1:
            kept[longer[0]] += kept.pop(name)
    ranked = sorted(kept, key=lambda n: (-kept[n], text.find(n)))
    return ranked[:limit]


def _opens_sentence(text: str, index: int) -> bool:
    before = text[:index].rstrip(" \t\"'“‘(")
    return not before or before[-1] in ".!?\n:"


_SENTENCE_SPLIT = re.compile(r"(?<=[a-z0-9)][.!?])\s+|(?<=[.!?][\"”’'])\s+|\n+")


def quotable_spans(text: str, *, max_chars: int, min_words: int = 5, limit: int = 300) -> list[str]:
    """Verbatim spans of the article a quote may be (see ``_quotable_spans``), cached by text."""
    return list(_quotable_spans(text, max_chars, min_words, limit))


@functools.lru_cache(maxsize=256)
def _quotable_spans(text: str, max_chars: int, min_words: int, limit: int) -> tuple[str, ...]:
    """Verbatim spans of the article a quote may be: its sentences, long ones packed into
    clause-sized pieces of at most ``max_chars``.

    Sent as an ``enum`` in the JSON Schema of a request, they let a grammar-constrained model copy
    evidence only from the article: every quote grounded by construction."""
    spans: list[str] = []
    for sentence in _SENTENCE_SPLIT.split(text):
        sentence = sentence.strip()
        pieces, current = [], ""
        for clause in re.split(r"(?<=,)\s+", sentence):
            candidate = f"{current} {clause}" if current else clause
            if len(candidate) <= max_chars:
                current = candidate
                continue
            if current:
                pieces.append(current)
            while len(clause) > max_chars:
                head = clause[:max_chars].rsplit(" ", 1)[0]
                pieces.append(head)
                clause = clause[len(head):].strip()
            current = clause
        if current:
            pieces.append(current)
        for piece in pieces:
            # No straight double quote or backslash inside a span: llama.cpp's llguidance let the
            # model end an enum string early right after an escaped quote ("..., \"nobod"), so
            # quoted speech is offered without its quotation marks, and the words around it apart.
            for part in re.split(r'["\\]', piece):
                part = part.strip().rstrip(",;:").strip()
                if len(part.split()) >= min_words and part in text and part not in spans:
                    spans.append(part)
    return tuple(spans[:limit])


def _content_stems(text: str) -> Iterator[str]:
    # Quote marks and dashes are not word characters, so casefolding is all the folding needed.
    return (w[:5] for w in _WORD.findall(text.casefold()) if (len(w) > 2 or w.isdigit()) and w not in _STOP)


def content_stems(text: str) -> list[str]:
    """The content words of ``text`` as 5-letter stems, stop words left out (the floor uses them too)."""
    return list(_content_stems(text))


def _shares_content_word(statement: str, quote: str) -> bool:
    wanted = set(_content_stems(statement))
    return any(stem in wanted for stem in _content_stems(quote))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a reply: where, what, and whether dropping the item would fix it."""

    path: str
    message: str
    item: str | None = None  # path of the droppable item (e.g. "stances[1]"), None if not droppable

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Location:
    """Where a quote was found: how it matched and the span of the original article text."""

    match: QuoteMatch
    score: float
    start: int | None  # article.text[start:end] is the matched text; None when it cannot be mapped back
    end: int | None


@dataclass
class GroundingResult:
    verified: list[QuoteCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    quotes_checked: int = 0

    @property
    def rate(self) -> float:
        return len(self.verified) / self.quotes_checked if self.quotes_checked else 1.0


class ArticleText:
    """An article prepared once for many lookups (normalised text is computed a single time)."""

    def __init__(self, text: str, *, fuzzy_threshold: float = 95.0) -> None:
        self.text = text
        self.normalised = normalise(text)
        self.fuzzy_threshold = fuzzy_threshold

    def find_quote(self, quote: str) -> tuple[QuoteMatch, float] | None:
        found = self.locate(quote)
        return None if found is None else (found.match, found.score)

    @functools.cached_property
    def _position_map(self) -> tuple[list[int], list[int]] | None:
        # Built only when a quote matched after normalising (an exact match needs no map), once.
        mapped = normalise_with_map(self.text)
        return None if mapped is None else (mapped[1], mapped[2])

    def _original_span(self, start: int, end: int) -> tuple[int | None, int | None]:
        """The span of the original text that normalised positions [start, end) came from."""
        position = self._position_map
        if position is None or not 0 <= start < end <= len(position[0]):
            return None, None
        return position[0][start], position[1][end - 1]

    def locate(self, quote: str) -> Location | None:
        """How ``quote`` occurs in the article and where (first occurrence), or None."""
        if quote:
            at = self.text.find(quote)
            if at >= 0:
                return Location("exact", 100.0, at, at + len(quote))
        needle = normalise(quote).strip(_EDGE)
        if not needle:
            return None
        at = self.normalised.find(needle)
        if at >= 0:
            return Location("normalised", 100.0, *self._original_span(at, at + len(needle)))
        if len(needle) >= MIN_QUOTE_CHARS:
            from rapidfuzz import fuzz

            aligned = fuzz.partial_ratio_alignment(needle, self.normalised, score_cutoff=self.fuzzy_threshold)
            if aligned is not None and aligned.score:
                return Location("fuzzy", round(aligned.score, 1), *self._original_span(aligned.dest_start, aligned.dest_end))
        return None

    def has_name(self, name: str) -> bool:
        needle = normalise(name).strip(_EDGE)
        if not needle:
            return False
        if needle in self.normalised:
            return True
        if len(needle) >= 5:
            from rapidfuzz import fuzz

            return fuzz.partial_ratio(needle, self.normalised, score_cutoff=90) > 0
        return False


def check_draft(draft: SummaryDraft, article: ArticleText) -> GroundingResult:
    """Every problem with the draft's grounding, and the quotes that were verified."""
    result = GroundingResult()

    def check_quote(path: str, item: str, quote: str) -> bool:
        result.quotes_checked += 1
        if len(quote.strip(_EDGE)) < MIN_QUOTE_CHARS:
            result.problems.append(Problem(path, f"quote {quote!r} is too short: copy a whole phrase from the article", item))
            return False
        found = article.locate(quote)
        if found is None:
            result.problems.append(
                Problem(path, f"quote not found in the article: {quote!r}; copy the words exactly", item)
            )
            return False
        # Built from values this function produced itself: nothing for pydantic to check.
        result.verified.append(
            QuoteCheck.model_construct(
                path=path, quote=quote, match=found.match, score=found.score, start=found.start, end=found.end
            )
        )
        return True

    for i, fact in enumerate(draft.key_facts):
        item = f"key_facts[{i}]"
        if check_quote(f"{item}.quote", item, fact.quote) and not _shares_content_word(fact.statement, fact.quote):
            result.problems.append(
                Problem(f"{item}.quote", "the quote does not mention anything the statement says; quote the words that support it", item)
            )

    names: set[str] = set()
    for i, person in enumerate(draft.participants):
        item = f"participants[{i}]"
        names.add(normalise(person.name))
        names.update(normalise(a) for a in person.aliases)
        if not article.has_name(person.name):
            result.problems.append(
                Problem(f"{item}.name", f"{person.name!r} does not occur in the article; use the name the article uses", item)
            )
        for j, alias in enumerate(person.aliases):
            if not article.has_name(alias):
                result.problems.append(
                    Problem(f"{item}.aliases[{j}]", f"alias {alias!r} does not occur in the article; remove it", f"{item}.aliases[{j}]")
                )

    for i, stance in enumerate(draft.stances):
        item = f"stances[{i}]"
        if normalise(stance.holder) not in names:
            result.problems.append(
                Problem(f"{item}.holder", f"{stance.holder!r} is not a listed participant; use a participant name", item)
            )
        check_quote(f"{item}.quote", item, stance.quote)

    return result


def drop_items(draft: SummaryDraft, items: set[str]) -> SummaryDraft:
    """A copy of ``draft`` without the named items (e.g. {"stances[1]"}): what cannot be grounded is kept out."""
    data = draft.model_dump()
    for i, person in enumerate(data["participants"]):
        person["aliases"] = [a for j, a in enumerate(person["aliases"]) if f"participants[{i}].aliases[{j}]" not in items]
    for key in ("key_facts", "participants", "stances"):
        data[key] = [value for i, value in enumerate(data[key]) if f"{key}[{i}]" not in items]
    names = {normalise(n) for p in data["participants"] for n in [p["name"], *p["aliases"]]}
    data["stances"] = [s for s in data["stances"] if normalise(s["holder"]) in names]
    return SummaryDraft.model_validate(data)


def located_items(draft: SummaryDraft, verified: list[QuoteCheck]) -> tuple[list[LocatedKeyFact], list[LocatedStance]]:
    """The draft's key facts and stances with each quote's place in the article, from the checks.

    Looked up by quote text, not path: paths name the reply's items before any were dropped."""
    where = {}
    for check in verified:
        where.setdefault(check.quote, (check.start, check.end))

    def spot(quote: str) -> dict[str, int | None]:
        start, end = where.get(quote, (None, None))
        return {"quote_start": start, "quote_end": end}

    # Built from validated items plus offsets this module computed: nothing for pydantic to check.
    facts = [LocatedKeyFact.model_construct(**dict(fact), **spot(fact.quote)) for fact in draft.key_facts]
    stances = [LocatedStance.model_construct(**dict(stance), **spot(stance.quote)) for stance in draft.stances]
    return facts, stances
