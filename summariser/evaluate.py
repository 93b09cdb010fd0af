"""Evaluation: datasets, name matching, metrics, the NER baseline and side-by-side reports.

    docs = load_dataset("../shared/eval/gum_news_dev.jsonl")
    report = run_eval(docs, {"ner-baseline": ner_baseline()})
    print(report.to_markdown())

A *system* is a label (``article@2``, ``ner-baseline``) mapped to a function that turns an
``EvalDoc`` into an ``ArticleSummary`` (or a participants-only ``Prediction``). Every system is
scored by the same code, so prompt versions, models and the classic baseline sit in one table.

Scoring follows the eval set's README (``shared/eval/README.md``):

* Participants: a predicted participant (``name`` plus ``aliases``) matches a gold entity
  cluster when a normalised name equals a mention, is its acronym, is a token subset of it
  (either way: "Obama" ~ "Barack Obama"), or is a close fuzzy match. Pairs are assigned greedily,
  best match first; each cluster and each prediction matches once. Recall = matched clusters /
  clusters; precision = predictions that match some cluster / predictions; invented =
  predictions none of whose names occur in the article text.
* Key facts: an ACU counts as covered when its best rapidfuzz token-set similarity against the
  summary, its sentences and the key-fact statements reaches ``acu_threshold``, or, when a
  ``judge`` is given, when the judge says yes (both are reported, with their agreement, so the
  threshold can be calibrated against the judge).
* Stances: recall of named (speaker, target, polarity) triples; polarity accuracy on gold
  triples whose (speaker, target) pair some predicted stance matched.

A document the system failed on (a ``SummariserError``) scores 0 on the recall metrics, is left
out of precision/invented/grounding, and counts as not valid at the first attempt. Metrics that
do not apply (no gold of that kind, or a system that does not predict it) are ``None`` ("–").
"""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from .errors import InputError, SummariserError
from .ner import NER_LABELS, NER_MODEL_LABEL, entities, load_spacy
from .schema import ArticleSummary

__all__ = [
    "DEFAULT_ACU_THRESHOLD",
    "DEFAULT_NAME_FUZZY_THRESHOLD",
    "DocResult",
    "EvalDoc",
    "EvalReport",
    "GoldEntity",
    "GoldStance",
    "Judge",
    "NER_LABELS",
    "Prediction",
    "load_dataset",
    "load_datasets",
    "match_participants",
    "name_match_score",
    "ner_baseline",
    "normalise_name",
    "run_eval",
    "score_doc",
]

DEFAULT_ACU_THRESHOLD = 75.0
DEFAULT_NAME_FUZZY_THRESHOLD = 88.0

Judge = Callable[[str, str], bool]
"""``judge(acu, summary_text) -> bool``: does the summary support this atomic fact?"""


# ---------------------------------------------------------------------------------------------
# Datasets


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
        words = [w for w in re.findall(r"[\w.&-]+", _POSSESSIVE.sub("", mention)) if w.casefold() not in _NON_CONTENT]
        if not words or not all(w[0].isupper() or w[0].isdigit() for w in words):
            continue
        if not any(w[0].isupper() for w in words):
            continue
        lower = " ".join(words).lower()
        if lower not in written and not re.search(rf"(?<!\w){re.escape(lower)}(?!\w)", text):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Name matching

_PRONOUNS = frozenset(
    "i me my mine we us our ours you your yours he him his she her hers it its they them their theirs "
    "this that these those who whom which one ones itself himself herself themselves ourselves".split()
)
# Words that never identify an entity on their own: determiners, connectives and titles.
_NON_CONTENT = frozenset(
    "the a an of and for on in at to de la le du von van & mr mrs ms miss dr sir prof "
    "president prime minister sen senator rep gov governor former late".split()
)
_ACRONYM_SKIP = frozenset("of and for the on in at to de & la".split())
# Dotted acronyms only: "U.S.", "U.N", "D.C."; other dots split words ("attack.Then").
_DOTTED = re.compile(r"(?<!\w)(?:\w\.){1,}\w(?!\w)\.?")
_POSSESSIVE = re.compile(r"\s?['’]s\b|(?<=s)['’](?=\s|$)")


@lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """Case-folded, accents stripped, "'s" and a leading "the" removed, punctuation to spaces."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _POSSESSIVE.sub("", text.casefold())
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)  # U.S. -> us, U.N. -> un
    text = re.sub(r"[^\w]+", " ", text).strip()
    text = re.sub(r"^the\s+", "", text)
    return text


def _is_pronoun(name: str) -> bool:
    raw = name.strip()
    return raw.casefold() in _PRONOUNS and not (len(raw) > 1 and raw.isupper())  # "US" is no "us"


def _content_tokens(norm: str) -> tuple[str, ...]:
    return tuple(t for t in norm.split() if t not in _NON_CONTENT)


def _acronyms(norm: str) -> set[str]:
    tokens = norm.split()
    if len(tokens) < 2:
        return set()
    kept = [t[0] for t in tokens if t not in _ACRONYM_SKIP]
    # "FIRST" ~ "For Inspiration and Recognition of Science and Technology": a first "for" counts.
    return {"".join(t[0] for t in tokens), "".join(kept), tokens[0][0] + "".join(t[0] for t in tokens[1:] if t not in _ACRONYM_SKIP)}


def name_match_score(predicted: str, mention: str, *, fuzzy_threshold: float = DEFAULT_NAME_FUZZY_THRESHOLD) -> float:
    """How well a predicted name matches one gold mention: 0 = no match, higher = better.

    Tiers (best first): 4 equal after normalisation; 3 acronym ("UN" ~ "United Nations");
    2 token subset either way ("Obama" ~ "Barack Obama"; +0.5 when the shorter holds the longer's
    last word, i.e. a surname or head noun); 1 fuzzy ratio >= ``fuzzy_threshold``. The fraction
    after the tier is the string similarity, to order matches within a tier.
    """
    if _is_pronoun(predicted) or _is_pronoun(mention):
        return 0.0
    p, m = normalise_name(predicted), normalise_name(mention)
    if not p or not m:
        return 0.0
    similarity = fuzz.ratio(p, m) / 1000.0
    if p == m:
        return 4.0 + similarity
    compact_p, compact_m = p.replace(" ", ""), m.replace(" ", "")
    if (len(compact_p) >= 2 and " " not in p and compact_p in _acronyms(m)) or (
        len(compact_m) >= 2 and " " not in m and compact_m in _acronyms(p)
    ):
        return 3.0 + similarity
    pt, mt = _content_tokens(p), _content_tokens(m)
    if pt and mt:
        small, large = (pt, mt) if len(pt) <= len(mt) else (mt, pt)
        if set(small) <= set(large):
            return 2.0 + (0.5 if large[-1] in small else 0.0) + similarity
    if fuzz.ratio(p, m) >= fuzzy_threshold:
        return 1.0 + similarity
    return 0.0


def _cluster_score(names: Sequence[str], mentions: Sequence[str], fuzzy_threshold: float) -> float:
    return max(
        (name_match_score(n, m, fuzzy_threshold=fuzzy_threshold) for n in names for m in mentions),
        default=0.0,
    )


def match_participants(
    predicted: Sequence[Sequence[str]],
    clusters: Sequence[Sequence[str]],
    *,
    fuzzy_threshold: float = DEFAULT_NAME_FUZZY_THRESHOLD,
) -> tuple[dict[int, int], set[int]]:
    """Greedy best-first one-to-one matching of predictions (lists of names) to gold clusters.

    Returns ``(assigned, matching)``: ``assigned`` maps prediction index -> cluster index, each
    used once; ``matching`` holds every prediction index that matches *some* cluster (precision).
    """
    scores: list[tuple[float, int, int]] = []
    for i, names in enumerate(predicted):
        for j, mentions in enumerate(clusters):
            score = _cluster_score(names, mentions, fuzzy_threshold)
            if score > 0:
                scores.append((score, i, j))
    scores.sort(key=lambda s: (-s[0], s[1], s[2]))
    assigned: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in scores:
        if i not in assigned and j not in used:
            assigned[i] = j
            used.add(j)
    return assigned, {i for _, i, _ in scores}


def occurs_in(name: str, text_norm: str) -> bool:
    """Does the normalised ``name`` occur in already-normalised text, on word boundaries?"""
    norm = normalise_name(name)
    return bool(norm) and f" {norm} " in f" {text_norm} "


# ---------------------------------------------------------------------------------------------
# Predictions and per-document scores

_POLARITY = {"supports": "pos", "opposes": "neg", "neutral": "neu", "mixed": None}


@dataclass
class Prediction:
    """What scoring reads from a system's output; ``None`` fields were not predicted."""

    participants: list[list[str]] | None = None
    summary_text: str | None = None
    fact_texts: list[str] | None = None
    stances: list[tuple[list[str], str, str | None]] | None = None  # (holder names, target, polarity)
    grounding_rate: float | None = None
    attempts: int | None = None
    total_tokens: int | None = None
    seconds: float | None = None
    model: str | None = None
    prompt: str | None = None

    @classmethod
    def from_summary(cls, summary: ArticleSummary) -> "Prediction":
        participants = [[p.name, *p.aliases] for p in summary.participants]
        by_name = {normalise_name(p.name): names for p, names in zip(summary.participants, participants)}
        stances = [
            (by_name.get(normalise_name(s.holder), [s.holder]), s.target, _POLARITY[s.position])
            for s in summary.stances
        ]
        prov = summary.provenance
        return cls(
            participants=participants,
            summary_text=" ".join([summary.headline, summary.summary]).strip(),
            fact_texts=[k.statement for k in summary.key_facts],
            stances=stances,
            grounding_rate=summary.grounding.grounding_rate,
            attempts=prov.attempts,
            total_tokens=prov.usage.total_tokens,
            seconds=prov.duration_s,
            model=prov.model,
            prompt=f"{prov.prompt}@{prov.prompt_version}",
        )


