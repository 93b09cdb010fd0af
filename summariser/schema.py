"""The output contract: Pydantic models for structured summaries.

Field names are a contract read by downstream tools, exports and evaluation; change them only
with a new ``SCHEMA_VERSION``. Two layers:

* ``SummaryDraft`` is what the model is asked to produce (its JSON Schema is sent to the model,
  so it follows OpenAI strict-mode rules: every property required, no additional properties).
* ``ArticleSummary`` is the draft plus what summariser adds: ``provenance`` and ``grounding``.

Strings and lists carry ``maxLength``/``maxItems`` caps so a grammar-constrained small model
cannot run on forever; a reply that reaches a cap is trimmed at a sentence or word boundary
instead of being re-asked (a re-ask costs a whole reply).

Why one module of ~650 lines: it is the published contract; every model, its caps and its
trimming live together so that ``SCHEMA_VERSION`` covers one file.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = "1.4"
ARTICLE_SUMMARY_ID = f"urn:summariser:schema:article-summary:{SCHEMA_VERSION}"

ParticipantKind = Literal["person", "organisation", "country", "place", "group", "other"]
StancePosition = Literal["supports", "opposes", "neutral", "mixed"]
QuoteMatch = Literal["exact", "normalised", "fuzzy"]

_SENTENCE_END = re.compile(r"[.!?][\"'”’)]?(?=\s|$)")


def trim_text(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a sentence end, else at a word boundary."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]].strip()
    cut = head.rsplit(None, 1)[0] if " " in head else head
    return cut.rstrip(" ,;:-")


def _capped_str(limit: int, description: str) -> Any:
    return Annotated[
        str,
        AfterValidator(lambda value: trim_text(value, limit)),
        Field(description=description, json_schema_extra={"maxLength": limit}),
    ]


def _capped_list(item: Any, limit: int, description: str, *, min_items: int = 0) -> Any:
    extra: dict[str, Any] = {"maxItems": limit}
    if min_items:
        extra["minItems"] = min_items
    return Annotated[
        list[item],
        AfterValidator(lambda values: values[:limit]),
        Field(description=description, json_schema_extra=extra),
    ]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class KeyFact(_Strict):
    """One self-contained fact from the article and the verbatim words that support it."""

    # The quote comes first: a model that copies the evidence before stating the fact stays grounded.
    quote: _capped_str(200, "A verbatim span copied exactly from the article that supports the statement.")
    statement: _capped_str(200, "One self-contained fact, in your own words, understandable without the article.")


class Participant(_Strict):
    """Someone or something that takes part in the story."""

    name: _capped_str(80, "The name exactly as the article writes it.")
    kind: ParticipantKind = Field(
        description="person, organisation, country (a state or its government), place, group, or other."
    )
    role: _capped_str(80, "What this participant does in this story, in a few words.")
    aliases: _capped_list(
        _capped_str(80, "Another name for the participant, exactly as the article writes it."),
        4,
        "Other names the article uses for this participant (e.g. 'Moscow' for Russia); may be empty.",
    )


class Stance(_Strict):
    """A position a participant takes towards someone or something, with evidence."""

    quote: _capped_str(200, "A verbatim span copied exactly from the article that shows this position.")
    holder: _capped_str(80, "The participant who holds the position: one of the participant names.")
    target: _capped_str(100, "What the position is about: a participant, policy or claim.")
    position: StancePosition = Field(description="supports, opposes, neutral, or mixed.")


# Where a quote sits in the article: filled in by summariser after grounding, never asked of the
# model (the draft models above are the wire format and carry no offsets).
def _offset(description: str) -> Any:
    return Field(None, ge=0, description=description)


_QUOTE_START = (
    "Character offset where the quote's matched article text begins: article[quote_start:quote_end] "
    "is that text (for a normalised or fuzzy match, the original text that matched); null when unknown."
)
_QUOTE_END = "Character offset just past the quote's matched article text; null when unknown."


class _Located(_Strict):
    # Optional in the published schema too: a 1.0 document (no offsets) still validates.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=False)


class LocatedKeyFact(KeyFact, _Located):
    """A key fact with where its quote is in the article text as summarised (sha256 in provenance.source)."""

    quote_start: int | None = _offset(_QUOTE_START)
    quote_end: int | None = _offset(_QUOTE_END)


class LocatedStance(Stance, _Located):
    """A stance with where its quote is in the article text as summarised (sha256 in provenance.source)."""

    quote_start: int | None = _offset(_QUOTE_START)
    quote_end: int | None = _offset(_QUOTE_END)


def _key_facts(item: Any) -> Any:
    return _capped_list(item, 6, "The most important facts, each with a supporting quote.", min_items=3)


def _stances(item: Any) -> Any:
    return _capped_list(item, 5, "Positions participants take, each with a supporting quote; may be empty.")


class SummaryDraft(_Strict):
    """A structured summary of one news article, as the model writes it."""

    headline: _capped_str(120, "One line naming what happened.")
    summary: Annotated[
        str,
        AfterValidator(lambda value: trim_text(value, 450)),
        Field(
            description="Two to four short sentences: what happened, who is involved, why it matters.",
            # Ends a sentence and holds no straight double quote: a small model that writes a
            # quotation mark inside the summary otherwise closes the JSON string mid-sentence.
            json_schema_extra={"maxLength": 450, "pattern": '^[^"]*[.!?]$'},
        ),
    ]
    key_facts: _key_facts(KeyFact)
    participants: _capped_list(
        Participant,
        10,
        "People, organisations, countries and groups that take part in the story.",
        min_items=1,
    )
    stances: _stances(Stance)

    @model_validator(mode="after")
    def _drop_repeats(self) -> "SummaryDraft":
        # Small models repeat list items; a repeat carries no information, so it is removed
        # here rather than re-asked (a re-ask costs a whole reply).
        seen: set[str] = set()
        people = []
        for person in self.participants:
            key = " ".join(person.name.casefold().split())
            if key in seen:
                continue
            seen.add(key)
            aliases = []
            for alias in person.aliases:
                alias_key = " ".join(alias.casefold().split())
                if alias_key != key and alias_key not in (" ".join(a.casefold().split()) for a in aliases):
                    aliases.append(alias)
            people.append(person if aliases == person.aliases else person.model_copy(update={"aliases": aliases}))
        self.participants = people
        self.key_facts = _unique(self.key_facts)
        self.stances = _unique(self.stances)
        return self


def _unique(items: list[Any]) -> list[Any]:
    kept, seen = [], set()
    for item in items:
        key = item.model_dump_json()
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


class Usage(_Strict):
    """Tokens spent, summed over every attempt."""

    prompt_tokens: int = Field(0, description="Prompt tokens sent, over all attempts.")
    completion_tokens: int = Field(0, description="Completion tokens received, over all attempts.")
    total_tokens: int = Field(0, description="prompt_tokens + completion_tokens.")

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class SourceInfo(_Strict):
    """Where the article came from."""

    path: str | None = Field(description="File path or URL the article was read from; null for stdin or text.")
    sha256: str = Field(description="sha256 of the article text as summarised (hex).")
    length: int = Field(description="Length of the article text in characters.")
    url: str | None = Field(None, description="The article's URL: where it was fetched, else the page's canonical URL; null for a file or text without one.")
    title: str | None = Field(None, description="Title from the page's metadata or the feed entry (for a text file: its first line, when that reads as a title).")
    site_name: str | None = Field(None, description="Publisher or site name from the page's metadata, else the feed's title.")
    author: str | None = Field(None, description="Author(s) as the page or feed entry names them.")
    published: datetime | None = Field(None, description="Publication date and time the page or feed entry gives (UTC when no zone is given).")
    language: str | None = Field(None, description="Language tag the page or feed declares, e.g. 'en' or 'en-GB'; null when none is declared (never guessed).")
    feed: str | None = Field(None, description="The RSS/Atom feed (URL or file) the article was found through, if any.")


class RequestInfo(_Strict):
    """One request sent to the model for this result: what it asked for and what it cost."""

    number: int = Field(description="1-based request number within the run.")
    kind: Literal["full", "repair"] = Field("full", description="full: asked for the whole reply; repair: asked only for replacements of failed items.")
    repaired: list[str] = Field(default_factory=list, description="For a repair: the items it asked replacements for, e.g. 'key_facts[1]'.")
    prompt_tokens: int = Field(0, description="Prompt tokens of this request.")
    completion_tokens: int = Field(0, description="Completion tokens of this request.")
    cached_prompt_tokens: int | None = Field(None, description="Prompt tokens the server reused from its prompt cache, when it reports them.")
    prompt_s: float | None = Field(None, description="Server time spent processing the prompt (prefill), in seconds, when it reports it.")
    generation_s: float | None = Field(None, description="Server time spent generating the reply, in seconds, when it reports it.")
    latency_s: float = Field(0.0, description="Seconds from request to reply, transport retries included.")


class Provenance(_Strict):
    """How this summary was produced: enough to reproduce and audit it."""

    prompt: str = Field(description="Prompt template name, e.g. 'article'.")
    prompt_version: int = Field(description="Prompt template version.")
    prompt_sha256: str = Field(description="sha256 of the prompt template file.")
    schema_version: str = Field(description="Version of this output schema.")
    model: str = Field(description="Model name as sent to the endpoint.")
    endpoint: str = Field(description="Endpoint host (never a key), e.g. 'api.openai.com' or '127.0.0.1:8080'.")
    attempts: int = Field(description="Model replies received (1 = valid at the first attempt).")
    transport_retries: int = Field(0, description="Requests retried after 429, 5xx, timeouts or connection errors.")
    usage: Usage = Field(description="Tokens summed over all attempts.")
    requests: list[RequestInfo] = Field(default_factory=list, description="Every request sent, in order, with its tokens (empty in results made before schema 1.3).")
    duration_s: float = Field(description="Wall time from first request to validated result, in seconds.")
    source: SourceInfo = Field(description="The article this summarises.")
    created_at: datetime = Field(description="When the summary was produced (UTC, ISO 8601).")


class QuoteCheck(_Located):
    """A quote that was found in the article."""

    path: str = Field(description="Where the quote sits in the summary, e.g. 'key_facts[0].quote'.")
    quote: str = Field(description="The quote as the model gave it.")
    match: QuoteMatch = Field(
        description="exact: verbatim; normalised: equal after folding case, whitespace, quote marks and "
        "dashes; fuzzy: a near-exact match (score >= the fuzzy threshold)."
    )
    score: float = Field(description="Similarity to the best matching article span, 0-100.")
    start: int | None = _offset("Character offset where the matched article text begins (article[start:end]); null when unknown.")
    end: int | None = _offset("Character offset just past the matched article text; null when unknown.")


class DroppedItem(_Strict):
    """An item kept out of the summary because it could not be grounded in the article."""

    path: str = Field(description="Where the item was in the model's last reply, e.g. 'stances[1]'.")
    reason: str = Field(description="Why it was kept out.")
    item: str = Field(description="The item as the model gave it (JSON).")


class Grounding(_Strict):
    """Which quotes and names were verified against the article text."""

    # warnings is optional in the published schema too: a document from before 1.3 still validates.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=False)

    verified: list[QuoteCheck] = Field(description="Quotes found in the article.")
    unverified: list[DroppedItem] = Field(description="Items kept out of the summary after the last attempt.")
    grounding_rate: float = Field(description="Share of the last reply's quotes that were found in the article (0-1).")
    fuzzy_matches: int = Field(description="How many verified quotes matched only fuzzily.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Problems with the article itself, e.g. instruction-like text (a prompt injection) that was "
        "withheld from the model and from quotes and names. Empty when there are none.",
    )


class Attempt(_Strict):
    """One request/reply exchange with the model, kept so users can see why a retry happened."""

    number: int = Field(description="1-based attempt number within the run.")
    messages: list[dict[str, Any]] = Field(description="The chat messages sent.")
    reply: str | None = Field(description="The raw reply text, or null when no reply came back.")
    finish_reason: str | None = Field(description="The finish reason the server gave.")
    errors: list[str] = Field(description="Problems found in the reply (empty when it was accepted).")
    usage: Usage = Field(description="Tokens for this attempt alone.")
    latency_s: float = Field(description="Seconds from request to reply, transport retries included.")
    transport_retries: int = Field(0, description="Transport retries this attempt needed.")


class ArticleSummary(SummaryDraft):
    """A grounded, schema-checked structured summary of one article, with its provenance."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"$id": ARTICLE_SUMMARY_ID},
    )

    # The same lists as the draft's, with each quote's place in the article added after grounding.
    key_facts: _key_facts(LocatedKeyFact)
    stances: _stances(LocatedStance)
    provenance: Provenance = Field(description="How this summary was produced.")
    grounding: Grounding = Field(description="What was verified against the article.")

    @field_validator("key_facts", "stances", mode="before")
    @classmethod
    def _accept_drafted_items(cls, values: Any) -> Any:
        # Code written for 1.0 builds a summary from plain KeyFact/Stance items: they are taken
        # as located items whose place is unknown, not refused.
        if not isinstance(values, list):
            return values
        return [v.model_dump() if isinstance(v, (KeyFact, Stance)) else v for v in values]


