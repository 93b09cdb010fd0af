"""Who is in the story: candidate names from the article, and the model's participants tidied.

Code is better than a small model at spelling names, finding every mention and merging the
ways one participant is named; the model is better at judging who takes part. So:

* :func:`candidates` proposes the article's names (spaCy's entities where spaCy is installed,
  capitalised phrases always), each merged with its other names: a surname into the one full
  name it belongs to ("Lavrov" -> "Sergei Lavrov"), titles cut off ("Foreign Minister Wang Yi"
  -> "Wang Yi"), a demonym or a capital used for its government into the country ("Russian",
  "Moscow" -> "Russia"; the data comes from :mod:`summariser.countries`). Bylines, datelines,
  credits and photo captions are no part of the story and give no candidates.
* :func:`normalise_participants` and :func:`remap_stances` run on a draft after grounding (which
  checks every name against the article, so "United States" must come after the check and keep
  "U.S." as the alias the article writes): duplicates merged, kinds mapped, stance holders and
  targets renamed to the merged participants. :func:`normalise_draft_names` does both.

Pure functions, no I/O; spaCy runs once per article text (cached).

Why one module of ~640 lines: finding candidates and tidying the model's participants use
the same mention groups and merge rules; apart, they would need a shared private layer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .countries import CountryMatch, lookup_country
from .errors import SummariserError
from .grounding import _EDGE_WORDS, _NAME_WORD, _NOT_NAMES, _TITLES, _opens_sentence
from .namekey import POSSESSIVE_END, name_key
from .schema import Participant, ParticipantKind, Stance, SummaryDraft

__all__ = [
    "Candidate",
    "candidate_hints",
    "candidates",
    "fill_participants",
    "normalise_draft_names",
    "normalise_participants",
    "remap_stances",
]

MAX_ALIASES = 4  # Participant.aliases holds at most 4
MAX_PARTICIPANTS = 10  # SummaryDraft.participants holds at most 10

_SPACY_KINDS: dict[str, ParticipantKind] = {
    "PERSON": "person",
    "ORG": "organisation",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
    "NORP": "group",
}
# spaCy's labels for names that are no participants themselves but may hold one ("the Square
# One Mall in Saugus" as an EVENT): their words are left to the capitalised phrases.
_SPACY_UNTAGGED = frozenset({"EVENT"})
_CALENDAR = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# A capital after one of these is the city ("talks in Moscow"), not its government ("Moscow said").
_LOCATIVE = frozenset("in at to from near into inside outside around across via toward towards through".split())
# Datelines at the top ("MOSCOW, Dec 3 (Reuters) -", "(Reuters) –") and credit lines anywhere.
_DATELINE = re.compile(r"^[^\S\n]*(?:[A-Z][\w.,'’ /-]{0,60}?[^\S\n]*)?\((?:[A-Z][\w&.' -]{1,40})\)[^\S\n]*[-–—:]", re.MULTILINE)
_CREDIT = re.compile(
    r"\((?:(?:Additional )?[Rr]eporting|Writing|Editing|Compiled|Photo|Photograph|Image|Picture|Graphic)[^)]*\)"
    r"|^[^\S\n]*(?:(?:Additional )?[Rr]eporting by|Writing by|Editing by|Compiled by|By)[^\S\n]+[^\n]{0,120}$"
    r"|(?:^|(?<=[.!?]))[^\S\n]*(?:Image|Photo|Picture|Caption|Credit|File photo|Photograph)s?[^\S\n]*:[^\n]*?(?:[.!?](?=\s|$)|$)",
    re.MULTILINE,
)
_POSSESSIVE = POSSESSIVE_END
_SMALL_WORDS = frozenset("a an and as at but by for from in into is of on or over the to up with vs".split())
# Words that title a name rather than belong to it, as grounding cuts them, and a few more.
_TITLE_WORDS = _TITLES | frozenset("prophet pastor rabbi imam sheriff saint".split())
# grounding's capitalised phrases, words with digits in them ("G4S", "G20"), "O'Toole"
# and words with capitals inside ("McGarvey", "PlayStation", "DeShawn"), which it would cut in two.
_WORD = rf"(?:[A-Z][A-Za-z]*[0-9][A-Za-z0-9]*|[A-Z]['’][A-Z][a-z]+|[A-Z][a-z]+(?:[A-Z][a-z]+)+|{_NAME_WORD})"
_CAPITALISED = re.compile(rf"{_WORD}(?:[ ](?:(?:of|the|de|van|von|al|bin|la|du)[ ])?{_WORD})*")


@dataclass(frozen=True)
class Candidate:
    """One participant the article may have: its name, kind, other names and where it is named.

    ``name`` is the canonical name ("United States"), which the article may not write;
    ``mention`` is the name as the article writes it most often ("U.S."). ``spans`` are the
    character offsets of every mention (``text[start:end]``); ``country`` is the country a
    capital city belongs to.
    """

    name: str
    kind: ParticipantKind
    aliases: tuple[str, ...] = ()
    spans: tuple[tuple[int, int], ...] = ()
    country: str | None = None
    mention: str = ""

    @property
    def count(self) -> int:
        """How often the article names it (all its names together)."""
        return len(self.spans)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass
class _Mention:
    text: str
    start: int
    end: int
    label: str | None  # spaCy's label; None for a capitalised phrase spaCy did not tag
    actor: bool = False  # the subject or possessor in its sentence ("Moscow said", "Moscow's")


@dataclass
class _Group:
    name: str
    kind: ParticipantKind
    mentions: list[_Mention] = field(default_factory=list)
    country: str | None = None

    @property
    def first(self) -> int:
        return min(m.start for m in self.mentions)


@lru_cache(maxsize=8192)
def _key(name: str) -> str:
    """Case, dots ("U.S." = "US"), a leading "the" and a possessive do not tell names apart.

    Accents are kept, as they always were here: this compares names of one article with each
    other, and folding them would join names that differ only by accents (namekey.py)."""
    return name_key(name, keep_accents=True)


@lru_cache(maxsize=8192)
def _tokens(name: str) -> tuple[str, ...]:
    return tuple(t for t in _key(name).split() if t not in _EDGE_WORDS)


# -- finding mentions -------------------------------------------------------------------------


def _excluded(text: str) -> list[tuple[int, int]]:
    """Spans that are about the article, not in it: datelines, bylines, credits, captions."""
    zones = [match.span() for match in _DATELINE.finditer(text[:400])]
    zones.extend(match.span() for match in _CREDIT.finditer(text))
    return zones


def _inside(start: int, end: int, zones: Sequence[tuple[int, int]]) -> bool:
    return any(a <= start and end <= b for a, b in zones)


def _headlines(text: str) -> list[tuple[int, int]]:
    """Lines in title case ("Boston Marathon Bomber Apologizes to Survivors"), where every word
    is capitalised and spaCy and the capitalised phrases cannot tell names from words."""
    lines = []
    for match in re.finditer(r"[^\n]+", text):
        words = re.findall(r"[A-Za-z][\w'’-]*", match.group())
        if len(words) >= 3 and not match.group().rstrip().endswith((".", '"', "”")):
            capitalised = sum(1 for w in words if w[0].isupper() or w.lower() in _EDGE_WORDS or w.lower() in _SMALL_WORDS)
            if capitalised == len(words):
                lines.append(match.span())
    return lines


def _clean(text: str, start: int) -> Iterator[tuple[str, int]]:
    """A mention without "the", a possessive or edge punctuation, split at titles, commas,
    brackets, possessives and "in"/"at": "U.S. President Donald Trump's" gives "U.S." and "Donald Trump",
    "Russia's Interfax" gives "Russia" and "Interfax" (each with its offset)."""
    for piece in re.finditer(r"(?:[^,()\[\];\s]|\s(?!(?:in|at|near|from)\s))+", text):
        yield from _clean_piece(piece.group(), start + piece.start())


def _clean_piece(text: str, start: int) -> Iterator[tuple[str, int]]:
    words = [(m.group(), m.start()) for m in re.finditer(r"\S+", text)]
    cuts = [i for i, (w, _) in enumerate(words) if w.lower().strip(".,") in _TITLE_WORDS]
    parts: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    for i, word in enumerate(words):
        if i in cuts:
            parts.append(current)
            current = []
            continue
        current.append(word)
        if i < len(words) - 1 and _POSSESSIVE.search(word[0]):
            parts.append(current)
            current = []
    parts.append(current)
    def ordinary(word: str) -> bool:  # "The", "Reporting"; "WHO" and "US" are names
        word = word.strip(".,")
        return word.lower() in _EDGE_WORDS or (word.lower() in _NOT_NAMES and not (word.isupper() and len(word) > 1))

    for part in parts:
        while part and ordinary(part[0][0]):
            part = part[1:]
        while part and ordinary(part[-1][0]):
            part = part[:-1]
        if not part:
            continue
        first, last = part[0], part[-1]
        raw = text[first[1] : last[1] + len(last[0])]
        name = _POSSESSIVE.sub("", raw).strip(" \"'“”‘’-–—:")
        if name.endswith(".") and not re.search(r"(?:^|[\s.])[A-Z]\.$", name):
            name = name[:-1]  # a sentence's full stop; "U.S." and "D.C." keep theirs
        if name:
            yield name, start + first[1] + raw.find(name)


def _is_name(name: str) -> bool:
    words = _key(name).split()
    if not words or len(name) < 2 or not any(ch.isupper() or ch.isdigit() for ch in name):
        return False  # "vehicle miles": spaCy's guess, no name
    if all(w in _CALENDAR or w.isdigit() for w in words):
        return False  # "Tuesday", "July 21"
    return not (len(words) == 1 and (words[0] in _NOT_NAMES or words[0] in _TITLE_WORDS))


@lru_cache(maxsize=64)
def _spacy_parse(text: str) -> tuple[tuple[tuple[str, int, int, str], ...], frozenset[int]]:
    """spaCy's entities (text, start, end, label) and the offsets of the words that act in
    their sentence: subjects and possessors ("Moscow said", "Moscow's", "Washington and Kyiv say")."""
    from .ner import load_spacy

    doc = load_spacy()(text)
    actors = set()
    for token in doc:
        root = token
        while root.dep_ == "conj" and root.head is not root:
            root = root.head
        if root.dep_ in ("nsubj", "nsubjpass", "poss"):
            actors.add(token.idx)
    entities = tuple((ent.text, ent.start_char, ent.end_char, ent.label_) for ent in doc.ents)
    return entities, frozenset(actors)


def _spacy_available() -> bool:
    from .ner import load_spacy

    try:
        load_spacy()
    except SummariserError:
        return False
    return True


def _untagged(text: str, tagged: Sequence[tuple[int, int]]) -> Iterator[tuple[str, int]]:
    """Capitalised phrases, less the words inside spaCy's entities (of any label)."""
    for match in _CAPITALISED.finditer(text):
        words = [(m.start() + match.start(), m.end() + match.start()) for m in re.finditer(r"\S+", match.group())]
        run: list[tuple[int, int]] = []
        for a, b in [*words, (-1, -1)]:
            if a >= 0 and not any(x < b and a < y for x, y in tagged):
                run.append((a, b))
                continue
            if run:
                yield text[run[0][0] : run[-1][1]], run[0][0]
            run = []


