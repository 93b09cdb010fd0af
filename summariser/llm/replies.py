"""One reply parser: a chat-completion body into a ``Reply``.

Every transport reads replies through it: the chat client (``llm.openai``, the SDK's response
model, read as it is: no copy into a dict) and batch import (``batch.importer``, a result line's
body as JSON gives it). It reads defensively: a missing or odd field becomes None or 0, never an
exception, because result files come from engines this package does not control. No ``openai``
import.
"""

from __future__ import annotations

from typing import Any

from ..schema import Usage
from . import Reply

__all__ = ["reply_from_body"]


def _get(record: Any, name: str) -> Any:
    """``record[name]`` of a dict (JSON), else ``record.name`` (the SDK's pydantic models, extra
    fields included); None when absent. JSON's other values (str, list, numbers, None) have no
    attribute of the names read here, so they read as None too."""
    return record.get(name) if isinstance(record, dict) else getattr(record, name, None)


def _tokens(usage: Any) -> Usage:
    prompt_tokens = int(_get(usage, "prompt_tokens") or 0)
    completion_tokens = int(_get(usage, "completion_tokens") or 0)
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=int(_get(usage, "total_tokens") or prompt_tokens + completion_tokens),
    )


def _server_timings(body: Any, usage: Any) -> dict[str, Any]:
    """Prompt-cache reuse and prefill/generation time, where the server reports them: OpenAI's
    ``usage.prompt_tokens_details.cached_tokens``, llama.cpp's ``timings`` (``cache_n``,
    ``prompt_ms``, ``predicted_ms``)."""
    found: dict[str, Any] = {}
    cached = _get(_get(usage, "prompt_tokens_details"), "cached_tokens")
    # An extra field: the SDK's model keeps it in model_extra (a missing attribute would cost a
    # raised and caught AttributeError inside pydantic on every reply).
    timings = body.get("timings") if isinstance(body, dict) else (getattr(body, "model_extra", None) or {}).get("timings")
    if isinstance(timings, dict):
        if isinstance(timings.get("cache_n"), (int, float)):
            cached = int(timings["cache_n"])
        for key, name in (("prompt_ms", "prompt_s"), ("predicted_ms", "generation_s")):
            if isinstance(timings.get(key), (int, float)):
                found[name] = round(timings[key] / 1000, 4)
    if isinstance(cached, int):
        found["cached_tokens"] = cached
    return found


def reply_from_body(body: Any, *, latency_s: float = 0.0, transport_retries: int = 0) -> Reply:
    """The ``Reply`` a chat-completion body carries (a dict, or the openai SDK's ``ChatCompletion``):
    the first choice's content, finish reason and refusal, the token usage, and the server's
    cache and timing figures when it sends them."""
    choices = _get(body, "choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = _get(choice, "message")
    usage = _get(body, "usage")
    return Reply(
        content=_get(message, "content"),
        finish_reason=_get(choice, "finish_reason"),
        refusal=_get(message, "refusal"),
        usage=_tokens(usage),
        latency_s=latency_s,
        transport_retries=transport_retries,
        **_server_timings(body, usage),
    )
