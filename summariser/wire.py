"""The compact reply format of evidence-by-reference prompts (``reply = "refs"``, article@6).

The model sees the article as numbered sentences and answers in a small JSON object that holds
only what needs judgement: a headline, the numbers of the sentences that state the key facts,
participants (name, kind, role), stances that cite a sentence number, and a short summary. No
quote is copied, no alias or offset is asked for: code fills in each quote verbatim from the
cited sentence, with its offsets, so quotes are grounded by construction (the support check
still runs). A key fact's statement is its sentence, dateline removed: asked to restate facts
"in its own words", the 1.5B model copied the sentences anyway, at ~40 tokens a fact.

A re-ask names only the items that failed and asks for replacements of those alone
(``repair_schema``, ``repair_message``); ``merge`` puts them back in place. Pure functions, no I/O.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .schema import ParticipantKind, StancePosition, SummaryDraft, strip_titles
from .sentences import quote_for, split_sentences

REPLY_SCHEMA_NAME = "article_refs"
REPAIR_SCHEMA_NAME = "article_repair"
SUMMARY_MAX_WORDS = 60
QUOTE_MAX_CHARS = 200  # KeyFact.quote / Stance.quote caps of the public schema

# Caps of the wire strings. A grammar-constrained model that reaches one is cut off mid-word;
# ``fit_text`` then steps back to the last whole sentence or word.
CAPS = {"headline": 100, "summary": 340, "name": 60, "role": 40, "target": 60}
MIN_FACTS, MAX_FACTS, MAX_PARTICIPANTS, MAX_STANCES = 3, 4, 8, 3
# Completion tokens a repair may use: a short object per replaced item.
REPAIR_TOKENS_BASE, REPAIR_TOKENS_PER_ITEM = 24, 64

_KINDS = {"key_facts": "facts", "participants": "participants", "stances": "stances"}
_ITEM = re.compile(r"^(key_facts|participants|stances)\[(\d+)\]$")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]?(?=\s|$)")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


def _text(cap: str, description: str, pattern: str | None = None) -> Any:
    extra: dict[str, Any] = {"maxLength": CAPS[cap]}
    if pattern:
        extra["pattern"] = pattern
    return Field(description=description, json_schema_extra=extra)


# No straight double quote inside the text, and the summary ends a sentence: a grammar-constrained
# model that writes a quotation mark closes the JSON string there (4 of the first 10 eval
# summaries ended mid-sentence so: "... was honored for their"); with the pattern the grammar
# also makes a summary that reaches its cap end in a full stop.
_NO_QUOTE = '^[^"]*$'
_SENTENCES = '^[^"]*[.!?]$'


class WireParticipant(_Wire):
    name: str = _text("name", "The name exactly as the article writes it.")
    kind: ParticipantKind = Field(description="person, organisation, country, place, group, or other.")
    role: str = _text("role", "What this participant does in the story, in a few words.")


class WireStance(_Wire):
    holder: str = _text("name", "A participant name.")
    target: str = _text("target", "What the position is about.")
    position: StancePosition = Field(description="supports, opposes, neutral, or mixed.")
    n: int = Field(description="The number of the sentence that shows the position.")


class WireReply(_Wire):
    """What the model writes for a whole article. Field order is generation order: the summary
    comes last, written after the facts (written first, the 1.5B model copied the opening
    sentences into it)."""

    headline: str = _text("headline", "One line.", _NO_QUOTE)
    facts: list[int] = Field(description="Numbers of the sentences that state the most important facts.", json_schema_extra={"minItems": MIN_FACTS, "maxItems": MAX_FACTS})
    participants: list[WireParticipant] = Field(json_schema_extra={"minItems": 1, "maxItems": MAX_PARTICIPANTS})
    stances: list[WireStance] = Field(json_schema_extra={"maxItems": MAX_STANCES})
    summary: str = _text("summary", f"Two or three short sentences, at most {SUMMARY_MAX_WORDS} words.", _SENTENCES)


class WireRepair(_Wire):
    """What the model writes to repair some items: replacements, per list, for the failed ones."""

    facts: list[int] = Field(default_factory=list)
    participants: list[WireParticipant] = Field(default_factory=list)
    stances: list[WireStance] = Field(default_factory=list)


def _with_counts(schema: dict[str, Any], max_facts: int, max_stances: int) -> dict[str, Any]:
    """The reply schema with the prompt's own caps on facts and stances (prompt options
    ``max_facts``, ``max_stances``); the class defaults need no change."""
    if (max_facts, max_stances) == (MAX_FACTS, MAX_STANCES):
        return schema
    properties = dict(schema["properties"])
    properties["facts"] = dict(properties["facts"], maxItems=max_facts)
    properties["stances"] = dict(properties["stances"], maxItems=max_stances)
    return dict(schema, properties=properties)


def _with_sentences(schema: dict[str, Any], sentences: int | None) -> dict[str, Any]:
    """The schema with every sentence number limited to 1..``sentences`` (the grammar then
    cannot cite a sentence that does not exist)."""
    if not sentences:
        return schema
    number = {"type": "integer", "enum": list(range(1, sentences + 1))}
    defs = dict(schema.get("$defs", {}))
    if "WireStance" in defs:
        definition = dict(defs["WireStance"])
        definition["properties"] = dict(definition["properties"], n=number)
        defs["WireStance"] = definition
    properties = dict(schema["properties"])
    if "facts" in properties:
        properties["facts"] = dict(properties["facts"], items=number)
    return dict(schema, properties=properties, **({"$defs": defs} if defs else {}))


@cache
def _base_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema without titles, made once (every request needs one)."""
    return strip_titles(model.model_json_schema())