def _mentions(text: str, use_spacy: bool) -> list[_Mention]:
    zones = _excluded(text)
    headlines = _headlines(text)
    raw: list[tuple[str, int, str | None]] = []
    tagged: list[tuple[int, int]] = []
    actors: frozenset[int] = frozenset()
    if use_spacy:
        entities, actors = _spacy_parse(text)
        for ent_text, start, end, label in entities:
            if label not in _SPACY_UNTAGGED:
                tagged.append((start, end))
            if label in _SPACY_KINDS:
                raw.append((ent_text, start, label))
    # A lone capitalised word seen only at the start of sentences is an ordinary word, and so
    # is a phrase of words the article also writes in lower case ("Attack", "Mass Murder").
    phrases = list(_untagged(text, tagged))
    # Unless it names a country or ends a name the article writes in full ("Biden said").
    ends = {word for p, _ in phrases if " " in p for word in (p.split()[0], p.split()[-1])}
    named = {p for p, at in phrases if " " in p or not _opens_sentence(text, at) or p in ends or lookup_country(p)}
    lower = set(re.findall(r"(?<![\w'’-])[a-z][a-z'’-]*", text))
    for phrase, at in phrases:
        words = [w for w in re.findall(r"[\w'’-]+", phrase) if w.lower() not in _EDGE_WORDS]
        if phrase not in named or all(w.lower() in lower for w in words):
            continue
        first = phrase.split(" ", 1)
        if len(first) == 2 and first[0].lower() in lower and _opens_sentence(text, at):
            # "Later the NDS": an ordinary word opens the sentence, the name comes after it.
            rest = first[1].lstrip()
            while rest.split(" ", 1)[0].lower() in _EDGE_WORDS and " " in rest:
                rest = rest.split(" ", 1)[1]
            phrase, at = rest, at + len(phrase) - len(rest)
        raw.append((phrase, at, None))
    body_keys = None
    found: list[_Mention] = []
    for ent_text, start, label in raw:
        for name, offset in _clean(ent_text, start):
            end = offset + len(name)
            if _inside(offset, end, zones):
                continue
            possessive = bool(re.match(r"['’]s\b", text[end : end + 3]))
            if "-" in name or label == "NORP":
                # "anti-Russian", "Russian-Chinese": each part a demonym of its own.
                parts = [(p.group(), offset + p.start()) for p in re.finditer(r"[^-]+", name)]
                countries = [(p, a) for p, a in parts if lookup_country(p)]
                if countries:
                    found.extend(_Mention(p, a, a + len(p), "NORP") for p, a in countries)
                    continue
            if not _is_name(name):
                continue
            if _inside(offset, end, headlines):
                if body_keys is None:
                    body_keys = " " + " ".join(_key(_mask(text, headlines)).split()) + " "
                if f" {_key(name)} " not in body_keys:
                    continue
            actor = possessive or any(offset <= a < end for a in actors)
            found.append(_Mention(name, offset, end, label, actor))
    found.sort(key=lambda m: m.start)
    return found


