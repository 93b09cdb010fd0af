"""llm.ratelimit: the rpm/tpm buckets and RateLimited, the wrapper model that waits for them."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from summariser.llm import ChatModel, Reply
from summariser.llm.ratelimit import RateLimited, estimate_tokens, parse_reset


class Echo:
    """The smallest ChatModel: answers every body at once and remembers when it was asked."""

    model = "echo"

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.closed = False

    def complete(self, body: dict[str, Any]) -> Reply:
        self.calls.append(time.monotonic())
        return Reply(content=str(len(self.calls)))

    async def acomplete(self, body: dict[str, Any]) -> Reply:
        return self.complete(body)

    def close(self) -> None:
        self.closed = True


def body(chars: int) -> dict[str, Any]:
    return {"model": "echo", "messages": [{"role": "user", "content": "x" * chars}]}


def test_reset_durations_and_the_token_estimate():
    assert parse_reset("6m0s") == 360 and parse_reset("20ms") == 0.02 and parse_reset("2") == 2.0
    assert parse_reset(None) is None and parse_reset("soon") is None
    assert estimate_tokens({"messages": [{"content": "abcd" * 10}, {"content": None}], "max_tokens": 5}) == 15
    assert estimate_tokens({}) == 0


def test_the_wrapper_is_a_chat_model_that_passes_calls_through():
    inner = Echo()
    limited = RateLimited(inner, rpm=600)
    assert isinstance(limited, ChatModel) and limited.model == "echo"
    assert limited.complete(body(4)).content == "1"
    assert asyncio.run(limited.acomplete(body(4))).content == "2"
    assert asyncio.run(limited.acomplete(body(4))).content == "3"  # a second event loop: the buckets are not tied to one
    limited.close()
    assert inner.closed and not any(t.name == "summariser-ratelimit" for t in threading.enumerate())


def test_calls_wait_for_the_token_bucket_sync_and_async():
    inner = Echo()
    limited = RateLimited(inner, tpm=120)  # 120 tokens a minute: 2 a second
    try:
        limited.complete(body(480))  # 120 tokens: the bucket is full
        started = time.monotonic()
        limited.complete(body(4))  # 1 token: about half a second until it has leaked back
        assert time.monotonic() - started > 0.3 and limited.waited_s > 0.3

        async def two() -> None:
            await asyncio.gather(limited.acomplete(body(4)), limited.acomplete(body(4)))

        started = time.monotonic()
        asyncio.run(two())
        assert time.monotonic() - started > 0.6  # one token each, two a second, none left over
    finally:
        limited.close()
    assert len(inner.calls) == 4


def test_a_server_pause_holds_every_call():
    limited = RateLimited(Echo())
    try:
        limited.limiter.pause(0.3)
        started = time.monotonic()
        limited.complete(body(4))
        assert time.monotonic() - started >= 0.29
    finally:
        limited.close()


def test_summarise_runs_through_a_rate_limited_model(seed_text):
    from summariser.extract import Summariser
    from summariser.testing import FakeModel

    fake = FakeModel()
    settings = fake.settings()
    limited = RateLimited(fake.client(settings), rpm=60)
    with Summariser(settings, client=limited) as summariser:
        outcome = summariser.summarise(seed_text)
    assert outcome.summary is not None and fake.chat_count == 1
