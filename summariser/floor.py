"""The floor a summary must clear to count as a success (pure functions, no I/O).

Grounding drops every item whose quote is not in the article, but a reply invented from nothing
used to survive it: its facts, participants and stances were dropped, its made-up headline and
summary kept, and the run was stored ``ok`` (issue 14: 76 of 988 "ok" summaries in a chaos run
had no fact, participant or stance). A summary now passes only with

* at least ``MIN_KEY_FACTS`` grounded key fact and ``MIN_PARTICIPANTS`` participant (after the
  ungrounded ones are dropped), and
* a headline and summary whose content words come at least ``MIN_OVERLAP`` from the article.

Calibration of ``MIN_OVERLAP`` (content-word stems as ``grounding.content_stems`` makes them, the
share of the headline+summary stems found in the article's): the 30 human reference summaries of
``rose_cnndm_dev.jsonl`` against their sources have median 0.86, minimum 0.54; the 16 human
summaries of ``gum_news_dev.jsonl`` median 0.84, minimum 0.67; an invented "The moon is made of
green cheese..." headline and summary against a seed article 0.08. 0.40 leaves every human
summary a wide margin and fails invention. Reproduce with::

    python -c "import json,statistics as s;from summariser.floor import overlap;\\
    v=[overlap(r['reference'],r['source']) for r in map(json.loads,open('../shared/eval/rose_cnndm_dev.jsonl'))];\\
    print(s.median(v),min(v))"
"""

from __future__ import annotations

import functools

from .grounding import content_stems
from .schema import SummaryDraft

__all__ = ["MIN_KEY_FACTS", "MIN_OVERLAP", "MIN_PARTICIPANTS", "floor_problems", "overlap"]

MIN_KEY_FACTS = 1
MIN_PARTICIPANTS = 1
MIN_OVERLAP = 0.40
FLOOR_PREFIX = "below the floor"


@functools.lru_cache(maxsize=64)
def _article_stems(article: str) -> frozenset[str]:
    return frozenset(content_stems(article))


def overlap(text: str, article: str) -> float:
    """The share of ``text``'s content words (stems) that occur in ``article``; 1.0 for no words."""
    stems = content_stems(text)
    if not stems:
        return 1.0
    found = _article_stems(article)
    return sum(stem in found for stem in stems) / len(stems)


def floor_problems(draft: SummaryDraft, article: str) -> list[str]:
    """Why ``draft`` (already stripped of ungrounded items) is not a summary of ``article``; [] if it is."""
    problems = []
    if len(draft.key_facts) < MIN_KEY_FACTS:
        problems.append(f"{FLOOR_PREFIX}: no key fact is grounded in the article; quote at least one key fact exactly from it")
    if len(draft.participants) < MIN_PARTICIPANTS:
        problems.append(f"{FLOOR_PREFIX}: no participant named in the article; list the people or organisations it names")
    share = overlap(f"{draft.headline} {draft.summary}", article)
    if share < MIN_OVERLAP:
        problems.append(
            f"{FLOOR_PREFIX}: only {share:.0%} of the headline's and summary's content words are in the article "
            f"(at least {MIN_OVERLAP:.0%} needed); summarise what the article says, in its words"
        )
    return problems