def _mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out = list(text)
    for a, b in spans:
        out[a:b] = " " * (b - a)
    return "".join(out)


# -- merging mentions into candidates ---------------------------------------------------------


def _country_of(mention: _Mention) -> CountryMatch | None:
    if mention.label == "PERSON":
        return None
    match = lookup_country(mention.text)
    if match is None:
        return None
    if match.relation == "demonym" and mention.label not in (None, "NORP", "GPE"):
        return None
    return match


def _majority_kind(mentions: Iterable[_Mention]) -> ParticipantKind:
    labels = Counter(_SPACY_KINDS[m.label] for m in mentions if m.label)
    return labels.most_common(1)[0][0] if labels else "other"


@lru_cache(maxsize=4096)
def _initials(name: str) -> str:
    return "".join(w[0] for w in re.findall(r"[A-Za-z]+", name) if w.lower() not in _EDGE_WORDS and w.lower() != "and").upper()


def _group_mentions(text: str, mentions: list[_Mention]) -> list[_Group]:
    countries: dict[str, _Group] = {}
    capitals: dict[str, list[_Mention]] = {}
    rest: dict[str, _Group] = {}
    for mention in mentions:
        match = _country_of(mention)
        if match is not None and match.relation == "capital":
            capitals.setdefault(match.country.name, []).append(mention)
        elif match is not None:
            countries.setdefault(match.country.name, _Group(match.country.name, "country")).mentions.append(mention)
        else:
            rest.setdefault(_key(mention.text), _Group(mention.text, "other")).mentions.append(mention)
    # A capital that acts ("Moscow said", "Moscow's position") stands for its government, when
    # the article names the country or writes the possessive; "talks in Moscow" is the city.
    for country, uses in capitals.items():
        acting = [m for m in uses if m.actor]
        if acting and (country in countries or any(re.match(r"['’]s\b", text[m.end : m.end + 3]) for m in acting)):
            countries.setdefault(country, _Group(country, "country")).mentions.extend(acting)
            uses = [m for m in uses if not m.actor]
        for mention in uses:
            rest.setdefault(_key(mention.text), _Group(mention.text, "place", country=country)).mentions.append(mention)
    for group in rest.values():
        if group.kind == "other":
            group.kind = _majority_kind(group.mentions)
        group.name = Counter(m.text for m in group.mentions).most_common(1)[0][0]
    _fold_short_names(rest)
    return [*countries.values(), *rest.values()]