@dataclass
class DocResult:
    """One system's scores on one document (None = not applicable)."""

    system: str
    dataset: str
    doc_id: str
    error: str | None = None
    participant_recall: float | None = None
    participant_precision: float | None = None
    invented_rate: float | None = None
    n_gold_participants: int | None = None
    n_predicted_participants: int | None = None
    keyfact_recall: float | None = None
    keyfact_recall_judge: float | None = None
    judge_agreement: float | None = None
    acu_scores: list[float] | None = None
    stance_recall: float | None = None
    stance_polarity_accuracy: float | None = None
    grounding_rate: float | None = None
    valid_first_attempt: float | None = None
    attempts: float | None = None
    tokens: float | None = None
    seconds: float | None = None
    model: str | None = None
    prompt: str | None = None


def _acu_score(acu: str, candidates: Sequence[str]) -> float:
    return max((fuzz.token_set_ratio(acu, c, processor=_fold) for c in candidates if c), default=0.0)


def _fold(text: str) -> str:
    return re.sub(r"[^\w]+", " ", normalise_name(text)).strip()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def score_doc(
    doc: EvalDoc,
    prediction: Prediction,
    *,
    system: str = "",
    acu_threshold: float = DEFAULT_ACU_THRESHOLD,
    fuzzy_threshold: float = DEFAULT_NAME_FUZZY_THRESHOLD,
    judge: Judge | None = None,
) -> DocResult:
    """Score one prediction against one document's gold."""
    result = DocResult(system=system, dataset=doc.dataset, doc_id=doc.id)
    if prediction.participants is not None:
        _score_participants(doc, prediction.participants, result, fuzzy_threshold)
    if doc.gold_acus and (prediction.summary_text is not None or prediction.fact_texts is not None):
        summary_text = prediction.summary_text or ""
        facts = prediction.fact_texts or []
        candidates = [summary_text, *_sentences(summary_text), *facts, " ".join(facts)]
        scores = [round(_acu_score(acu, candidates), 1) for acu in doc.gold_acus]
        fuzzy_hits = [s >= acu_threshold for s in scores]
        result.acu_scores = scores
        result.keyfact_recall = sum(fuzzy_hits) / len(scores)
        if judge is not None:
            judged_text = "\n".join([summary_text, *facts])
            judged = [bool(judge(acu, judged_text)) for acu in doc.gold_acus]
            result.keyfact_recall_judge = sum(judged) / len(judged)
            result.judge_agreement = sum(a == b for a, b in zip(fuzzy_hits, judged)) / len(judged)
    if doc.gold_stances and prediction.stances is not None:
        _score_stances(doc.gold_stances, prediction.stances, result, fuzzy_threshold)
    result.grounding_rate = prediction.grounding_rate
    if prediction.attempts is not None:
        result.attempts = float(prediction.attempts)
        result.valid_first_attempt = 1.0 if prediction.attempts == 1 else 0.0
    result.tokens = None if prediction.total_tokens is None else float(prediction.total_tokens)
    result.seconds = prediction.seconds
    result.model, result.prompt = prediction.model, prediction.prompt
    return result