def reply_schema(sentences: int | None = None, *, max_facts: int = MAX_FACTS, max_stances: int = MAX_STANCES) -> dict[str, Any]:
    """The JSON Schema of a whole reply (strict-mode compatible); a new dict on every call."""
    schema = _with_counts(copy.deepcopy(_base_schema(WireReply)), max_facts, max_stances)
    return _with_sentences(schema, sentences)


def schema_text(*, max_facts: int = MAX_FACTS, max_stances: int = MAX_STANCES) -> str:
    """Compact schema text for prompts in json_object mode."""
    return json.dumps(reply_schema(max_facts=max_facts, max_stances=max_stances), separators=(",", ":"))


def repair_schema(counts: dict[str, int], sentences: int | None = None) -> dict[str, Any]:
    """The schema of a repair reply: only the lists that have failed items, each holding at
    most as many replacements as failed (none is forced: no replacement drops the item)."""
    schema = _base_schema(WireRepair)  # only read: the repair schema is built from new dicts
    props = {}
    for key in ("facts", "participants", "stances"):
        if counts.get(key):
            props[key] = dict(schema["properties"][key], maxItems=counts[key])
            props[key].pop("default", None)
    used = {p["items"]["$ref"].rsplit("/", 1)[1] for p in props.values() if "$ref" in p["items"]}
    defs = {k: v for k, v in schema["$defs"].items() if k in used}
    repaired = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    if defs:
        repaired["$defs"] = defs
    return _with_sentences(repaired, sentences)


def repair_tokens(counts: dict[str, int]) -> int:
    return REPAIR_TOKENS_BASE + REPAIR_TOKENS_PER_ITEM * sum(counts.values())


def dump(reply: WireReply) -> str:
    """A reply as the compact grammar has the model write it (no whitespace)."""
    return json.dumps(reply.model_dump(), ensure_ascii=False, separators=(",", ":"))


# -- mapping onto the public contract -----------------------------------------------------------


# A grammar that must end a string with a full stop (the summary's pattern) and cut it at its
# maxLength writes the stop one character short of the cap: "... drew closer to counterb." So a
# string that comes within this many characters of its cap counts as cut.
CUT_MARGIN = 2
# Words a cut headline must not end on ("... on Washington's anti-Russian and").
_DANGLING = frozenset(
    "a an the and or but nor of to in on at by for from with as into over than that which who "
    "whose while its their his her is are was were be been has have had will would must can "
    "could should may might shall not no about against between through under after before "
    "without within during including".split()
)