ARTICLE_ERROR_ID = f"urn:summariser:schema:article-error:{SCHEMA_VERSION}"


class ArticleErrorDetail(BaseModel):
    """Why one article has no summary."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(description="The article's file or URL as given; null for stdin.")
    kind: str = Field(description="The error class, e.g. 'SummaryFailed', 'TransportError', 'InputError'.")
    message: str = Field(description="The one-line error, as printed after 'Error:'.")
    attempts: int = Field(
        description="Attempts recorded for this article, as `summariser runs show` lists them: each reply, and a request that got none (0: nothing was sent)."
    )


class ArticleError(BaseModel):
    """The JSON Lines record ``summarise --format json`` prints for an article that failed, in
    place of its summary, so a script can tell a failed article from a missing one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"$id": ARTICLE_ERROR_ID},
    )

    error: ArticleErrorDetail = Field(description="What went wrong.")


def strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [strip_titles(v) for v in node]
    return node


@cache
def draft_json_schema() -> dict[str, Any]:
    """The JSON Schema sent to the model (strict-mode compatible, titles stripped to save tokens)."""
    return strip_titles(SummaryDraft.model_json_schema())


def evidence_last(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a draft schema whose ``KeyFact`` and ``Stance`` ask for the claim before the quote.

    Field order is generation order for a grammar-constrained model; validation ignores it."""
    defs = dict(schema["$defs"])
    for name in ("KeyFact", "Stance"):
        if name not in defs:
            continue
        definition = dict(defs[name])
        props = definition["properties"]
        definition["properties"] = {**{k: v for k, v in props.items() if k != "quote"}, "quote": props["quote"]}
        definition["required"] = [*(k for k in definition["required"] if k != "quote"), "quote"]
        defs[name] = definition
    return dict(schema, **{"$defs": defs})


@cache
def draft_schema_text() -> str:
    """Compact JSON text of the draft schema, for prompts in json_object mode."""
    return json.dumps(draft_json_schema(), separators=(",", ":"))


_STEERING_KEYWORDS = frozenset({"minItems", "pattern"})


def _strip_steering(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_steering(v) for k, v in node.items() if k not in _STEERING_KEYWORDS}
    if isinstance(node, list):
        return [_strip_steering(v) for v in node]
    return node


def output_json_schema(model: type[BaseModel] = ArticleSummary) -> dict[str, Any]:
    """The published JSON Schema of an output model (what exports are validated against).

    ``minItems`` and ``pattern`` only steer the model's grammar; a finished result may hold fewer
    items (what cannot be grounded is kept out) and text from other engines."""
    return _strip_steering(model.model_json_schema(mode="serialization"))


# --------------------------------------------------------------------------------------------
# Briefings: many article summaries -> one briefing.
#
# ``BriefingDraft`` is what the model writes (strict-mode schema, like ``SummaryDraft``);
# ``Briefing`` adds what summariser derives itself: the article list, the who's who and the
# stance overview (merged deterministically from the summaries), failures and provenance.

BRIEFING_SCHEMA_VERSION = "1.1"
BRIEFING_ID = f"urn:summariser:schema:briefing:{BRIEFING_SCHEMA_VERSION}"

_ArticleId = _capped_str(8, "An article id from the input, e.g. 'a3'.")


class BriefingEvidence(_Strict):
    """A verbatim phrase from one cited article's summary that backs a story."""

    article_id: _ArticleId
    quote: _capped_str(240, "A short phrase copied exactly from that article's headline, summary or facts.")


class BriefingStory(_Strict):
    """One top story: a synthesis of what one or more articles report."""

    headline: _capped_str(140, "One line naming the story.")
    synthesis: _capped_str(700, "Two to four sentences combining what the cited articles report.")
    article_ids: _capped_list(_ArticleId, 12, "Ids of the articles this story rests on, most relevant first.", min_items=1)
    evidence: _capped_list(BriefingEvidence, 3, "Up to three phrases from the cited articles backing the story; may be empty.")


class BriefingTheme(_Strict):
    """A theme grouping related articles."""

    name: _capped_str(80, "A short name for the theme, e.g. 'Energy prices'.")
    summary: _capped_str(300, "One or two sentences on what the articles in this theme have in common.")
    article_ids: _capped_list(_ArticleId, 30, "Ids of the articles in this theme.", min_items=1)


class BriefingPersonNote(_Strict):
    """Why one participant matters in this briefing."""

    name: _capped_str(80, "A name from the list of participants given in the request.")
    note: _capped_str(200, "One sentence on this participant's part in today's news.")


class BriefingDraft(_Strict):
    """A briefing over many article summaries, as the model writes it."""

    overview: _capped_str(600, "Two to four sentences: the most important news across all articles.")
    top_stories: _capped_list(BriefingStory, 10, "The most important stories, most important first.", min_items=1)
    themes: _capped_list(BriefingTheme, 8, "Themes that group related articles; may be empty.")
    key_people: _capped_list(BriefingPersonNote, 10, "Notes on the most important participants; may be empty.")


class StoryDraft(_Strict):
    """One story's headline and synthesis, as the model writes it from that story's summaries alone."""

    headline: _capped_str(140, "One line naming the story.")
    synthesis: _capped_str(700, "Two to four sentences combining what the story's articles report.")
    evidence: _capped_list(BriefingEvidence, 3, "Up to three phrases from the story's articles backing it; may be empty.")


class _Since(_Strict):
    # Fields added in briefing schema 1.1 are optional in the published schema: a 1.0 document
    # (read back as the previous briefing) still validates.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=False)


class BriefingArticle(_Since):
    """One article the briefing rests on."""

    id: str = Field(description="Short id used for citations within this briefing, e.g. 'a3'.")
    title: str | None = Field(description="The article's title, when known.")
    source: str | None = Field(description="File path or URL the article was read from.")
    sha256: str = Field(description="sha256 of the article text (hex).")
    published: datetime | None = Field(description="Publication time when known (UTC, ISO 8601).")
    headline: str = Field(description="The headline of the article's summary.")
    cached: bool = Field(description="True when the summary came from the run store without a model call.")
    site: str | None = Field(None, description="The publisher: the site name the page or feed gives, else the URL's host without 'www.'; null for files and text.")
    from_teaser: bool = Field(False, description="True when the article is a feed entry's own teaser text: its link could not be fetched.")
    teaser_reason: str | None = Field(None, description="Why the feed entry's link could not be used, when from_teaser is true.")


StoryStatus = Literal["new", "developing", "unchanged"]


class StorySignals(_Strict):
    """The code-visible signals a story is ranked by (higher score first)."""

    articles: int = Field(description="How many articles report the story.")
    sites: int = Field(description="How many distinct sources (sites, or files) report it.")
    latest: datetime | None = Field(description="The newest publish time among its articles, when any is known.")
    recency: float = Field(description="0-1: where the newest article sits between the briefing's oldest and newest (0 when unknown).")
    prominence: float = Field(description="How widely the story's participants appear across the whole briefing (0 = nowhere else).")
    model_rank: int | None = Field(description="Where the model's own ranking put it (1 = first), when it ranked it.")
    score: float = Field(description="The ranking score made of the signals above.")


class Story(_Strict):
    """Articles grouped by code into one story (shared participants, places, facts, time); words by the model."""

    id: str = Field(description="Short id within this briefing, e.g. 's1' (rank order).")
    headline: str = Field(description="One line naming the story.")
    synthesis: str = Field(description="What the story's articles report, combined.")
    article_ids: list[str] = Field(description="Every article of the story; each article is in exactly one story.")
    evidence: list[BriefingEvidence] = Field(description="Verified phrases from the story's articles.")
    written_by: Literal["model", "summary"] = Field(
        description="model: headline and synthesis written by the model from the story's summaries; "
        "summary: taken from the article's own summary (one-article stories, or when the story call failed)."
    )
    written_from: list[str] = Field(description="The articles whose summaries the synthesis was written from (all of them unless the story did not fit one call).")
    participants: list[str] = Field(description="The story's participants (who's-who names), most prominent first.")
    places: list[str] = Field(description="Places and countries the story's articles name.")
    theme: str | None = Field(description="The theme the story is grouped under, when the model's themes cover it.")
    signals: StorySignals = Field(description="What the story was ranked by.")
    status: StoryStatus | None = Field(
        description="Compared with the previous briefing: new (no article seen before), developing (new articles on a "
        "known story), unchanged (no new article); null when there is no previous briefing."
    )
    new_article_ids: list[str] = Field(description="Articles not in the previous briefing (all of them for a new story).")
    change: str | None = Field(description="What changed since the previous briefing, in one line (developing stories).")


class DroppedStory(_Strict):
    """A story of the previous briefing none of whose articles is in this one."""

    headline: str = Field(description="The story's headline in the previous briefing.")
    articles: int = Field(description="How many articles it had.")


class BriefingChanges(_Strict):
    """What is new since the previous briefing."""

    previous: str | None = Field(description="The previous briefing compared with (its file name), or null when there was none.")
    previous_created_at: datetime | None = Field(description="When the previous briefing was produced.")
    new: int = Field(description="Stories none of whose articles were in the previous briefing.")
    developing: int = Field(description="Known stories with new articles.")
    unchanged: int = Field(description="Stories with no new article.")
    dropped: list[DroppedStory] = Field(description="Stories of the previous briefing that are gone.")


class WhoEntry(_Strict):
    """A participant merged across articles by same name or alias (done by summariser, not the model)."""

    name: str = Field(description="The name used most often across the articles.")
    kind: ParticipantKind = Field(description="The kind given most often across the articles.")
    aliases: list[str] = Field(description="Other names and aliases used for this participant.")
    roles: list[str] = Field(description="Roles the articles give this participant (at most five).")
    article_ids: list[str] = Field(description="Articles that mention this participant.")
    note: str | None = Field(description="The model's note on this participant, when it wrote one.")


class StanceEntry(_Strict):
    """A position reported in one article, with the evidence (taken from the summaries as is)."""

    holder: str = Field(description="Who holds the position: the merged who's-who name.")
    target: str = Field(description="What the position is about.")
    position: StancePosition = Field(description="supports, opposes, neutral, or mixed.")
    article_id: str = Field(description="The article reporting the position.")
    quote: str = Field(description="The verified quote from that article.")


FailureStage = Literal["collect", "summarise", "briefing"]


class BriefingFailure(_Strict):
    """An input or step that failed; the rest of the briefing was still produced."""

    source: str = Field(description="The article, feed entry or briefing chunk that failed.")
    sha256: str | None = Field(description="sha256 of the article text, when it was read.")
    stage: FailureStage = Field(description="collect: could not be read; summarise: no valid summary; briefing: a briefing call failed.")
    reason: str = Field(description="Why it failed, in one line.")


class BriefingProvenance(_Since):
    """How this briefing was produced: enough to reproduce and audit it."""

    prompt: str = Field(description="Briefing prompt template name, e.g. 'briefing'.")
    prompt_version: int = Field(description="Briefing prompt template version.")
    prompt_sha256: str = Field(description="sha256 of the briefing prompt template file.")
    article_prompt: str = Field(description="The article prompt as name@version.")
    story_prompt: str | None = Field(None, description="The story prompt as name@version (stories of two or more articles).")
    schema_version: str = Field(description="Version of the briefing schema.")
    model: str = Field(description="Model name as sent to the endpoint.")
    endpoint: str = Field(description="Endpoint host (never a key).")
    input_sha256: list[str] = Field(description="sha256 of every summarised article text, in article id order.")
    stages: int = Field(description="Aggregation stages: 1 when all summaries fit the context budget, more for map-reduce.")
    briefing_calls: int = Field(description="Model replies received for briefing calls in this run (0 when all were cached).")
    article_calls: int = Field(description="Model replies received for article summaries in this run (0 when all were cached).")
    usage: Usage = Field(description="Tokens summed over every article summary (cached ones at their original cost), failed article attempts and briefing calls.")
    context_budget: int = Field(description="Context budget in tokens used to decide on map-reduce.")
    duration_s: float = Field(description="Wall time of the run, in seconds.")
    created_at: datetime = Field(description="When the briefing was produced (UTC, ISO 8601).")


class Briefing(BriefingDraft):
    """A briefing over many articles, with citations, derived overviews, failures and provenance."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_serialization_defaults_required=False,
        json_schema_extra={"$id": BRIEFING_ID},
    )

    title: str = Field(description="The briefing's title.")
    since: datetime | None = Field(description="Only articles from this time on were included (null: no limit).")
    window_start: datetime | None = Field(None, description="Start of the time window covered: since, else the oldest known publish time.")
    window_end: datetime | None = Field(None, description="End of the time window covered: when the briefing was produced.")
    changes: BriefingChanges | None = Field(None, description="What is new since the previous briefing (null when none was compared).")
    stories: list[Story] = Field(default_factory=list, description="Every article grouped into exactly one story, ranked by code; top_stories is the first ten of these.")
    articles: list[BriefingArticle] = Field(description="The summarised articles, in id order.")
    who_is_who: list[WhoEntry] = Field(description="Participants merged across articles, most mentioned first.")
    stances: list[StanceEntry] = Field(description="Who supports or opposes what, with the article and quote behind each.")
    failures: list[BriefingFailure] = Field(description="Articles and steps that failed, and why.")
    dropped: list[DroppedItem] = Field(description="Items the model wrote that cited unknown articles or quotes, kept out.")
    provenance: BriefingProvenance = Field(description="How this briefing was produced.")


@cache
def briefing_draft_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``BriefingDraft`` sent to the model (strict-mode, titles stripped)."""
    return strip_titles(BriefingDraft.model_json_schema())


@cache
def briefing_draft_schema_text() -> str:
    return json.dumps(briefing_draft_json_schema(), separators=(",", ":"))


@cache
def story_draft_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``StoryDraft`` sent to the model (strict-mode, titles stripped)."""
    return strip_titles(StoryDraft.model_json_schema())


@cache
def story_draft_schema_text() -> str:
    return json.dumps(story_draft_json_schema(), separators=(",", ":"))
