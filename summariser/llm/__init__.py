"""Models behind one interface: what a model is (``ChatModel``) and what it answers (``Reply``).

    llm/__init__.py   ChatModel (the protocol) and Reply: session and drivers depend on these only
    llm/retry.py      the one transport policy: classify, Retry-After, backoff, one time budget
    llm/replies.py    the one reply parser: a chat-completion body into a Reply (chat and batch import)
    llm/openai.py     the only module that imports ``openai``: chat, and the Files and Batches calls
                      that batch/api.py makes
    llm/ratelimit.py  rpm/tpm buckets (RateLimiter) and RateLimited, a ChatModel that waits for them
    llm/local.py      the embedded llama.cpp model (``python -m summariser.llm.local serve-child``)

Importing this package does not import ``openai`` (``import summariser`` stays fast): the names
from ``llm.openai`` (``ChatClient``, ``translate_error``, ...) are loaded on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..schema import Usage

if TYPE_CHECKING:
    from ..errors import LLMError, ResponseFormatUnsupported
    from .openai import PLACEHOLDER_KEY, ChatClient, endpoint_url, translate_error
    from .retry import CONNECT_TRIES, CONNECT_WAIT_S, Transient


@dataclass(frozen=True)
class Reply:
    """What came back for one request, whatever transport carried it."""

    content: str | None
    finish_reason: str | None = "stop"
    refusal: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    transport_retries: int = 0
    # What the server says about its own work, when it says it (llama.cpp's "timings").
    cached_tokens: int | None = None
    prompt_s: float | None = None
    generation_s: float | None = None


@runtime_checkable
class ChatModel(Protocol):
    """What summariser needs from a model: send one chat-completions request body, get a Reply.

    ``body`` is exactly what ``Session.request()`` builds (``model``, ``messages``,
    ``response_format``, ...). Transport failures are retried inside the model; what reaches the
    caller is a ``Reply`` or a final ``LLMError``. ``ChatClient`` is the OpenAI-compatible one.
    """

    @property
    def model(self) -> str | None:
        """The model name requests go to when the body names none (None: the endpoint's default)."""
        ...

    def complete(self, body: dict[str, Any]) -> Reply: ...

    async def acomplete(self, body: dict[str, Any]) -> Reply: ...

    def close(self) -> None: ...


_LAZY = {
    "ChatClient": "openai",
    "PLACEHOLDER_KEY": "openai",
    "endpoint_url": "openai",
    "translate_error": "openai",
    "CONNECT_TRIES": "retry",
    "CONNECT_WAIT_S": "retry",
    "RetryPolicy": "retry",
    "Transient": "retry",
    "is_retryable_status": "retry",
    "retry_after_s": "retry",
}


def __getattr__(name: str) -> Any:
    if name in ("LLMError", "ResponseFormatUnsupported"):
        from .. import errors

        return getattr(errors, name)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ChatClient",
    "ChatModel",
    "LLMError",
    "Reply",
    "ResponseFormatUnsupported",
    "Transient",
    "endpoint_url",
    "translate_error",
]