def _fold_short_names(groups: dict[str, _Group]) -> None:
    """Fold "Lavrov" into "Sergei Lavrov", "Xi" into "Xi Jinping", "NDS" into "National
    Directorate of Security" and "Security Council" into "UN Security Council": a short name
    goes into the one longer name it begins or ends (or whose initials it is)."""
    for key in sorted(groups, key=lambda k: len(k.split())):
        group = groups[key]
        words = _tokens(group.name)
        if not words or group.country:
            continue  # a capital city stays itself
        acronym = len(group.name) >= 2 and group.name.isupper()

        def holds(other: _Group) -> bool:
            longer = _tokens(other.name)
            if acronym and " " in other.name and _initials(other.name) == group.name:
                return True
            if len(longer) <= len(words):
                return False
            if other.kind == "person" or (other.kind == "other" and group.kind not in ("place", "country")):
                # "Lavrov" ends "Sergei Lavrov"; "Xi" and "Wang" open Chinese names.
                return longer[-len(words) :] == words or longer[: len(words)] == words
            return len(words) > 1 and longer[-len(words) :] == words

        homes = [other for other_key, other in groups.items() if other_key != key and holds(other)]
        if acronym:  # the name it abbreviates is its home, whatever else ends with it
            homes = [h for h in homes if " " in h.name and _initials(h.name) == group.name] or homes
        if len(homes) == 1:
            home = homes[0]
            home.mentions.extend(group.mentions)
            if home.kind == "other":
                home.kind = group.kind
            del groups[key]


