"""The output contract: Pydantic models for structured summaries.

Field names are a contract read by downstream tools, exports and evaluation; change them only
with a new ``SCHEMA_VERSION``. Two layers:

* ``SummaryDraft`` is what the model is asked to produce (its JSON Schema is sent to the model,
  so it follows OpenAI strict-mode rules: every property required, no additional properties).
* ``ArticleSummary`` is the draft plus what summariser adds: ``provenance`` and ``grounding``.

Strings and lists carry ``maxLength``/``maxItems`` caps so a grammar-constrained small model
cannot run on forever; a reply that reaches a cap is trimmed at a sentence or word boundary
instead of being re-asked (a re-ask costs a whole reply).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"
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

    statement: _capped_str(240, "One self-contained fact, in your own words, understandable without the article.")
    quote: _capped_str(240, "A verbatim span copied exactly from the article that supports the statement.")


class Participant(_Strict):
    """Someone or something that takes part in the story."""

    name: _capped_str(80, "The name exactly as the article writes it.")
    kind: ParticipantKind = Field(
        description="person, organisation, country (a state or its government), place, group, or other."
    )
    role: _capped_str(120, "What this participant does in this story, in a few words.")
    aliases: _capped_list(
        _capped_str(80, "Another name for the participant, exactly as the article writes it."),
        4,
        "Other names the article uses for this participant (e.g. 'Moscow' for Russia); may be empty.",
    )


class Stance(_Strict):
    """A position a participant takes towards someone or something, with evidence."""

    holder: _capped_str(80, "The participant who holds the position: one of the participant names.")
    target: _capped_str(120, "What the position is about: a participant, policy or claim.")
    position: StancePosition = Field(description="supports, opposes, neutral, or mixed.")
    quote: _capped_str(240, "A verbatim span copied exactly from the article that shows this position.")


class SummaryDraft(_Strict):
    """A structured summary of one news article, as the model writes it."""

    headline: _capped_str(140, "One line naming what happened.")
    summary: _capped_str(600, "Two to four sentences: what happened, who is involved, why it matters.")
    key_facts: _capped_list(KeyFact, 8, "The most important facts, each with a supporting quote.", min_items=1)
    participants: _capped_list(
        Participant,
        10,
        "People, organisations, countries and groups that take part in the story.",
        min_items=1,
    )
    stances: _capped_list(Stance, 6, "Positions participants take, each with a supporting quote; may be empty.")


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
    duration_s: float = Field(description="Wall time from first request to validated result, in seconds.")
    source: SourceInfo = Field(description="The article this summarises.")
    created_at: datetime = Field(description="When the summary was produced (UTC, ISO 8601).")


class QuoteCheck(_Strict):
    """A quote that was found in the article."""

    path: str = Field(description="Where the quote sits in the summary, e.g. 'key_facts[0].quote'.")
    quote: str = Field(description="The quote as the model gave it.")
    match: QuoteMatch = Field(
        description="exact: verbatim; normalised: equal after folding case, whitespace, quote marks and "
        "dashes; fuzzy: a near-exact match (score >= the fuzzy threshold)."
    )
    score: float = Field(description="Similarity to the best matching article span, 0-100.")


class DroppedItem(_Strict):
    """An item kept out of the summary because it could not be grounded in the article."""

    path: str = Field(description="Where the item was in the model's last reply, e.g. 'stances[1]'.")
    reason: str = Field(description="Why it was kept out.")
    item: str = Field(description="The item as the model gave it (JSON).")


class Grounding(_Strict):
    """Which quotes and names were verified against the article text."""

    verified: list[QuoteCheck] = Field(description="Quotes found in the article.")
    unverified: list[DroppedItem] = Field(description="Items kept out of the summary after the last attempt.")
    grounding_rate: float = Field(description="Share of the last reply's quotes that were found in the article (0-1).")
    fuzzy_matches: int = Field(description="How many verified quotes matched only fuzzily.")


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

    provenance: Provenance = Field(description="How this summary was produced.")
    grounding: Grounding = Field(description="What was verified against the article.")


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


@cache
def draft_json_schema() -> dict[str, Any]:
    """The JSON Schema sent to the model (strict-mode compatible, titles stripped to save tokens)."""
    return _strip_titles(SummaryDraft.model_json_schema())


@cache
def draft_schema_text() -> str:
    """Compact JSON text of the draft schema, for prompts in json_object mode."""
    return json.dumps(draft_json_schema(), separators=(",", ":"))


def output_json_schema(model: type[BaseModel] = ArticleSummary) -> dict[str, Any]:
    """The published JSON Schema of an output model (what exports are validated against)."""
    return model.model_json_schema(mode="serialization")