def _drop_dangling(words: list[str]) -> str:
    """``words`` joined, without trailing words a cut text must not end on ("and", "of", "must")
    or bare punctuation; the first word always stays."""
    while len(words) > 1 and words[-1].strip(" ,;:-–—").casefold() in _DANGLING | {""}:
        words = words[:-1]
    return " ".join(words).rstrip(" ,;:-–—")


def _without_stub(text: str) -> str:
    """``text`` without an unfinished last sentence ("... in Hawaii. The .", "... It was the ."):
    a grammar that must end the summary on a full stop lets the model close a sentence it had
    just begun, so one of a single word, or ending on "the"/"of"/"and", is dropped."""
    spans = split_sentences(text)
    words = re.findall(r"\w+", spans[-1].text) if len(spans) > 1 else []
    if words and (len(words) < 2 or words[-1].casefold() in _DANGLING):
        return text[: spans[-2].end].strip()
    return text


def fit_text(text: str, *, cap: int | None = None, max_words: int | None = None, sentences: bool = True) -> str:
    """``text`` without a word cut in half: when it reached ``cap`` (a grammar cuts there,
    mid-word) or has more than ``max_words`` words, it ends at its last whole sentence within
    the limit (``sentences``; "U.S." and "Mr." end none, see sentences.py), else (one long
    sentence, or a headline) at its last whole word that is not a dangling "and"/"of"/"the"."""
    text = " ".join(text.split())
    if sentences:
        text = _without_stub(text)
    cut = cap is not None and len(text) >= cap - CUT_MARGIN
    words = text.split(" ") if text else []
    if cut and words:
        words = words[:-1]  # the last word may be cut in half
    if max_words is not None and len(words) > max_words:
        words, cut = words[:max_words], True
    if not cut:
        return text
    head = " ".join(words)
    if sentences:
        whole = [span for span in split_sentences(head) if _SENTENCE_END.search(span.text[-3:])]
        if whole:  # whole sentences rather than a dangling one
            return head[: whole[-1].end].strip()
    return _drop_dangling(words)


def clip(text: str, cap: int) -> str:
    """The longest prefix of ``text`` within ``cap`` characters that ends at a clause break
    (comma, semicolon, dash) in its second half, else at a word end, never on a dangling
    "and"/"of"; ``text`` itself when it fits. A prefix, so a clipped quote stays verbatim."""
    if len(text) <= cap:
        return text
    head = text[: cap + 1]
    head = head[: head.rfind(" ")] if " " in head else text[:cap]
    clause = max(head.rfind(mark) for mark in (", ", "; ", " – ", " — ", " - "))
    if clause >= cap // 2:
        head = head[:clause]
    return _drop_dangling(head.split(" "))


def sentence_quote(text: str, n: int) -> tuple[str, int, int] | None:
    """The verbatim text of sentence ``n`` and its offsets, clipped to the public quote cap
    (``clip``: still verbatim, a prefix of the sentence); None for a number not in the article."""
    try:
        quote, start, _ = quote_for(text, n)
    except ValueError:
        return None
    trimmed = clip(quote, QUOTE_MAX_CHARS)
    return trimmed, start, start + len(trimmed)


_DATELINE = re.compile(r"^(?:[A-Z][A-Za-z.,' ]*)?\((?:Reuters|AP|AFP|CNN|Reuters Health|Bloomberg)\)\s*[-–—]*\s*")


def statement_for(sentence: str) -> str:
    """A key fact's statement: its whole sentence on one line, without a leading dateline
    ("WASHINGTON (Reuters) - "); one longer than the public cap is clipped and ends in " …", so a
    reader sees that it goes on (its quote is the verbatim prefix)."""
    text = " ".join(sentence.split())
    text = _DATELINE.sub("", text, count=1) or text
    if len(text) <= QUOTE_MAX_CHARS:
        return text
    return clip(text, QUOTE_MAX_CHARS - 2) + " …"