def _candidate(group: _Group) -> Candidate:
    forms = Counter(m.text for m in group.mentions)
    spans = tuple(sorted((m.start, m.end) for m in group.mentions))
    aliases: list[str] = []
    seen = {_key(group.name)}
    for form, _ in forms.most_common():
        if _key(form) not in seen:
            seen.add(_key(form))
            aliases.append(form)
    in_text = [f for f, _ in forms.most_common() if _key(f) == _key(group.name)]
    mention = in_text[0] if in_text else forms.most_common(1)[0][0]
    return Candidate(group.name, group.kind, tuple(aliases), spans, group.country, mention)


def candidates(text: str, *, use_spacy: bool | None = None, limit: int | None = None) -> list[Candidate]:
    """Candidate participants of the article, most often named first.

    ``use_spacy``: None = spaCy's entities when spaCy and its model are installed, True =
    required (a SummariserError says what to install), False = capitalised phrases only.
    Cached by text and ``use_spacy`` (the normalisation after grounding always runs without
    spaCy, so it has its own entry).
    """
    if use_spacy is None:
        use_spacy = _spacy_available()
    elif use_spacy:
        from .ner import load_spacy

        load_spacy()  # raises with the install hint
    found = _candidates(text, bool(use_spacy))
    return list(found if limit is None else found[:limit])


@lru_cache(maxsize=128)
def _candidates(text: str, use_spacy: bool) -> tuple[Candidate, ...]:
    groups = _group_mentions(text, _mentions(text, use_spacy))
    if use_spacy:
        # A short acronym spaCy does not call a name ("IED", "DNA", "TV") is a thing, unless it
        # stands for a name the article spells out (then it is folded into that name).
        groups = [g for g in groups if not (all(m.label is None for m in g.mentions) and g.kind != "country" and g.name.isupper() and len(g.name) <= 3)]
    groups.sort(key=lambda g: (-len(g.mentions), g.first))
    return tuple(_candidate(g) for g in groups)


def candidate_hints(
    text: str,
    *,
    limit: int = 25,
    use_spacy: bool | None = None,
    found: Sequence[Candidate] | None = None,
    guess_kinds: bool = False,
) -> list[str]:
    """The candidates as a prompt lists them, each by the name the article writes and its kind
    ("Russia (country; also Moscow, Russian)"), so a model picks and labels instead of spelling.
    ``found``: candidates already made for ``text`` (the first ``limit`` are used).
    ``guess_kinds``: a candidate no tagger labelled gets the kind its words suggest, and none
    when they suggest nothing ("Wang Yi (person; also Wang)", "Telegram"): a small model copies
    the kind it is shown, so "other" on every name made it call people "other"."""
    hints = []
    for cand in (found[:limit] if found is not None else candidates(text, use_spacy=use_spacy, limit=limit)):
        others = [a for a in cand.names if a != cand.mention][:3]
        kind = _guess_kind(cand, text) if guess_kinds else cand.kind
        parts = [*([kind] if kind != "other" or not guess_kinds else []), *([f"also {', '.join(others)}"] if others else [])]
        hints.append(f"{cand.mention} ({'; '.join(parts)})" if parts else cand.mention)
    return hints


# -- the model's participants, after grounding -----------------------------------------------


@lru_cache(maxsize=64)
def _text_key(text: str) -> str:
    return f" {' '.join(_key(text).split())} "


def _in_article(name: str, text_key: str) -> bool:
    key = _key(name)
    return bool(key) and f" {key} " in text_key


