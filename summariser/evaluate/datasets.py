"""Eval datasets: the documents and their gold, read from the five JSONL formats of the eval set.

The format is detected from a record's fields (``detect_format``); each has its own parser, and
all of them yield ``EvalDoc`` with gold participants, reference facts (ACUs) or stances.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..namekey import POSSESSIVE_ANY
from .matching import _NON_CONTENT, _is_pronoun


@dataclass(frozen=True)
class GoldEntity:
    """One gold entity cluster: every way the article names it, and its kind."""

    mentions: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class GoldStance:
    """A named speaker's stance towards a target: polarity is pos, neg or neu."""

    speaker: str
    target: str
    polarity: str


@dataclass(frozen=True)
class EvalDoc:
    """One evaluation article and whatever gold it carries (None = not annotated for that)."""

    id: str
    dataset: str
    text: str
    gold_participants: list[GoldEntity] | None = None
    gold_acus: list[str] | None = None
    gold_stances: list[GoldStance] | None = None
    #: [start, end) of the annotated part of ``text`` (News-Fair); None = the whole text.
    eval_span: tuple[int, int] | None = None


# Kinds kept as participants: people, organisations and places (the schema's participant kinds).
GUM_KINDS = {"person": "person", "organization": "organisation", "place": "place"}
WIKIEVENTS_KINDS = {"PER": "person", "ORG": "organisation", "GPE": "country", "LOC": "place", "FAC": "place"}
NEWS_FAIR_KINDS = {"person": "person", "organization": "organisation", "location": "place"}

_FORMATS = (
    "RoSE (source + reference_acus)",
    "GUM (text + entities[].etype + n_human_summaries_mentioning)",
    "News-Fair (text + named_entities + evaluation_span)",
    "WikiEvents (text + entities[].type + events)",
    "BASIL (text + quote_stances)",
)


def detect_format(record: Mapping[str, Any]) -> str | None:
    """The dataset format a record's fields show: rose, gum, news_fair, wikievents, basil, or None."""
    if "source" in record and "reference_acus" in record:
        return "rose"
    if "named_entities" in record and "evaluation_span" in record:
        return "news_fair"
    if "quote_stances" in record and "text" in record:
        return "basil"
    entities = record.get("entities")
    if "text" in record and isinstance(entities, list):
        first = entities[0] if entities else {}
        if "etype" in first or ("human_summaries" in record and not entities):
            return "gum"
        if "events" in record:
            return "wikievents"
    return None


