"""Name matching: when a predicted participant's name is one of a gold cluster's mentions.

``normalise_name`` is the eval's name key (case, accents, "'s", dotted acronyms, a leading
"the"); ``name_match_score`` ranks a predicted name against one mention; ``match_participants``
assigns predictions to clusters one-to-one, best match first.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rapidfuzz import fuzz

from ..namekey import name_key

DEFAULT_NAME_FUZZY_THRESHOLD = 88.0

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


@lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """Case-folded, accents stripped, "'s" and a leading "the" removed, punctuation to spaces.

    The key for names and whole article texts alike (``in_text``: possessives anywhere, only
    dotted acronyms lose their dots), so ``occurs_in`` can look a name up in a text. The scores
    the project reports are computed with it: change it and they change."""
    return name_key(name, in_text=True)


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
