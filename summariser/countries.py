"""Countries, their other names, capitals and demonyms, from the ``countryinfo`` data package.

One lookup answers "which country does this name stand for, and how?": by its name ("Russia"),
another English name ("Russian Federation", "U.S.", "UK"), its capital ("Moscow", "Washington")
or its demonym ("Russian", "Chinese", "Americans"). Pure and cached: the package's data is read
once per process (about 30 ms).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .namekey import name_key

__all__ = ["Country", "CountryMatch", "lookup_country"]

Relation = Literal["name", "capital", "demonym"]

# Short English names the package does not carry, though news writes them more often than the
# names it does: the one exception to taking every name from the data.
_EXTRA_NAMES = {"GB": ("Britain",)}
# ISO codes news writes as names; other codes in prose are something else ("LA", "IT", "RUS").
_CODES_AS_NAMES = frozenset({"US", "USA"})
_DC = re.compile(r",?\s+D\.?\s?C\.?$")


@dataclass(frozen=True)
class Country:
    """One country as the data package describes it."""

    name: str
    iso2: str
    names: tuple[str, ...]  # the English names (name first), e.g. "United States", "USA", "US"
    capitals: tuple[str, ...]  # e.g. "Washington D.C.", "Washington"
    demonyms: tuple[str, ...]  # e.g. "American", "Americans"


@dataclass(frozen=True)
class CountryMatch:
    """What a name stands for: ``country``, reached through its name, its capital or its demonym."""

    country: Country
    relation: Relation


def _key(name: str) -> str:
    """Case, accents, dots ("U.S." = "US"), a leading "the" and a possessive do not matter.

    Accents are folded: the country data and an article may spell a name with or without them."""
    return name_key(name)


def _latin(text: str) -> bool:
    return all(not ch.isalpha() or "LATIN" in unicodedata.name(ch, "") for ch in text)


def _plural(demonym: str) -> str | None:
    # "Russians", "Israelis"; "Chinese", "British", "Swiss" and "Dutch" are their own plural.
    if demonym.endswith(("ese", "sh", "ch", "s", "x", "z")):
        return None
    return demonym + "s"


def _names(info: dict, iso2: str, iso3: str) -> tuple[str, ...]:
    names = [info["name"]]
    for alt in [*(info.get("altSpellings") or []), *_EXTRA_NAMES.get(iso2, ())]:
        alt = re.sub(r"^The\s+", "", alt.strip())
        if not alt or "," in alt or not _latin(alt) or alt in names:
            continue
        if alt in (iso2, iso3) and alt not in _CODES_AS_NAMES:
            continue  # "UK", "UAE" and "DRC" are no ISO codes and stay
        names.append(alt)
    return tuple(names)


def _capitals(info: dict) -> tuple[str, ...]:
    raw = info.get("capital")
    values = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    capitals: list[str] = []
    for value in values:
        for capital in value.split(" / "):
            capital = capital.strip()
            for form in (capital, _DC.sub("", capital)):
                if form and form not in capitals:
                    capitals.append(form)
    return tuple(capitals)


@lru_cache(maxsize=1)
def _countries() -> tuple[Country, ...]:
    from countryinfo import CountryInfo

    # Most populous first: a demonym, capital or name that several share ("American", "Chinese",
    # "Congolese") stands for the largest (American Samoa's people are "American" too).
    raw = sorted(
        (info for info in CountryInfo.all().values() if info.get("name")),
        key=lambda info: -(info.get("population") or 0),
    )
    # A few territories come twice, once under a catalogue name ("Palestine, State of",
    # "Holy See (Vatican City State)"): the plain one is kept.
    plain = {(info.get("ISO") or {}).get("alpha2") for info in raw if not re.search(r"[,(]", info["name"])}
    countries = []
    for info in raw:
        iso = {"alpha2": "", "alpha3": "", **(info.get("ISO") or {})}
        if re.search(r"[,(]", info["name"]) and iso["alpha2"] in plain:
            continue
        demonym = (info.get("demonym") or "").strip()
        demonyms = tuple(d for d in (demonym, _plural(demonym) if demonym else None) if d)
        countries.append(
            Country(
                name=info["name"],
                iso2=iso["alpha2"],
                names=_names(info, iso["alpha2"], iso["alpha3"] or ""),
                capitals=_capitals(info),
                demonyms=demonyms,
            )
        )
    return tuple(countries)


@lru_cache(maxsize=1)
def _index() -> dict[str, CountryMatch]:
    index: dict[str, CountryMatch] = {}
    # Names first, then demonyms, then capitals: "Mexico" is a country before it is a capital,
    # "Georgian" a demonym before anything else; the first country to claim a key keeps it.
    for relation, field in (("name", "names"), ("demonym", "demonyms"), ("capital", "capitals")):
        for country in _countries():
            for form in getattr(country, field):
                key = _key(form)
                if key and key not in index:
                    index[key] = CountryMatch(country, relation)
    return index


@lru_cache(maxsize=8192)
def lookup_country(name: str) -> CountryMatch | None:
    """The country ``name`` stands for and how, or None: "Moscow" -> Russia by its capital,
    "U.S." -> United States by name, "Chinese" -> China by its demonym."""
    return _index().get(_key(name))
