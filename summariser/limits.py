"""Size limits checked before any request: no article is sent that cannot (or should not) fit.

Two checks, both before a single token is paid for:

- ``max_chars`` (``--max-chars``, ``SUMMARISER_MAX_CHARS``, default 100,000 characters, about
  25k tokens): a 2 MB text file is almost never one news article, and sent whole it would cost
  ~500k tokens per attempt on a paid endpoint.
- the model's context window, where summariser knows it (the embedded model: llama.cpp's
  per-slot ``n_ctx``): the first request's messages, estimated at ~3.5 characters a token,
  plus the reply's token limit must fit, or the request would only fail after loading the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ContextLengthError, InputError

__all__ = ["CHARS_PER_TOKEN", "DEFAULT_CONTEXT_BUDGET", "DEFAULT_MAX_CHARS", "check_context", "check_length", "estimate_tokens"]

DEFAULT_MAX_CHARS = 100_000
DEFAULT_CONTEXT_BUDGET = 4096  # tokens a briefing request may take: the embedded model's context window per slot
CHARS_PER_TOKEN = 3.5  # English news through a BPE tokenizer: 3.5-4.5; the low end errs on the safe side


def check_length(text: str, *, max_chars: int) -> None:
    """InputError naming the flag when ``text`` is longer than ``max_chars`` characters."""
    if len(text) > max_chars:
        raise InputError(
            f"the article is {len(text):,} characters, over the limit of {max_chars:,}: "
            "split the article, or raise the limit with --max-chars N (or SUMMARISER_MAX_CHARS)"
        )


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Prompt tokens a chat request will take, estimated from its characters."""
    chars = sum(len(m.get("content") or "") for m in messages if isinstance(m.get("content"), str))
    return int(chars / CHARS_PER_TOKEN) + 1


def check_context(messages: Iterable[Mapping[str, Any]], *, max_tokens: int, context_window: int, model: str) -> None:
    """ContextLengthError when the request plus its reply cannot fit ``context_window`` tokens."""
    prompt = estimate_tokens(messages)
    if prompt + max_tokens > context_window:
        raise ContextLengthError(
            f"the article does not fit the model's context: about {prompt:,} prompt tokens plus a {max_tokens:,}-token reply, "
            f"more than the {context_window:,} tokens of {model}: shorten or split the article, or use an "
            "endpoint with a larger context (--base-url)"
        )