@cache
def _date_word() -> re.Pattern[str]:
    # Compiled on first use, by the first summary: at import it cost ~4 M instructions (callgrind)
    # of every `import summariser`, including the CLI's start-up for --help (issue 13).
    return re.compile(r"(?i)^(?:mon|tues|wednes|thurs|fri|satur|sun)day$|^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?$"
    r"|^\d{1,4}(?:st|nd|rd|th)?$|^(?:updated|published|posted|utc|gmt|am|pm|[0-9:.]+)$")


def is_date_line(quote: str) -> bool:
    """A quote that only dates the article ("Tuesday, March 8, 2011"): the model cites such a
    line of a Wikinews page as a key fact; it states nothing."""
    words = re.findall(r"[\w:.]+", quote)
    return bool(words) and all(_date_word().match(w) for w in words)


_CREDIT_LINE = re.compile(r"^\W*(?:image|photo|photograph|picture|caption|credit|file photo|video)s?\s*:", re.IGNORECASE)


def is_credit_line(quote: str) -> bool:
    """A quote that credits a picture or names the reporters ("Image: Nick Moreau.", "(Reporting by
    ...)"): the model cites Wikinews captions as key facts; they state nothing about the story."""
    return bool(_CREDIT_LINE.match(quote) or _BYLINE.match(quote))


def drop_non_facts(key_facts: list[Any]) -> list[Any]:
    """The key facts without those that only date the article or credit a picture or its
    reporters, unless nothing else is left."""
    kept = [fact for fact in key_facts if not is_date_line(fact.quote) and not is_credit_line(fact.quote)]
    return kept or key_facts


# Sentences before and after a stance's cited sentence in which its holder must be named: a
# quote is often attributed a few sentences earlier ("Trump said ... . He added ... . "We will
# not ..."). Measured on stored article@8 replies (first 50 dev documents): with 2 sentences
# before, BASIL stance recall fell from 0.40 to 0.30; with 4 it stays 0.40.
ATTRIBUTION_BEFORE, ATTRIBUTION_AFTER = 4, 1


def attributed_stances(stances: list[Any], participants: list[Any], text: str) -> list[Any]:
    """The stances whose holder the article names in or near the cited sentence.

    The 1.5B model fills its stance list by pairing one cited sentence with several holders
    ("Putin supports Russia" on a sentence about Lavrov and Wang); a position the article gives
    a holder is written where that holder is named. A holder counts as named by its name, an
    alias, or (a person) the last word of either. A stance whose quote is not found is kept."""
    spans = split_sentences(text)
    forms: dict[str, set[str]] = {}
    for person in participants:
        names = {person.name, *person.aliases}
        if person.kind == "person":
            names |= {n.split()[-1] for n in names if n.split()}
        forms[person.name.casefold()] = {n for n in names if n}
    kept = []
    for stance in stances:
        at = text.find(stance.quote) if stance.quote else -1
        index = next((i for i, span in enumerate(spans) if span.start <= at < span.end), None)
        if at < 0 or index is None:
            kept.append(stance)
            continue
        window = text[spans[max(0, index - ATTRIBUTION_BEFORE)].start : spans[min(len(spans) - 1, index + ATTRIBUTION_AFTER)].end]
        names = forms.get(stance.holder.casefold(), {stance.holder})
        if any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", window, re.IGNORECASE) for name in names):
            kept.append(stance)
    return kept


