"""One reply parser: a chat-completion body (a dict, as JSON gives it) into a ``Reply``.

Every transport reads replies through it: the chat client (``llm.openai``, from the SDK's
response) and batch import (``batch.importer``, from a result line's body). It reads defensively:
a missing or odd field becomes None or 0, never an exception, because result files come from
engines this package does not control. No ``openai`` import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..schema import Usage
from . import Reply

__all__ = ["reply_from_body"]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _tokens(usage: Mapping[str, Any]) -> Usage:
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=int(usage.get("total_tokens") or prompt_tokens + completion_tokens),
    )


def _server_timings(body: Mapping[str, Any], usage: Mapping[str, Any]) -> dict[str, Any]:
    """Prompt-cache reuse and prefill/generation time, where the server reports them: OpenAI's
    ``usage.prompt_tokens_details.cached_tokens``, llama.cpp's ``timings`` (``cache_n``,
    ``prompt_ms``, ``predicted_ms``)."""
    found: dict[str, Any] = {}
    cached = _mapping(usage.get("prompt_tokens_details")).get("cached_tokens")
    timings = body.get("timings")
    if isinstance(timings, Mapping):
        if isinstance(timings.get("cache_n"), (int, float)):
            cached = int(timings["cache_n"])
        for key, name in (("prompt_ms", "prompt_s"), ("predicted_ms", "generation_s")):
            if isinstance(timings.get(key), (int, float)):
                found[name] = round(timings[key] / 1000, 4)
    if isinstance(cached, int):
        found["cached_tokens"] = cached
    return found


def reply_from_body(body: Mapping[str, Any], *, latency_s: float = 0.0, transport_retries: int = 0) -> Reply:
    """The ``Reply`` a chat-completion body carries: the first choice's content, finish reason and
    refusal, the token usage, and the server's cache and timing figures when it sends them."""
    choices = body.get("choices")
    choice = _mapping(choices[0]) if isinstance(choices, list) and choices else {}
    message = _mapping(choice.get("message"))
    usage = _mapping(body.get("usage"))
    return Reply(
        content=message.get("content"),
        finish_reason=choice.get("finish_reason"),
        refusal=message.get("refusal"),
        usage=_tokens(usage),
        latency_s=latency_s,
        transport_retries=transport_retries,
        **_server_timings(body, usage),
    )