@lru_cache(maxsize=8192)
def _bare(name: str) -> str:
    """The name without a title or "the": "Foreign Minister Wang Yi" -> "Wang Yi". Only titles
    are cut: "Russia's foreign ministry" stays whole (a possessive owner is part of the name)."""
    words = name.split()
    titles = [i for i, w in enumerate(words) if w.lower().strip(".,") in _TITLE_WORDS]
    if titles and titles[-1] + 1 < len(words):
        words = words[titles[-1] + 1 :]
    while len(words) > 1 and words[0].lower() in _EDGE_WORDS:
        words = words[1:]
    bare = " ".join(words).strip(" ,;:")
    return bare if bare and any(ch.isupper() for ch in bare) else name


def _resolve_country(person: Participant) -> CountryMatch | None:
    if person.kind == "person":
        return None
    for name in (person.name, *person.aliases):
        match = lookup_country(_bare(name))
        if match is None:
            continue
        if match.relation == "capital" and person.kind == "place":
            continue  # "talks in Moscow": the city itself
        return match
    return None


def _uncountry(name: str) -> ParticipantKind:
    """The kind of a name the model called a country that is none: people of one ("Mongolian
    officials", a word in lower case) are a group, anything else ("Hawaii") a place."""
    return "group" if any(word[:1].islower() for word in name.split()) else "place"


def _find_candidate(name: str, found: Sequence[Candidate]) -> Candidate | None:
    key = _key(_bare(name))
    for cand in found:
        if cand.kind != "country" and key in {_key(n) for n in cand.names}:
            return cand
    return None


def normalise_participants(
    participants: Sequence[Participant], text: str, *, found: Sequence[Candidate] | None = None
) -> list[Participant]:
    """The model's participants with one entry per participant, after grounding.

    "Moscow", "Russia" and "Russian" (listed as countries or groups) become one "Russia" with the
    other two as aliases; "Lavrov" joins "Sergei Lavrov"; "Foreign Minister Wang Yi" is "Wang Yi".
    A canonical name the article does not write ("United States") keeps the alias it does
    ("U.S."); every alias kept occurs in the article. ``found`` = the article's
    :func:`candidates`, if already at hand.
    """
    if found is None:
        # Capitalised phrases only: fast, and the same result whether or not spaCy is installed.
        found = candidates(text, use_spacy=False)
    text_key = _text_key(text)
    merged: dict[str, dict] = {}
    order: list[str] = []

    def add(key: str, name: str, kind: ParticipantKind, person: Participant) -> None:
        entry = merged.get(key)
        if entry is None:
            entry = merged[key] = {"name": name, "kind": kind, "role": "", "names": []}
            order.append(key)
        if not entry["role"] or _key(person.name) == _key(name):
            entry["role"] = entry["role"] if entry["role"] and not person.role else person.role or entry["role"]
        entry["names"].extend([person.name, *person.aliases])

    for person in participants:
        country = _resolve_country(person)
        if country is not None:
            add(f"country:{country.country.name}", country.country.name, "country", person)
            continue
        bare = _bare(person.name)
        cand = _find_candidate(person.name, found)
        if cand is not None and _in_article(cand.name, text_key):
            kind = person.kind if person.kind != "country" else cand.kind
            add(f"cand:{cand.name}", cand.name, kind, person)
        else:
            kind = person.kind if person.kind != "country" else _uncountry(bare)
            add(f"name:{_key(bare)}", bare if _in_article(bare, text_key) else person.name, kind, person)
    _fold_surnames(merged, order)

    result = []
    for key in order[:MAX_PARTICIPANTS]:
        entry = merged[key]
        aliases, seen = [], {_key(entry["name"])}
        extra = []
        for cand in found:
            if key == f"country:{cand.name}" or key == f"cand:{cand.name}":
                extra = list(cand.aliases)
        for alias in [*entry["names"], *extra]:
            alias_key = _key(alias)
            if alias_key and alias_key not in seen and _in_article(alias, text_key):
                seen.add(alias_key)
                aliases.append(alias.strip())
        result.append(
            Participant(name=entry["name"], kind=entry["kind"], role=entry["role"], aliases=aliases[:MAX_ALIASES])
        )
    return result


def _fold_surnames(merged: dict[str, dict], order: list[str]) -> None:
    """Two entries for one person ("Lavrov", "Sergei Lavrov"): the short one joins the long one."""
    for key in sorted(order, key=lambda k: len(merged[k]["name"].split())):
        entry = merged[key]
        if entry["kind"] != "person":
            continue  # "Security Council" and "UN Security Council" may be two bodies
        words = set(_tokens(entry["name"]))
        homes = [
            k for k in order
            if k != key and k in merged and merged[k]["kind"] == entry["kind"] and words and words < set(_tokens(merged[k]["name"]))
        ]
        if len(homes) == 1:
            home = merged[homes[0]]
            home["names"].extend([entry["name"], *entry["names"]])
            home["role"] = home["role"] or entry["role"]
            del merged[key]
            order.remove(key)


