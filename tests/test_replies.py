"""The one reply parser (llm.replies.reply_from_body) that chat calls and batch import share."""

from __future__ import annotations

from typing import Any

from summariser.llm import Reply
from summariser.llm.replies import reply_from_body
from summariser.schema import Usage


def body(**extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "{}", "refusal": None}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        **extra,
    }


def test_a_chat_completion_body_becomes_its_reply():
    reply = reply_from_body(body(), latency_s=0.5, transport_retries=2)
    assert reply == Reply(content="{}", finish_reason="stop", refusal=None, usage=Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120),
                          latency_s=0.5, transport_retries=2)


def test_server_timings_and_cached_tokens_are_read_where_sent():
    openai_style = reply_from_body(body(usage={"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 8}}))
    assert openai_style.cached_tokens == 8 and openai_style.usage.total_tokens == 12  # total from the parts when absent
    llama = reply_from_body(body(timings={"cache_n": 7, "prompt_ms": 12.5, "predicted_ms": 1500}))
    assert (llama.cached_tokens, llama.prompt_s, llama.generation_s) == (7, 0.0125, 1.5)


def test_odd_bodies_give_empty_fields_not_exceptions():
    for odd in ({}, {"choices": []}, {"choices": ["x"], "usage": "none"}, {"choices": [{"message": None}], "usage": None, "timings": "x"}):
        reply = reply_from_body(odd)
        assert reply.content is None and reply.usage == Usage() and reply.cached_tokens is None


def test_the_chat_client_reads_the_sdk_response_with_the_same_parser():
    from openai.types.chat import ChatCompletion

    from summariser.llm.openai import _to_reply

    raw = body(timings={"cache_n": 3, "prompt_ms": 4.0})
    for response in (ChatCompletion.model_validate(raw), ChatCompletion.construct(**raw)):
        assert _to_reply(response, 0.25, 1) == reply_from_body(raw, latency_s=0.25, transport_retries=1)