def _score_participants(doc: EvalDoc, predicted: list[list[str]], result: DocResult, fuzzy_threshold: float) -> None:
    predicted = [[n for n in names if n and n.strip()] for names in predicted]
    predicted = [names for names in predicted if names]
    result.n_predicted_participants = len(predicted)
    text_norm = normalise_name(doc.text)
    if predicted:
        invented = [not any(occurs_in(n, text_norm) for n in names) for names in predicted]
        result.invented_rate = sum(invented) / len(predicted)
    if not doc.gold_participants:
        return  # not annotated for participants, or nothing to find: recall/precision undefined
    clusters = [list(e.mentions) for e in doc.gold_participants]
    result.n_gold_participants = len(clusters)
    assigned, matching = match_participants(predicted, clusters, fuzzy_threshold=fuzzy_threshold)
    result.participant_recall = len(assigned) / len(clusters)
    scored = range(len(predicted))
    if doc.eval_span is not None:
        # Gold covers only the span: judge precision only on names that occur inside it.
        span_norm = normalise_name(doc.text[doc.eval_span[0] : doc.eval_span[1]])
        scored = [i for i in scored if any(occurs_in(n, span_norm) for n in predicted[i])]
    scored = list(scored)
    if scored:
        result.participant_precision = sum(i in matching for i in scored) / len(scored)


def _target_matches(predicted_target: str, gold_target: str, fuzzy_threshold: float) -> bool:
    if name_match_score(predicted_target, gold_target, fuzzy_threshold=fuzzy_threshold) > 0:
        return True
    # A free-text target ("Obama's birth certificate") is about the gold entity when it holds its
    # last name / head word.
    gold_tokens = _content_tokens(normalise_name(gold_target))
    return bool(gold_tokens) and gold_tokens[-1] in normalise_name(predicted_target).split()


def _score_stances(
    gold: list[GoldStance],
    predicted: list[tuple[list[str], str, str | None]],
    result: DocResult,
    fuzzy_threshold: float,
) -> None:
    hits = pair_hits = 0
    for stance in gold:
        pairs = [
            polarity
            for holders, target, polarity in predicted
            if any(name_match_score(h, stance.speaker, fuzzy_threshold=fuzzy_threshold) > 0 for h in holders)
            and _target_matches(target, stance.target, fuzzy_threshold)
        ]
        if pairs:
            pair_hits += 1
            hits += stance.polarity in pairs
    result.stance_recall = hits / len(gold)
    result.stance_polarity_accuracy = hits / pair_hits if pair_hits else None


def _failure_result(system: str, doc: EvalDoc, exc: SummariserError, seconds: float) -> DocResult:
    result = DocResult(system=system, dataset=doc.dataset, doc_id=doc.id, error=f"{type(exc).__name__}: {exc}")
    # A failed document finds nothing: 0 on recall metrics, so failures cannot flatter a system.
    if doc.gold_participants:
        result.participant_recall = 0.0
    if doc.gold_acus:
        result.keyfact_recall = 0.0
    if doc.gold_stances:
        result.stance_recall = 0.0
    attempts = getattr(exc, "attempts", 0) or None
    result.attempts = float(attempts) if attempts else None
    result.valid_first_attempt = 0.0
    usage = getattr(exc, "usage", None)
    total = getattr(usage, "total_tokens", None)
    result.tokens = float(total) if total is not None else None
    result.seconds = seconds
    return result


# ---------------------------------------------------------------------------------------------
# Running and reporting

SystemFn = Callable[[EvalDoc], "ArticleSummary | Prediction"]


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    group: str
    kind: str = "rate"  # rate | number | count


METRICS: tuple[Metric, ...] = (
    Metric("participant_recall", "Participant recall", "Participants"),
    Metric("participant_precision", "Participant precision", "Participants"),
    Metric("invented_rate", "Invented participants (share not in the article)", "Participants"),
    Metric("keyfact_recall", "Key-fact recall (fuzzy)", "Key facts"),
    Metric("keyfact_recall_judge", "Key-fact recall (judge)", "Key facts"),
    Metric("judge_agreement", "Fuzzy vs judge agreement", "Key facts"),
    Metric("stance_recall", "Stance triple recall", "Stances"),
    Metric("stance_polarity_accuracy", "Polarity accuracy on matched pairs", "Stances"),
    Metric("grounding_rate", "Grounding rate", "Grounding and cost"),
    Metric("valid_first_attempt", "Schema-valid at first attempt", "Grounding and cost"),
    Metric("attempts", "Mean attempts", "Grounding and cost", "number"),
    Metric("tokens", "Tokens per article", "Grounding and cost", "count"),
    Metric("seconds", "Seconds per article", "Grounding and cost", "number"),
    Metric("failures", "Failures (documents)", "Grounding and cost", "count"),
)
OVERALL = "overall"
DASH = "\u2013"


