"""Sentences of an article with their character offsets. Pure functions, no I/O.

The building block for evidence by reference: an article rendered as numbered sentences
(``number_sentences``) lets a model cite ``[3]`` instead of copying words, and ``quote_for``
turns cited numbers back into verbatim text with its offsets, grounded by construction.

A small rule-based splitter, not a library: no sentence splitter is a core dependency (spaCy
comes only with the ``eval`` extra), and news text needs few rules. A sentence ends at ``.``,
``!``, ``?`` or ``…`` (closing quotes and brackets after it belong to the sentence) followed by
whitespace and a capital, digit or opening quote, or at a line break. It does not end after a
title ("Mr.", "Dr."), an abbreviation before a number ("Jan. 5", "No. 10"), or inside a decimal;
after an initialism or an initial ("U.S.", "D.C.", "L.") only when the next word opens
sentences ("the U.S. The ministry ..." splits, "U.S. President ..." and "L. Ron" do not). A line
break ends a sentence unless the next line goes on in lower case (hard-wrapped text), so
headlines and datelines without a final period are sentences of their own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """One sentence: ``text[start:end] == span.text`` for the text it was split from."""

    start: int
    end: int
    text: str


# Titles and name parts: never end a sentence ("Mr. Lavrov", "St. Petersburg", "Acme Inc. said").
_TITLES = frozenset(
    "mr mrs ms messrs dr prof sen rep gov gen lt col capt sgt cmdr adm maj brig cpl pvt supt insp "
    "det rev fr sr jr st mt ft hon pres amb atty esq".split()
)
_COMPANY = frozenset("inc corp co ltd plc bros".split())  # end a sentence only before an opener
# Abbreviations that precede a number: "Jan. 5", "No. 10", "pp. 4-6", "Art. 3".
_BEFORE_NUMBER = frozenset("jan feb mar apr jun jul aug sep sept oct nov dec no nos art vol pp p fig ch sec".split())
_ALWAYS_ABBREVIATED = frozenset("e.g i.e etc cf vs approx".split())  # "vs. Spain", "e.g. Paris"
# Words that open sentences: after "U.S." or an initial, one of these means a new sentence.
_OPENERS = frozenset(
    "the a an he she it they we i you his her its their our this that these those there then "
    "but and or so yet however meanwhile in on at for after before when while if as since "
    "despite although though because during with without by from to of according "
    "mr mrs ms dr some many most all both one two three no not other another each".split()
)

_END = re.compile(r"(?:[.!?]+|…)[\"'”’»)\]]*")
_LINE_BREAK = re.compile(r"[ \t]*\n\s*")
_OPENING = "\"'“‘«([¿¡"
_INITIALISM = re.compile(r"(?:\b[A-Za-z]\.)+$")  # "U.S.", "D.C.", "L." (the text before the match end)
_LAST_WORD = re.compile(r"([A-Za-z.]+)\.$")


def _opens_next(rest: str) -> str:
    """The next word in lower case (quote marks and brackets skipped), or ''."""
    match = re.match(r"\s*[\"'“‘«(\[]*([A-Za-z]+)", rest)
    return match.group(1).lower() if match else ""


def _ends_here(text: str, end: int, punct: str) -> bool:
    """Does a sentence end after ``text[:end]``, whose final mark(s) are ``punct``?"""
    rest = text[end:]
    if not rest[:1].isspace():
        return False  # "3.5", "U.S.-led", "Yahoo!'s": no space, no sentence end
    first = rest.lstrip().lstrip(_OPENING)[:1]
    if not (first.isupper() or first.isdigit()):
        return False  # lower case next: "e.g. this", "“Really?” he asked"
    if not punct.startswith("."):
        return True
    head = text[: end - len(punct) + 1]  # up to and including the first period
    next_word = _opens_next(rest)
    initials = _INITIALISM.search(head)
    if initials:
        return next_word in _OPENERS
    word = _LAST_WORD.search(head)
    if word is None:
        return True
    last = word.group(1).lower()
    if last in _TITLES:
        return False
    if last in _ALWAYS_ABBREVIATED:
        return next_word in _OPENERS
    if last in _COMPANY:
        return next_word in _OPENERS
    if last in _BEFORE_NUMBER:
        return not rest.lstrip()[:1].isdigit()
    return True


def _breaks(line: str) -> Iterable[int]:
    """Offsets within one line where a sentence ends."""
    for match in _END.finditer(line):
        if _ends_here(line, match.end(), match.group()):
            yield match.end()


@functools.lru_cache(maxsize=64)
def _split(text: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    # Paragraphs: a line break ends a sentence unless the next line goes on in lower case.
    blocks: list[tuple[int, int]] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        if match.group().count("\n") == 1 and text[match.end() : match.end() + 1].islower():
            continue  # a hard-wrapped line goes on
        blocks.append((start, match.start()))
        start = match.end()
    blocks.append((start, len(text)))
    for block_start, block_end in blocks:
        block = text[block_start:block_end]
        cut = 0
        for end in [*_breaks(block), len(block)]:
            piece = block[cut:end]
            stripped = piece.strip()
            if stripped:
                begin = block_start + cut + (len(piece) - len(piece.lstrip()))
                spans.append(Span(begin, begin + len(stripped), stripped))
            cut = end
    return tuple(spans)


def split_sentences(text: str) -> list[Span]:
    """The sentences of ``text`` in order, each with its offsets (whitespace between them is left out)."""
    return list(_split(text))


def number_sentences(text: str) -> str:
    """``text`` as numbered sentences, one per line: "[1] ...\\n[2] ...", for a model to cite by number.

    Whitespace inside a sentence is shown as single spaces; ``quote_for`` returns the original."""
    return "\n".join(f"[{n}] {' '.join(span.text.split())}" for n, span in enumerate(_split(text), start=1))


def quote_for(text: str, ids: int | Iterable[int]) -> tuple[str, int, int]:
    """The verbatim text of sentences ``ids`` (1-based, as ``number_sentences`` shows them, one
    or a run of consecutive numbers) and its offsets: ``(text[start:end], start, end)``.

    Raises ValueError for an unknown number or numbers that are not consecutive (the words
    between them were not cited)."""
    spans = _split(text)
    wanted = sorted({ids} if isinstance(ids, int) else set(ids))
    if not wanted:
        raise ValueError("cite at least one sentence number")
    unknown = [n for n in wanted if not 1 <= n <= len(spans)]
    if unknown:
        raise ValueError(f"sentence {unknown[0]} does not exist: cite numbers 1 to {len(spans)}")
    if wanted[-1] - wanted[0] + 1 != len(wanted):
        raise ValueError(f"sentences {wanted} are not consecutive: cite one sentence or a run such as [{wanted[0]}, {wanted[0] + 1}]")
    start, end = spans[wanted[0] - 1].start, spans[wanted[-1] - 1].end
    return text[start:end], start, end