def load_dataset(path: str | Path, *, named_only: bool = True) -> list[EvalDoc]:
    """Read one eval JSONL file; the format is detected from the fields of its first record.

    ``named_only`` keeps only entity clusters the article names with a proper name (GUM and
    WikiEvents also annotate nominal clusters such as "the police" or "officials").
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"dataset {path} does not exist: pass a JSONL file from the eval set")
    dataset = path.stem
    docs: list[EvalDoc] = []
    fmt: str | None = None
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno} is not valid JSON ({exc.msg}): one JSON object per line") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{lineno} is not a JSON object: one JSON object per line")
            if fmt is None:
                fmt = detect_format(record)
                if fmt is None:
                    raise InputError(
                        f"{path}: unknown dataset format (fields {', '.join(sorted(record)[:8])}); "
                        f"expected one of: {'; '.join(_FORMATS)}"
                    )
            docs.append(_PARSERS[fmt](record, dataset, lineno, named_only))
    return docs


def load_datasets(paths: Iterable[str | Path], *, limit: int | None = None) -> list[EvalDoc]:
    """Load several eval files, keeping at most ``limit`` documents from each."""
    docs: list[EvalDoc] = []
    for path in paths:
        docs.extend(load_dataset(path)[:limit] if limit is not None else load_dataset(path))
    return docs


def _doc_id(record: Mapping[str, Any], lineno: int, *keys: str) -> str:
    for key in keys:
        if record.get(key) not in (None, ""):
            return str(record[key])
    return f"line{lineno}"


def _parse_rose(record: Mapping[str, Any], dataset: str, lineno: int, named_only: bool) -> EvalDoc:
    return EvalDoc(
        id=_doc_id(record, lineno, "example_id", "id"),
        dataset=dataset,
        text=record["source"],
        gold_acus=[str(acu) for acu in record["reference_acus"]],
    )


def _parse_gum(record: Mapping[str, Any], dataset: str, lineno: int, named_only: bool) -> EvalDoc:
    text = record["text"]
    gold = [
        GoldEntity(tuple(e["mentions"]), GUM_KINDS[e["etype"]])
        for e in record["entities"]
        if e.get("etype") in GUM_KINDS
        and e.get("n_human_summaries_mentioning", 0) >= 1
        and (not named_only or is_named_cluster(e["mentions"], text))
    ]
    return EvalDoc(id=_doc_id(record, lineno, "doc_id", "id"), dataset=dataset, text=text, gold_participants=gold)


def _parse_news_fair(record: Mapping[str, Any], dataset: str, lineno: int, named_only: bool) -> EvalDoc:
    text = record["text"]
    start, end = record["evaluation_span"]
    span = text[start:end]
    # Only entities annotated inside the span count; keep mentions that occur there.
    gold = []
    for entity in record["named_entities"]:
        mentions = tuple(m for m in entity["mentions"] if m in span)
        if mentions:
            gold.append(GoldEntity(mentions, NEWS_FAIR_KINDS.get(entity.get("type_group"), "other")))
    return EvalDoc(
        id=_doc_id(record, lineno, "id", "doc_id"),
        dataset=dataset,
        text=text,
        gold_participants=gold,
        eval_span=(int(start), int(end)),
    )


def _parse_wikievents(record: Mapping[str, Any], dataset: str, lineno: int, named_only: bool) -> EvalDoc:
    text = record["text"]
    gold = [
        GoldEntity(tuple(e["mentions"]), WIKIEVENTS_KINDS[e["type"]])
        for e in record["entities"]
        if e.get("type") in WIKIEVENTS_KINDS and (not named_only or is_named_cluster(e["mentions"], text))
    ]
    return EvalDoc(id=_doc_id(record, lineno, "doc_id", "id"), dataset=dataset, text=text, gold_participants=gold)


def _parse_basil(record: Mapping[str, Any], dataset: str, lineno: int, named_only: bool) -> EvalDoc:
    stances: list[GoldStance] = []
    for quote in record["quote_stances"]:
        speaker = str(quote.get("speaker") or "")
        if not speaker or speaker.startswith("other_"):
            continue  # unnamed speakers cannot be matched by name
        stance = GoldStance(speaker.replace("_", " "), str(quote["target"]).replace("_", " "), quote["polarity"])
        if stance not in stances:
            stances.append(stance)
    return EvalDoc(id=_doc_id(record, lineno, "id"), dataset=dataset, text=record["text"], gold_stances=stances)


_PARSERS: dict[str, Callable[[Mapping[str, Any], str, int, bool], EvalDoc]] = {
    "rose": _parse_rose,
    "gum": _parse_gum,
    "news_fair": _parse_news_fair,
    "wikievents": _parse_wikievents,
    "basil": _parse_basil,
}


def is_named_cluster(mentions: Iterable[str], text: str) -> bool:
    """True when some mention is a proper name: capitalised, and never written in lower case.

    "Taliban" or "U.S." count; "Military" (also "military") or "the police" do not.
    """
    mentions = list(mentions)
    written = set(mentions)
    for mention in mentions:
        if _is_pronoun(mention):
            continue
        words = [w for w in re.findall(r"[\w.&-]+", POSSESSIVE_ANY.sub("", mention)) if w.casefold() not in _NON_CONTENT]
        if not words or not all(w[0].isupper() or w[0].isdigit() for w in words):
            continue
        if not any(w[0].isupper() for w in words):
            continue
        lower = " ".join(words).lower()
        if lower not in written and not re.search(rf"(?<!\w){re.escape(lower)}(?!\w)", text):
            return True
    return False