@dataclass
class SystemInfo:
    label: str
    models: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class EvalReport:
    """Per-document results for every system, aggregated per dataset and overall on demand."""

    results: list[DocResult]
    systems: dict[str, SystemInfo]
    datasets: dict[str, int]
    acu_threshold: float = DEFAULT_ACU_THRESHOLD
    fuzzy_threshold: float = DEFAULT_NAME_FUZZY_THRESHOLD
    judge: bool = False
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def metrics(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """``{system: {dataset or "overall": {metric: macro mean over docs, or None}}}``."""
        table: dict[str, dict[str, dict[str, float | None]]] = {}
        for system in self.systems:
            rows = [r for r in self.results if r.system == system]
            table[system] = {ds: _aggregate([r for r in rows if r.dataset == ds]) for ds in self.datasets}
            table[system][OVERALL] = _aggregate(rows)
        return table

    def failures(self) -> list[DocResult]:
        return [r for r in self.results if r.error]

    def to_json(self) -> str:
        payload = {
            "created_at": self.created_at,
            "settings": {
                "acu_threshold": self.acu_threshold,
                "name_fuzzy_threshold": self.fuzzy_threshold,
                "judge": self.judge,
            },
            "datasets": self.datasets,
            "systems": {k: asdict(v) for k, v in self.systems.items()},
            "metrics": self.metrics(),
            "documents": [asdict(r) for r in self.results],
        }
        return json.dumps(payload, indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        metrics = self.metrics()
        columns = [*self.datasets, OVERALL]
        lines = [
            "# Evaluation report",
            "",
            f"Created {self.created_at}. Macro averages over documents; \u2013 = not applicable. "
            f"Key facts: fuzzy token-set threshold {self.acu_threshold:g}"
            + (", plus the LLM judge." if self.judge else " (no judge)."),
            "",
            "| system | model | prompt | docs | failures | time (s) |",
            "| --- | --- | --- | ---: | ---: | ---: |",
        ]
        for label, info in self.systems.items():
            rows = [r for r in self.results if r.system == label]
            lines.append(
                f"| {label} | {', '.join(info.models) or DASH} | {', '.join(info.prompts) or DASH} "
                f"| {len(rows)} | {sum(1 for r in rows if r.error)} | {info.seconds:.1f} |"
            )
        lines += ["", "Documents: " + ", ".join(f"{ds} {n}" for ds, n in self.datasets.items()), ""]
        group = None
        for metric in METRICS:
            if all(metrics[s][c].get(metric.key) is None for s in self.systems for c in columns):
                continue
            if metric.group != group:
                group = metric.group
                lines += [f"## {group}", ""]
            lines += [
                f"### {metric.title}",
                "",
                "| system | " + " | ".join(columns) + " |",
                "| --- | " + " | ".join("---:" for _ in columns) + " |",
            ]
            for system in self.systems:
                cells = [_format(metrics[system][c].get(metric.key), metric.kind) for c in columns]
                lines.append(f"| {system} | " + " | ".join(cells) + " |")
            lines.append("")
        failures = self.failures()
        if failures:
            lines += ["## Failures", ""]
            lines += [f"- {r.system} / {r.dataset} / {r.doc_id}: {r.error}" for r in failures[:50]]
            if len(failures) > 50:
                lines.append(f"- \u2026 and {len(failures) - 50} more (see report.json)")
            lines.append("")
        return "\n".join(lines)


def _aggregate(rows: list[DocResult]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for metric in METRICS:
        if metric.key == "failures":
            out["failures"] = float(sum(1 for r in rows if r.error)) if rows else None
            continue
        values = [getattr(r, metric.key) for r in rows if getattr(r, metric.key) is not None]
        out[metric.key] = statistics.fmean(values) if values else None
    return out


def _format(value: float | None, kind: str) -> str:
    if value is None:
        return "\u2013"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "number":
        return f"{value:.2f}"
    return f"{value:.2f}"


_VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"supported": {"type": "boolean"}},
    "required": ["supported"],
    "additionalProperties": False,
}
_JUDGE_SYSTEM = (
    "You check summaries against reference facts. Answer whether the summary states or clearly "
    'implies the fact. Reply with JSON: {"supported": true} or {"supported": false}.'
)


def llm_judge(settings: Any) -> Judge:
    """The RoSE protocol's yes/no judge, through the same endpoint (the embedded model included).

    Each call is one short request; transport retries as for summaries. An unreadable verdict
    counts as "not supported" (the judge never inflates recall)."""
    from .extract import Summariser

    summariser = Summariser(settings)

    def judge(acu: str, summary_text: str) -> bool:
        body = {
            "model": summariser.model,
            "temperature": 0.0,
            "max_tokens": 12,
            "messages": [
                {"role": "system", "content": _JUDGE_SYSTEM},
                {"role": "user", "content": f"Summary:\n{summary_text}\n\nFact: {acu}"},
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": _VERDICT_SCHEMA}},
        }
        reply = summariser.client.complete(body)
        try:
            return json.loads(reply.content or "").get("supported") is True
        except (ValueError, AttributeError):
            return False

    return judge


def run_eval(
    docs: Sequence[EvalDoc],
    systems: Mapping[str, SystemFn],
    *,
    limit: int | None = None,
    progress: Callable[[str, EvalDoc], None] | None = None,
    judge: Judge | None = None,
    acu_threshold: float = DEFAULT_ACU_THRESHOLD,
    fuzzy_threshold: float = DEFAULT_NAME_FUZZY_THRESHOLD,
) -> EvalReport:
    """Run every system on every document (at most ``limit`` per dataset) and score the results.

    A system raising a ``SummariserError`` on a document is recorded as a failure with its
    message, unless the error ``stops_run`` (wrong key, no such model, nothing listening): that
    one propagates at once. Any other exception is a bug and propagates.
    """
    selected: list[EvalDoc] = []
    counts: dict[str, int] = {}
    for doc in docs:
        if limit is not None and counts.get(doc.dataset, 0) >= limit:
            continue
        counts[doc.dataset] = counts.get(doc.dataset, 0) + 1
        selected.append(doc)
    results: list[DocResult] = []
    infos: dict[str, SystemInfo] = {}
    for label, fn in systems.items():
        info = infos[label] = SystemInfo(label)
        for doc in selected:
            started = time.perf_counter()
            try:
                output = fn(doc)
            except SummariserError as exc:
                if exc.stops_run:  # a wrong key or model fails every document alike: stop now
                    raise
                result = _failure_result(label, doc, exc, time.perf_counter() - started)
            else:
                elapsed = time.perf_counter() - started
                prediction = output if isinstance(output, Prediction) else Prediction.from_summary(output)
                if prediction.seconds is None:
                    prediction.seconds = elapsed
                result = score_doc(
                    doc,
                    prediction,
                    system=label,
                    acu_threshold=acu_threshold,
                    fuzzy_threshold=fuzzy_threshold,
                    judge=judge,
                )
                for attr, seen in (("model", info.models), ("prompt", info.prompts)):
                    value = getattr(prediction, attr)
                    if value and value not in seen:
                        seen.append(value)
            info.seconds += time.perf_counter() - started
            results.append(result)
            if progress is not None:
                progress(label, doc)
    return EvalReport(
        results=results,
        systems=infos,
        datasets=counts,
        acu_threshold=acu_threshold,
        fuzzy_threshold=fuzzy_threshold,
        judge=judge is not None,
    )


# ---------------------------------------------------------------------------------------------
# The classic baseline: spaCy NER

def extract_entities(text: str, *, labels: Iterable[str] = NER_LABELS) -> list[list[str]]:
    """Named entities of ``text`` as participants (lists of names), short names merged into long.

    "Obama" becomes an alias of "Barack Obama" when its tokens are a subset of the longer name's,
    a cheap stand-in for coreference so the baseline is not punished for repeating itself.
    """
    names = entities(text, labels=labels, key=normalise_name)
    groups: list[list[str]] = []
    for name in sorted(names, key=lambda n: -len(_content_tokens(normalise_name(n)))):
        tokens = set(_content_tokens(normalise_name(name)))
        home = next(
            (g for g in groups if tokens and tokens <= set(_content_tokens(normalise_name(g[0])))),
            None,
        )
        if home is not None:
            home.append(name)
        else:
            groups.append([name])
    order = {n: i for i, n in enumerate(names)}
    groups.sort(key=lambda g: min(order[n] for n in g))
    return groups


def ner_baseline(*, labels: Iterable[str] = NER_LABELS) -> Callable[[EvalDoc], Prediction]:
    """A participants-only system: spaCy NER over the article text."""
    labels = frozenset(labels)
    load_spacy()  # fail early, before any document runs

    def run(doc: EvalDoc) -> Prediction:
        return Prediction(participants=extract_entities(doc.text, labels=labels), model=NER_MODEL_LABEL)

    return run
