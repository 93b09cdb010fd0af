"""summariser: grounded, schema-checked structured summaries of news articles.

    >>> from summariser import summarise_article, Settings
    >>> summary = summarise_article(open("story.txt").read(), settings=Settings.load())
    >>> summary.key_facts[0].quote          # verbatim from the article, checked
    >>> summary.provenance.prompt_version   # which prompt produced it
"""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "Article",
    "ArticleSummary",
    "AuthError",
    "BadRequestError",
    "ConfigError",
    "ContextLengthError",
    "EndpointUnreachable",
    "ExitCode",
    "ExportError",
    "Grounding",
    "InputError",
    "KeyFact",
    "LLMError",
    "ModelError",
    "ModelNotFoundError",
    "Outcome",
    "Participant",
    "Prompt",
    "PromptError",
    "Provenance",
    "RefusalError",
    "SCHEMA_VERSION",
    "Settings",
    "Stance",
    "StoreError",
    "Summariser",
    "SummariserError",
    "SummaryDraft",
    "SummaryFailed",
    "TransportError",
    "TruncationError",
    "Usage",
    "asummarise_article",
    "list_prompts",
    "load_prompt",
    "summarise_article",
]
