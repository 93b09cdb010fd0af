"""Per-document scores: what a system predicted (``Prediction``) against one document's gold.

How each metric is computed is described in the package docstring (``summariser.evaluate``);
``METRICS`` lists them with the titles and kinds the report shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from ..errors import SummariserError
from ..schema import ArticleSummary
from .datasets import EvalDoc, GoldStance
from .judge import Judge
from .matching import DEFAULT_NAME_FUZZY_THRESHOLD, _content_tokens, match_participants, name_match_score, normalise_name, occurs_in

DEFAULT_ACU_THRESHOLD = 75.0

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
