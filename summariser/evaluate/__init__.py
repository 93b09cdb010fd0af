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

The package, one concern a module (imports point down the list):

    run.py        run_eval: every system on every document; plan_eval builds the systems from settings
    baseline.py   the spaCy NER baseline (ner_baseline, extract_entities)
    report.py     EvalReport, SystemInfo: aggregation, Markdown and JSON
    metrics.py    Prediction, DocResult, score_doc, METRICS: per-document scores
    judge.py      Judge, model_judge (over any llm.ChatModel) and llm_judge (the endpoint's)
    datasets.py   EvalDoc, GoldEntity, GoldStance, detect_format, load_dataset(s), the parsers
    matching.py   normalise_name, name_match_score, match_participants, occurs_in
"""

from __future__ import annotations

from ..ner import NER_LABELS, NER_MODEL_LABEL
from .baseline import extract_entities, ner_baseline
from .datasets import (
    GUM_KINDS,
    NEWS_FAIR_KINDS,
    WIKIEVENTS_KINDS,
    EvalDoc,
    GoldEntity,
    GoldStance,
    detect_format,
    is_named_cluster,
    load_dataset,
    load_datasets,
)
from .judge import Judge, llm_judge, model_judge
from .matching import DEFAULT_NAME_FUZZY_THRESHOLD, match_participants, name_match_score, normalise_name, occurs_in
from .metrics import DEFAULT_ACU_THRESHOLD, METRICS, DocResult, Metric, Prediction, score_doc
from .report import DASH, OVERALL, EvalReport, SystemInfo
from .run import EvalPlan, SystemFn, llm_system, plan_eval, run_eval

__all__ = [
    "DEFAULT_ACU_THRESHOLD",
    "DEFAULT_NAME_FUZZY_THRESHOLD",
    "DocResult",
    "EvalDoc",
    "EvalPlan",
    "EvalReport",
    "GoldEntity",
    "GoldStance",
    "Judge",
    "NER_LABELS",
    "Prediction",
    "load_dataset",
    "load_datasets",
    "match_participants",
    "model_judge",
    "name_match_score",
    "ner_baseline",
    "normalise_name",
    "plan_eval",
    "run_eval",
    "score_doc",
]
