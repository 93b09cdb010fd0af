"""The classic baseline: spaCy NER over the article text, scored next to the LLM systems.

spaCy itself is reached through ``summariser.ner``, which the summarise path also uses for name
hints (``session``, ``names``), so it stays a top-level module rather than moving in here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..ner import NER_LABELS, NER_MODEL_LABEL, entities, load_spacy
from .datasets import EvalDoc
from .matching import _content_tokens, normalise_name
from .metrics import Prediction


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
