"""The one name key: the string two names share when they name the same thing.

Case, a possessive, the dots of an acronym ("U.S." = "US"), punctuation and a leading "the" never
tell names apart. Two choices differ by caller, on purpose:

* ``keep_accents``: False (countries, the eval) folds accents away ("Gérald" = "Gerald"), since
  the article and the data it is matched against (country names, gold mentions) may spell a name
  either way. True (``names``, which compares the names of one article with each other) keeps
  them and starts from grounding's ``normalise`` (NFKC, typographic quote marks made plain), as it
  always has: 10 of the 5,048 eval and seed names tested key differently with accents folded.
* ``in_text``: the key of a whole article text, in which a name's key is then looked up on word
  boundaries (the eval does this): a possessive goes anywhere ("Obama's visit" -> "obama visit")
  and only dotted acronyms lose their dots ("U.S." -> "us", while "attack.Then" stays two words).
  For one name (False) a possessive goes only at the end and any dot between letters goes
  ("St.Louis" -> "stlouis"). The eval's scores are computed with ``in_text=True`` keys, names
  and texts alike, so it keeps them.

``briefing.name_key`` is not this key: see the note beside it.
"""

from __future__ import annotations

import re
import unicodedata

from .grounding import normalise

# A possessive at the end of a name ("Obama's", "Jones'"), and anywhere in a text.
POSSESSIVE_END = re.compile(r"(?:['’]s|(?<=s)['’])$")
POSSESSIVE_ANY = re.compile(r"\s?['’]s\b|(?<=s)['’](?=\s|$)")
_INNER_DOT = re.compile(r"(?<=\w)\.(?=\w|$)")
# Dotted acronyms only: "U.S.", "U.N", "D.C."; other dots split words ("attack.Then").
_DOTTED = re.compile(r"(?<!\w)(?:\w\.){1,}\w(?!\w)\.?")
_NOT_WORD = re.compile(r"[^\w]+")
_LEADING_THE = re.compile(r"^the\s+")


def strip_accents(text: str) -> str:
    """``text`` in NFKD with its combining marks dropped ("Gérald" -> "Gerald")."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def name_key(name: str, *, keep_accents: bool = False, in_text: bool = False) -> str:
    """Case-folded, "'s" and a leading "the" removed, acronym dots dropped, punctuation to spaces.

    ``keep_accents`` and ``in_text`` as the module docstring says."""
    text = normalise(name) if keep_accents else strip_accents(name).casefold()
    if in_text:
        text = POSSESSIVE_ANY.sub("", text)
        text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)  # U.S. -> us, U.N. -> un
    else:
        text = POSSESSIVE_END.sub("", text.strip())
        text = _INNER_DOT.sub("", text)  # U.S. -> us; D.C. -> dc
    text = _NOT_WORD.sub(" ", text).strip()
    return _LEADING_THE.sub("", text)