def to_draft(reply: WireReply, text: str) -> tuple[SummaryDraft, dict[str, str]]:
    """The public ``SummaryDraft`` for a wire reply, item for item in the same order (so item
    ``key_facts[i]`` is ``facts[i]``), and the items whose cited sentence does not exist
    (their quote is left empty, which grounding reports)."""
    invalid: dict[str, str] = {}

    def quote(path: str, n: int) -> str:
        found = sentence_quote(text, n)
        if found is None:
            invalid[path] = f"sentence {n} does not exist"
            return ""
        return found[0]

    def fact(path: str, n: int) -> dict[str, str]:
        try:
            sentence = quote_for(text, n)[0]
        except ValueError:
            invalid[path] = f"sentence {n} does not exist"
            return {"quote": "", "statement": f"sentence {n}"}
        return {"quote": clip(sentence, QUOTE_MAX_CHARS), "statement": statement_for(sentence)}

    data = {
        "headline": fit_text(reply.headline, cap=CAPS["headline"], sentences=False),
        "summary": fit_text(reply.summary, cap=CAPS["summary"], max_words=SUMMARY_MAX_WORDS),
        "key_facts": [
            fact(f"key_facts[{i}]", n) for i, n in enumerate(reply.facts)
        ],
        "participants": [
            {"name": fit_text(p.name, cap=CAPS["name"]), "kind": p.kind, "role": fit_text(p.role, cap=CAPS["role"]), "aliases": []}
            for p in reply.participants
        ],
        "stances": [
            {"quote": quote(f"stances[{i}]", s.n), "holder": fit_text(s.holder, cap=CAPS["name"]),
             "target": fit_text(s.target, cap=CAPS["target"]), "position": s.position}
            for i, s in enumerate(reply.stances)
        ],
    }
    draft = SummaryDraft.model_validate(data)
    return draft, invalid


# -- repairs ------------------------------------------------------------------------------------


def failed_items(problems: list[Any]) -> dict[str, list[str]]:
    """Grounding problems grouped by the item they fail (``key_facts[1]`` -> its messages).
    Problems on an alias are filed under their participant (wire replies carry no aliases)."""
    by_item: dict[str, list[str]] = {}
    for problem in problems:
        if problem.item is None:
            continue
        item = problem.item.split(".aliases")[0]
        by_item.setdefault(item, []).append(_reason(problem))
    return by_item


def _reason(problem: Any) -> str:
    path, message = problem.path, problem.message
    if path.endswith(".holder"):
        return "the holder is not one of your participants: use a participant's name, or list the holder as a participant"
    if path.endswith(".name") or ".aliases" in path:
        return "this name does not occur in the article: write the name as the article does"
    if "does not mention" in message:
        return "the cited sentence does not say this: cite the sentence that states it"
    return "the cited sentence cannot be used: cite another sentence"