# Words that make a capitalised phrase an organisation when code has no tagger to ask.
_ORG_WORDS = frozenset(
    """agency airline airlines army assembly association authority bank board bureau center centre
    club college commission committee company congress corp corporation council court department
    foundation fund group inc institute league ltd ministry network office organisation organization
    parliament party police school service services society team tribunal union university""".split()
)


def _guess_kind(cand: Candidate, text: str) -> ParticipantKind:
    """A kind for a candidate no tagger labelled: a name whose surname or first name the article
    also writes alone ("Chavis" for "Ben Chavis"), or that follows a title ("Judge Ann Ray"), is a
    person; one with an organisation word ("Oakland Unified School District") an organisation.
    Anything else stays "other": a wrong kind is worse than a vague one."""
    if cand.kind != "other":
        return cand.kind
    words = _tokens(cand.name)
    if any(w in _ORG_WORDS for w in words):
        return "organisation"
    if len(words) >= 2 and all(w.isalpha() for w in words):
        short = {_key(a) for a in cand.aliases}
        if words[-1] in short or (len(words) == 2 and words[0] in short):  # "Chavis", "Wang" (Yi)
            return "person"
        for start, _ in cand.spans:
            before = text[max(0, start - 30) : start].split()
            if before and before[-1].lower().strip(".,") in _TITLE_WORDS:
                return "person"
    return "other"


# Words a title before a name is made of ("Foreign Minister", "Deputy Secretary of State").
_TITLE_RUN_WORDS = _TITLE_WORDS | _ORG_WORDS | frozenset("foreign prime vice deputy chief defence defense state general secretary".split())


def _title_before(cand: Candidate, text: str) -> str:
    """The title the article writes before the name ("Foreign Minister" of "Foreign Minister
    Wang Yi"), as a role; empty when there is none."""
    for start, _ in cand.spans:
        words = text[max(0, start - 40) : start].split()
        title: list[str] = []
        while words and words[-1][:1].isupper() and words[-1].lower().strip(".,") in _TITLE_RUN_WORDS:
            title.insert(0, words.pop())
        if title and title[-1].lower().strip(".,") in _TITLE_WORDS:
            return " ".join(title).strip(".,")
    return ""


def _candidate_of(person: Participant, found: Sequence[Candidate]) -> Candidate | None:
    """The first candidate sharing a name (or alias) with the participant."""
    keys = {_key(n) for n in (person.name, *person.aliases)} - {""}
    return next((cand for cand in found if keys & {_key(n) for n in cand.names}), None)


def _times_named(person: Participant, cand: Candidate | None, text_key: str) -> int:
    """How often the article names a participant: its candidate's count, else its commonest name."""
    if cand is not None:
        return cand.count
    keys = {_key(n) for n in (person.name, *person.aliases)} - {""}
    return max((text_key.count(f" {k} ") for k in keys), default=0)


def _relabel(person: Participant, cand: Candidate | None, text: str) -> Participant:
    """A participant the model called "other" gets the kind its candidate's words suggest."""
    if person.kind != "other" or cand is None:
        return person
    kind = _guess_kind(cand, text)
    return person if kind == "other" else person.model_copy(update={"kind": kind})


def _fill_worthy(cand: Candidate, text: str) -> bool:
    """Whether code may add a candidate the model did not pick: not a section heading ("Background",
    "References": every mention a line of its own) and not a one-word candidate the article also
    writes in lower case ("Will", "Man", "Yes": a word that opened a sentence, not a name)."""
    lines = [(text.rfind("\n", 0, start) + 1, text.find("\n", end)) for start, end in cand.spans]
    if cand.spans and all(text[a : b if b >= 0 else len(text)].strip(" \t:") == text[start:end] for (a, b), (start, end) in zip(lines, cand.spans)):
        return False
    words = cand.mention.split()
    if len(words) == 1 and cand.kind != "country":
        word = words[0].strip(".,")
        if word[:1].isupper() and not word.isupper() and re.search(rf"(?<![\w.]){re.escape(word.lower())}(?!\w)", text):
            return False
    return True


