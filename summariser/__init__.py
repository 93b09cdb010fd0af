"""summariser: grounded, schema-checked structured summaries of news articles.

    >>> from summariser import summarise_article, Settings
    >>> summary = summarise_article(open("story.txt").read(), settings=Settings.load())
    >>> summary.key_facts[0].quote          # verbatim from the article, checked
    >>> summary.provenance.prompt_version   # which prompt produced it

Everything the README and docs/ show is importable from here. The run store, briefings, export
and batch files are loaded on first use (a module ``__getattr__``): ``import summariser`` and the
CLI's start-up stay as fast as before, since those pull in sqlite3, jinja2, jsonschema and the
batch machinery. The test doubles stay in ``summariser.testing``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .article import Article
from .config import Settings
from .errors import (
    AuthError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    EndpointUnreachable,
    ExportError,
    InputError,
    LLMError,
    ModelError,
    ModelNotFoundError,
    PromptError,
    RefusalError,
    StoreError,
    SummariserError,
    SummaryFailed,
    TransportError,
    TruncationError,
)
from .exitcodes import ExitCode
from .extract import Outcome, Summariser, asummarise_article, summarise_article
from .prompts import Prompt, list_prompts, load_prompt
from .schema import (
    SCHEMA_VERSION,
    ArticleSummary,
    Grounding,
    KeyFact,
    Participant,
    Provenance,
    Stance,
    SummaryDraft,
    Usage,
)

if TYPE_CHECKING:  # what _LAZY names, for type checkers and editors
    from .batch import (
        ImportReport,
        PrepareReport,
        RunReport,
        batch_status,
        collect_batch,
        estimate_cost,
        import_results,
        load_articles,
        prepare_batch,
        price_for,
        run_batch_file,
        submit_batch,
        wait_for_batch,
    )
    from .briefing import BriefingResult, build_briefing
    from .export import ExportReport, export_results
    from .render import render_briefing, write_briefing
    from .store import Store
    from .timeutil import parse_since
    from .whatsnew import load_previous

__version__ = "0.1.0"

# name -> the module that defines it, imported on first access. Batch names come through the
# package summariser.batch, whatever its submodules are.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "ImportReport",
            "PrepareReport",
            "RunReport",
            "batch_status",
            "collect_batch",
            "estimate_cost",
            "import_results",
            "load_articles",
            "prepare_batch",
            "price_for",
            "run_batch_file",
            "submit_batch",
            "wait_for_batch",
        ),
        ".batch",
    ),
    "BriefingResult": ".briefing",
    "build_briefing": ".briefing",
    "ExportReport": ".export",
    "export_results": ".export",
    "render_briefing": ".render",
    "write_briefing": ".render",
    "Store": ".store",
    "parse_since": ".timeutil",
    "load_previous": ".whatsnew",
}


def __getattr__(name: str) -> Any:
    """Import a name of ``_LAZY`` from its module the first time it is asked for."""
    module = _LAZY.get(name)
    if module is None:  # AttributeError lets ``from summariser import submodule`` go on
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Article",
    "ArticleSummary",
    "AuthError",
    "BadRequestError",
    "BriefingResult",
    "ConfigError",
    "ContextLengthError",
    "EndpointUnreachable",
    "ExitCode",
    "ExportError",
    "ExportReport",
    "Grounding",
    "ImportReport",
    "InputError",
    "KeyFact",
    "LLMError",
    "ModelError",
    "ModelNotFoundError",
    "Outcome",
    "Participant",
    "PrepareReport",
    "Prompt",
    "PromptError",
    "Provenance",
    "RefusalError",
    "RunReport",
    "SCHEMA_VERSION",
    "Settings",
    "Stance",
    "Store",
    "StoreError",
    "Summariser",
    "SummariserError",
    "SummaryDraft",
    "SummaryFailed",
    "TransportError",
    "TruncationError",
    "Usage",
    "asummarise_article",
    "batch_status",
    "build_briefing",
    "collect_batch",
    "estimate_cost",
    "export_results",
    "import_results",
    "list_prompts",
    "load_articles",
    "load_previous",
    "load_prompt",
    "parse_since",
    "prepare_batch",
    "price_for",
    "render_briefing",
    "run_batch_file",
    "submit_batch",
    "summarise_article",
    "wait_for_batch",
    "write_briefing",
]
