"""Versioned prompt templates: load, validate, render and hash the files under ``prompts/``.

A template is a TOML file ``prompts/<name>/v<N>.toml``::

    version = 2
    description = "..."
    schema = "SummaryDraft"          # the output model the reply must validate against
    temperature = 0.0
    max_tokens = 900
    system = '''Jinja2 text'''
    user = '''Jinja2 text with {{ article }}'''
    constrain_quotes = true           # json_schema mode: quotes must be one of the article's spans
    [params]                          # optional extra OpenAI request parameters
    frequency_penalty = 0.2

Released versions are never edited in place (tests pin their sha256); a change is a new file.
Every result records ``name@version`` and the file's sha256.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, PromptError

# The version ``NAME`` without ``@VERSION`` means. A newer version stays opt-in (``--prompt
# article@6``) until an evaluation shows it wins; then this line moves to it.
DEFAULT_VERSIONS = {"article": 8}

_FILE_RE = re.compile(r"^v(\d+)\.toml$")
_REF_RE = re.compile(r"^([a-z][a-z0-9_-]*)(?:@(\d+))?$")


class _PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    description: str
    schema_: Literal["SummaryDraft", "BriefingDraft", "StoryDraft"] = Field(alias="schema")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(ge=16, le=32768)
    max_tokens_cap: int | None = Field(None, ge=16, le=65536)
    system: str
    user: str
    params: dict[str, float | int | str | bool] = Field(default_factory=dict)
    constrain_quotes: bool = False
    hints: Literal["names", "bare-names", "ner", "candidates", "phrase-candidates"] = "names"
    evidence: Literal["first", "last"] = "first"
    reply: Literal["draft", "refs"] = "draft"
    fill_participants: int = Field(0, ge=0, le=10)
    fill_min_count: int = Field(2, ge=1)
    max_facts: int = Field(4, ge=3, le=6)
    max_stances: int = Field(3, ge=0, le=5)


@dataclass(frozen=True)
class Prompt:
    """One released prompt template version."""

    name: str
    version: int
    description: str
    schema: str
    temperature: float
    max_tokens: int
    max_tokens_cap: int
    system: str
    user: str
    params: dict[str, Any]
    sha256: str
    path: Path
    text: str = field(repr=False)
    constrain_quotes: bool = False
    # Where the ``names`` variable comes from: "names" = capitalised phrases (no dependency),
    # "bare-names" = the same split at titles ("U.S. President Donald Trump" -> "U.S.",
    # "Donald Trump"), "ner" = spaCy's named entities (needs the ner extra), "candidates" = the
    # participants names.candidates proposes (merged, each as the article writes it; the template
    # also gets ``candidates``: name, mention, kind, aliases, count per candidate; spaCy's entities
    # where it is installed), "phrase-candidates" = the same from capitalised phrases alone, so
    # every install sends the same request and a batch of 100,000 articles is not parsed by spaCy.
    hints: str = "names"
    # Where a key fact's or stance's quote sits in the reply schema: "first" = copy the evidence,
    # then state the claim; "last" = state the claim, then pick the evidence (with quotes
    # constrained to the article's spans, the model then chooses a span that fits its claim).
    evidence: str = "first"
    # What the model writes: "draft" = the SummaryDraft JSON itself, quotes copied; "refs" = the
    # compact wire format of summariser/wire.py over numbered sentences, quotes by reference.
    reply: str = "draft"
    # After the model's participants: the article's most-named candidates it left out, until
    # there are ``fill_participants`` (0 = none added), each named at least ``fill_min_count``
    # times (names.fill_participants). Code counts mentions; the model's picks come first.
    fill_participants: int = 0
    fill_min_count: int = 2
    # Evidence-by-reference replies (``reply = "refs"``): how many sentence numbers the grammar
    # lets the model cite as key facts (at least 3), and how many stances it may write. The
    # public schema holds up to 6 and 5.
    max_facts: int = 4
    max_stances: int = 3

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, **variables: Any) -> tuple[str, str]:
        """Render (system, user) messages. Unknown variables in the template are errors."""
        import jinja2

        try:
            try:
                key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in variables.items()))
                hash(key)
            except TypeError:  # a variable that cannot be a cache key: render without the cache
                return _render(self.system, variables), _render(self.user, variables)
            return _render_pair(self.system, self.user, key)
        except jinja2.TemplateError as exc:
            raise PromptError(f"prompt {self.ref} ({self.path}) does not render: {exc}") from None


@cache
def _environment():
    import jinja2  # imported on first render: keeps `import summariser` cheap

    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@cache
def _template(source: str):
    return _environment().from_string(source)


def _render(source: str, variables: dict[str, Any]) -> str:
    return _template(source).render(**variables).strip()


@lru_cache(maxsize=64)
def _render_pair(system: str, user: str, variables: tuple[tuple[str, Any], ...]) -> tuple[str, str]:
    # Templates are pure functions of their variables: one article renders once, however many
    # requests (re-asks, repeated runs, a benchmark) it takes.
    values = dict(variables)
    return _render(system, values), _render(user, values)


def default_prompt_dirs() -> list[Path]:
    """Where templates live: the repo's ``prompts/`` (development) or the copy inside the wheel."""
    package = Path(__file__).resolve().parent
    return [p for p in (package.parent / "prompts", package / "_prompts") if p.is_dir()][:1]


