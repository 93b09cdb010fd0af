"""testing.FakeModel: the scripted server's behaviour in-process, for users' own unit tests.

The real openai client and summariser's retry/grounding path run unchanged; only the socket is
replaced by httpx.MockTransport. No port is opened and no thread started.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from conftest import DRAFT_PROMPT
from summariser.errors import AuthError, SummaryFailed, TransportError
from summariser.testing import FakeModel, delay, error, grounded_responder, raw, reply


def _good(text: str) -> dict:
    return grounded_responder({"messages": [{"role": "user", "content": f"<article>{text}</article>"}]})


@pytest.fixture
def no_sockets(monkeypatch):
    """Fail the test if anything opens a network connection."""

    def refuse(*args, **kwargs):
        raise AssertionError("FakeModel opened a socket")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_default_responder_gives_a_grounded_summary_without_a_socket(seed_text, no_sockets):
    fake = FakeModel()
    with fake.summariser(prompt=DRAFT_PROMPT) as s:
        summary = s.summarise(seed_text)
    assert fake.chat_count == 1
    assert summary.key_facts and summary.grounding.grounding_rate == 1.0
    for fact in summary.key_facts:
        assert seed_text[fact.quote_start:fact.quote_end] == fact.quote
    assert summary.provenance.endpoint == "fake-model.invalid"
    assert fake.requests[0]["model"] == "scripted-llm"


def test_429_with_retry_after_then_reply_counts_the_retry(seed_text):
    fake = FakeModel()
    fake.enqueue(error(429, headers={"Retry-After": "0"}), reply(_good(seed_text)))
    with fake.summariser(prompt=DRAFT_PROMPT) as s:
        summary = s.summarise(seed_text)
    assert fake.chat_count == 2 and fake.pending == 0
    assert summary.provenance.transport_retries == 1 and summary.provenance.attempts == 1


def test_invalid_json_is_reasked_through_the_real_session(seed_text):
    fake = FakeModel()
    fake.enqueue(reply("{not json"), reply(_good(seed_text)))
    with fake.summariser(prompt=DRAFT_PROMPT) as s:
        summary = s.summarise(seed_text)
    assert summary.provenance.attempts == 2
    # the re-ask carries the problem back to the model
    assert "JSON" in fake.requests[1]["messages"][-1]["content"]


def test_a_delay_past_the_read_timeout_is_a_timeout_not_a_sleep(seed_text):
    fake = FakeModel()
    fake.enqueue(delay(3600), reply(_good(seed_text)))
    settings = fake.settings(prompt=DRAFT_PROMPT, timeout_s=5.0, retry_budget_s=30.0)
    with fake.summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert fake.chat_count == 2 and summary.provenance.transport_retries == 1


def test_a_401_stops_at_once(seed_text):
    fake = FakeModel()
    fake.enqueue(error(401, message="Incorrect API key provided"))
    with fake.summariser(prompt=DRAFT_PROMPT) as s, pytest.raises(AuthError):
        s.summarise(seed_text)
    assert fake.chat_count == 1


def test_a_server_that_never_recovers_gives_up_with_a_transport_error(seed_text):
    fake = FakeModel(responder=lambda body: raw("<html>bad gateway</html>", status=502, content_type="text/html"))
    settings = fake.settings(prompt=DRAFT_PROMPT, retry_budget_s=30.0, max_transport_retries=2)
    with fake.summariser(settings) as s, pytest.raises(TransportError):
        s.summarise(seed_text)
    assert fake.chat_count == 3


def test_replies_that_never_ground_fail_after_the_attempts(seed_text):
    invented = {"headline": "Moon made of cheese", "summary": "Cheese.",
                "key_facts": [{"fact": "cheese", "quote": "The moon is cheese."}],
                "participants": [], "stances": []}
    fake = FakeModel(responder=lambda body: invented)
    with fake.summariser(fake.settings(prompt=DRAFT_PROMPT, max_attempts=2)) as s, pytest.raises(SummaryFailed) as failed:
        s.summarise(seed_text)
    assert failed.value.attempts == 2 and fake.chat_count == 2


def test_async_path_uses_the_same_fake(seed_text):
    fake = FakeModel()

    async def main():
        summariser = fake.summariser(prompt=DRAFT_PROMPT)
        try:
            return await summariser.asummarise(seed_text)
        finally:
            await summariser.aclose()

    summary = asyncio.run(main())
    assert summary.key_facts and fake.chat_count == 1