def fill_participants(
    participants: Sequence[Participant],
    text: str,
    *,
    upto: int,
    min_count: int = 2,
    found: Sequence[Candidate] | None = None,
    keep: Iterable[str] = (),
) -> list[Participant]:
    """The participants ordered by how well the article attests them, with the article's
    most-named candidates the model left out, at most ``upto`` in all.

    A 1.5B model lists too few of the people and bodies a story is about and pads its list with
    names the article writes once (on the development set, 1 in 5 of those is a participant,
    against 3 in 5 of those named three times or more); code counts mentions better. So: first
    the model's participants the article names at least ``min_count`` times, in the model's
    order; then candidates named at least ``min_count`` times, most-named first, none of whose
    names is already a participant's (or a word of a person's: "Chavis" is in "Ben Chavis");
    then the model's once-named participants while there is room. An added candidate's kind
    comes from the candidate (or a guess from its words), its role from the title the article
    writes before it, else empty. A model participant named in ``keep`` (the stance holders)
    counts as well attested however often it is named: a stance's holder stays a participant.
    """
    if found is None:
        found = candidates(text, use_spacy=False)
    text_key = _text_key(text)
    # Grounding finds a name inside a longer word ("Mc" in "McGarvey"); a participant must be
    # written as a word of its own, by its name or an alias.
    written = [p for p in participants if any(_in_article(n, text_key) for n in (p.name, *p.aliases))]
    strong: list[Participant] = []
    weak: list[Participant] = []
    kept = {_key(name) for name in keep}
    for person in written:
        cand = _candidate_of(person, found)
        held = _key(person.name) in kept
        (strong if held or _times_named(person, cand, text_key) >= min_count else weak).append(_relabel(person, cand, text))
    participants = strong + weak
    result = strong[:upto]
    taken = {_key(n) for p in participants for n in (p.name, *p.aliases)}
    taken_words = {w for p in participants if p.kind == "person" for n in (p.name, *p.aliases) for w in _tokens(n)}
    for cand in found:
        if len(result) >= upto or cand.count < min_count:
            break  # most-named first: the rest are named fewer times
        keys = {_key(n) for n in cand.names}
        if keys & taken or (len(_tokens(cand.name)) == 1 and _tokens(cand.name)[0] in taken_words):
            continue
        if not _is_name(cand.mention) or not _in_article(cand.mention, text_key) or not _fill_worthy(cand, text):
            continue
        name = cand.mention if cand.kind != "country" else cand.name
        aliases = [a for a in cand.names if _key(a) != _key(name)][:MAX_ALIASES]
        result.append(Participant(name=name, kind=_guess_kind(cand, text), role=_title_before(cand, text), aliases=aliases))
        taken |= keys
    return result + weak[: max(0, upto - len(result))]


def remap_stances(stances: Sequence[Stance], participants: Sequence[Participant], text: str) -> list[Stance]:
    """Stances with holders (and targets that name a participant) renamed to the participants
    :func:`normalise_participants` made, so each holder is one of them; repeats removed."""
    by_key: dict[str, str] = {}
    for person in participants:
        for name in (person.name, *person.aliases):
            by_key.setdefault(_key(name), person.name)
            by_key.setdefault(_key(_bare(name)), person.name)
    countries = {p.name for p in participants if p.kind == "country"}

    def rename(name: str) -> str | None:
        for form in (name, _bare(name)):
            if _key(form) in by_key:
                return by_key[_key(form)]
        match = lookup_country(_bare(name))
        if match is not None and match.country.name in countries:
            return match.country.name
        words = set(_tokens(name))
        homes = {p.name for p in participants if p.kind == "person" and words and words < set(_tokens(p.name))}
        return homes.pop() if len(homes) == 1 else None

    result: list[Stance] = []
    seen: set[str] = set()
    for stance in stances:
        holder = rename(stance.holder) or stance.holder
        target = rename(stance.target) or stance.target
        updated = stance if (holder, target) == (stance.holder, stance.target) else stance.model_copy(update={"holder": holder, "target": target})
        key = updated.model_dump_json()
        if key not in seen:
            seen.add(key)
            result.append(updated)
    return result


def normalise_draft_names(draft: SummaryDraft, text: str, *, found: Sequence[Candidate] | None = None) -> SummaryDraft:
    """The grounded draft with its participants merged and its stances renamed to match."""
    participants = normalise_participants(draft.participants, text, found=found)
    stances = remap_stances(draft.stances, participants, text)
    return draft.model_copy(update={"participants": participants, "stances": stances})