def load_prompt_file(path: Path, name: str | None = None) -> Prompt:
    """Load and validate one template file."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
        meta = _PromptFile.model_validate(data)
    except OSError as exc:
        raise PromptError(f"cannot read prompt {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PromptError(f"prompt {path} is not valid UTF-8 TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PromptError(f"prompt {path} is invalid: {where}: {first['msg']}") from None
    match = _FILE_RE.match(path.name)
    if match and int(match.group(1)) != meta.version:
        raise PromptError(f"prompt {path} says version = {meta.version} but is named v{match.group(1)}.toml")
    return Prompt(
        name=name or path.parent.name,
        version=meta.version,
        description=meta.description.strip(),
        schema=meta.schema_,
        temperature=meta.temperature,
        max_tokens=meta.max_tokens,
        max_tokens_cap=meta.max_tokens_cap or meta.max_tokens * 2,
        system=meta.system,
        user=meta.user,
        params=dict(meta.params),
        sha256=hashlib.sha256(raw).hexdigest(),
        path=path,
        text=raw.decode("utf-8"),
        constrain_quotes=meta.constrain_quotes,
        hints=meta.hints,
        evidence=meta.evidence,
        reply=meta.reply,
        fill_participants=meta.fill_participants,
        fill_min_count=meta.fill_min_count,
        max_facts=meta.max_facts,
        max_stances=meta.max_stances,
    )


def list_prompts(dirs: list[Path] | None = None) -> list[Prompt]:
    """Every template version found, sorted by name then version."""
    found: dict[tuple[str, int], Prompt] = {}
    for root in dirs or default_prompt_dirs():
        for path in sorted(root.glob("*/v*.toml")):
            if _FILE_RE.match(path.name):
                prompt = load_prompt_file(path)
                found.setdefault((prompt.name, prompt.version), prompt)
    return [found[key] for key in sorted(found)]


def parse_ref(ref: str, *, any_name: bool = False) -> tuple[str, int | None]:
    """``'article@2'`` -> ``('article', 2)``; ``'article'`` -> ``('article', None)``.

    ``any_name`` accepts any non-empty NAME, as written (refs recorded in the run store and the
    filters over them: a prompt loaded from a file is named after its directory, however spelt)."""
    if any_name:
        name, _, version = ref.partition("@")
        if not name or (version and not version.isdigit()):
            raise ConfigError(f"prompt {ref!r} is not NAME or NAME@VERSION: use e.g. article or article@2")
        return name, int(version) if version else None
    match = _REF_RE.match(ref.strip())
    if not match:
        raise PromptError(f"bad prompt reference {ref!r}: use NAME or NAME@VERSION, e.g. article@1")
    return match.group(1), int(match.group(2)) if match.group(2) else None


def load_prompt(ref: str = "article", dirs: list[Path] | None = None) -> Prompt:
    """``article`` gives the default version (``DEFAULT_VERSIONS``, else the newest), ``article@1``
    a specific one."""
    name, version = parse_ref(ref)
    if version is not None:  # a pinned version is read on its own: a broken sibling file does not block it
        for root in dirs or default_prompt_dirs():
            path = root / name / f"v{version}.toml"
            if path.is_file():
                return load_prompt_file(path, name)
    candidates = [p for p in list_prompts(dirs) if p.name == name]
    if not candidates:
        known = sorted({p.name for p in list_prompts(dirs)})
        raise PromptError(f"no prompt named {name!r}: known prompts are {', '.join(known) or 'none'}")
    if version is None:
        return _default_of(candidates)
    for prompt in candidates:
        if prompt.version == version:
            return prompt
    versions = ", ".join(p.ref for p in candidates)
    raise PromptError(f"no prompt {name}@{version}: available are {versions} (see `summariser prompts list`)")


def _default_of(candidates: list[Prompt]) -> Prompt:
    """Of one name's versions (sorted), the one NAME alone means."""
    default = DEFAULT_VERSIONS.get(candidates[0].name)
    return next((p for p in candidates if p.version == default), candidates[-1])


def list_prompts_with_defaults(dirs: list[Path] | None = None) -> list[tuple[Prompt, bool]]:
    """``list_prompts`` with, for each version, whether it is its name's default (what
    ``load_prompt(NAME)`` loads): ``summariser prompts list``'s rows."""
    prompts = list_prompts(dirs)
    by_name: dict[str, list[Prompt]] = {}
    for prompt in prompts:
        by_name.setdefault(prompt.name, []).append(prompt)
    defaults = {name: _default_of(versions).version for name, versions in by_name.items()}
    return [(prompt, defaults[prompt.name] == prompt.version) for prompt in prompts]


def diff_prompts(a: Prompt | str, b: Prompt | str) -> str:
    """A unified diff of two template files (each a ``Prompt`` or a ref such as ``article@1``)."""
    a = load_prompt(a) if isinstance(a, str) else a
    b = load_prompt(b) if isinstance(b, str) else b
    return "".join(
        difflib.unified_diff(
            a.text.splitlines(keepends=True),
            b.text.splitlines(keepends=True),
            fromfile=a.ref,
            tofile=b.ref,
        )
    )