def counts(items: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for item in items:
        match = _ITEM.match(item)
        if match:
            key = _KINDS[match.group(1)]
            found[key] = found.get(key, 0) + 1
    return found


def repair_message(reply: WireReply, failed: dict[str, list[str]]) -> str:
    """The re-ask: the failed items, each with what is wrong, and a request for replacements of
    those items only."""
    payload = reply.model_dump()
    lines = [f"{len(failed)} item{'s' if len(failed) != 1 else ''} of your reply must be replaced:"]
    for item, reasons in failed.items():
        match = _ITEM.match(item)
        if not match:
            continue
        key, index = _KINDS[match.group(1)], int(match.group(2))
        shown = json.dumps(payload[key][index], ensure_ascii=False, separators=(",", ":"))
        lines.append(f"- {key}[{index}] {shown}: {reasons[0]}")
    wanted = ", ".join(f'"{k}": [...]' for k in counts(list(failed)))
    lines.append(
        f"Reply with a JSON object {{{wanted}}} holding one replacement for each of these items, "
        "or fewer when no sentence supports one. Keep the rest of your reply as it is: do not repeat it."
    )
    return "\n".join(lines)


def merge(reply: WireReply, failed: list[str], repair: WireRepair) -> WireReply:
    """``reply`` with the failed items replaced, in their places, by the repair's items in order;
    a failed item without a replacement is removed."""
    data = reply.model_dump()
    dumped = repair.model_dump()
    replacements = {key: dumped[key] for key in ("facts", "participants", "stances")}
    doomed: dict[str, set[int]] = {"facts": set(), "participants": set(), "stances": set()}
    for item in failed:
        match = _ITEM.match(item)
        if match:
            doomed[_KINDS[match.group(1)]].add(int(match.group(2)))
    for key, indices in doomed.items():
        fresh = iter(replacements[key])
        merged = []
        for i, value in enumerate(data[key]):
            if i in indices:
                new = next(fresh, None)
                if new is not None:
                    merged.append(new)
            else:
                merged.append(value)
        data[key] = merged
    return WireReply.model_construct(
        headline=data["headline"],
        summary=data["summary"],
        facts=[int(n) for n in data["facts"]],
        participants=[WireParticipant.model_construct(**p) for p in data["participants"]],
        stances=[WireStance.model_construct(**s) for s in data["stances"]],
    )


def dedupe(reply: WireReply) -> WireReply:
    """``reply`` without repeated items (small models repeat list items), so that item ``i`` of the
    reply is item ``i`` of the draft built from it (the draft drops repeats too)."""

    def unique(items: list[Any], key) -> list[Any]:
        seen, kept = set(), []
        for item in items:
            k = key(item)
            if k not in seen:
                seen.add(k)
                kept.append(item)
        return kept

    return WireReply.model_construct(
        headline=reply.headline,
        summary=reply.summary,
        facts=unique(reply.facts, lambda n: n),
        participants=unique(reply.participants, lambda p: " ".join(fit_text(p.name, cap=CAPS["name"]).casefold().split())),
        stances=unique(reply.stances, lambda s: (s.holder, s.target, s.position, s.n)),
    )


def with_holders(reply: WireReply, is_named: Any) -> WireReply:
    """``reply`` with each stance holder that is not one of its participants, but that the
    article names (``is_named``), listed as a participant of kind "other" (code relabels it from
    the article's words later). The 1.5B model often gives a stance to someone it did not list
    ("Chris Christie", or "Lavrov" beside "Sergei Lavrov"); a repair request for that costs a
    whole prefill and was answered with the same holders again. A holder the article names only
    by the last word ("Palin" for the model's "Sarah Palin") is renamed to that word."""
    from .grounding import normalise

    listed = {normalise(p.name) for p in reply.participants}
    added: list[WireParticipant] = []
    stances: list[WireStance] = []
    for stance in reply.stances:
        holder = stance.holder
        if normalise(holder) not in listed and not is_named(holder):
            last = holder.split()[-1] if len(holder.split()) > 1 else ""
            if last[:1].isupper() and len(last) >= 3 and normalise(last) not in _DANGLING and is_named(last):
                holder = last
                stance = WireStance.model_construct(**{**dict(stance), "holder": last})
        key = normalise(holder)
        if key and key not in listed and is_named(holder):
            added.append(WireParticipant.model_construct(name=holder, kind="other", role=""))
            listed.add(key)
        stances.append(stance)
    if not added:
        return reply
    # The draft's participant cap: the model's last picks that hold no stance make room.
    cap = _base_schema(SummaryDraft)["properties"]["participants"]["maxItems"]
    holders = {normalise(s.holder) for s in stances}
    own = list(reply.participants)
    while len(own) + len(added) > cap:
        spare = next((i for i in range(len(own) - 1, -1, -1) if normalise(own[i].name) not in holders), None)
        if spare is None:
            break
        del own[spare]
    return WireReply.model_construct(**{**dict(reply), "participants": [*own, *added], "stances": stances})


_BYLINE = re.compile(r"^\W*(?:reporting|writing|editing|additional reporting|compiled|edited|written) by\b", re.IGNORECASE)


def byline_only(reply: WireReply, text: str) -> list[int]:
    """Indices of participants named only in the article's byline sentences ("(Reporting by
    ... ; Editing by ...)"): the reporters and editors, whom the prompt asks to leave out and
    the 1.5B model lists anyway."""
    from .grounding import normalise

    sentences = [normalise(s.text) for s in split_sentences(text)]
    bylines = [s for s in sentences if _BYLINE.match(s)]
    if not bylines:
        return []
    others = [s for s in sentences if not _BYLINE.match(s)]
    found = []
    for i, person in enumerate(reply.participants):
        name = normalise(person.name)
        if name and any(name in s for s in bylines) and not any(name in s for s in others):
            found.append(i)
    return found


def sentence_count(text: str) -> int:
    return len(split_sentences(text))
