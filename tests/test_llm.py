"""summariser.llm: the model interface (ChatModel, Reply) and the direction of its imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from summariser.llm import ChatModel, Reply


def test_session_depends_on_llm_not_the_reverse():
    from summariser import llm, session

    assert session.Reply is llm.Reply is Reply
    for path in Path(llm.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {"session", "extract", "batch"} & {name.split(".")[-1] for name in imported}, path.name


def test_importing_the_interface_does_not_import_openai():
    code = "import sys, summariser.llm; assert 'openai' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_openai_client_is_a_chat_model():
    from summariser.testing import FakeModel

    fake = FakeModel()
    client = fake.client()
    try:
        assert isinstance(client, ChatModel)
        assert client.model == fake.settings().model
    finally:
        client.close()


def test_public_names_still_import_from_summariser_llm():
    from summariser import llm
    from summariser.llm import openai as llm_openai, retry

    assert llm.ChatClient is llm_openai.ChatClient
    assert llm.translate_error is llm_openai.translate_error
    assert llm.Transient is retry.Transient
    for name in llm.__all__:
        assert getattr(llm, name) is not None, name


# ChatClient: complete and acomplete drive one transport loop (ChatClient._send)

_BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "Say something."}]}


def _both(fake, settings=None):
    """complete and acomplete on one fresh client each: the (kind, call) pairs a test runs."""
    import asyncio

    def sync_call():
        client = fake.client(settings)
        try:
            return client.complete(dict(_BODY))
        finally:
            client.close()

    def async_call():
        async def go():
            client = fake.client(settings)
            try:
                return await client.acomplete(dict(_BODY))
            finally:
                await client.aclose()

        return asyncio.run(go())

    return (("sync", sync_call), ("async", async_call))


def test_complete_and_acomplete_retry_alike():
    from summariser.testing import FakeModel, error, reply

    fake = FakeModel()
    for kind, call in _both(fake):
        fake.enqueue(error(429, headers={"Retry-After": "0"}), error(503, headers={"Retry-After": "0"}), reply("hi"))
        before = fake.chat_count
        got = call()
        assert (got.content, got.finish_reason, got.transport_retries) == ("hi", "stop", 2), kind
        assert fake.chat_count - before == 3, kind


def test_complete_and_acomplete_give_up_alike():
    import pytest

    from summariser.errors import AuthError, TransportError
    from summariser.testing import FakeModel, error

    fake = FakeModel()
    settings = fake.settings(max_transport_retries=1)
    messages = []
    for kind, call in _both(fake, settings):
        fake.enqueue(error(500, headers={"Retry-After": "0"}), error(500, headers={"Retry-After": "0"}))
        with pytest.raises(TransportError) as failed:
            call()
        assert failed.value.requests == 2, kind
        messages.append(str(failed.value).replace(f"{failed.value.elapsed_s:.1f}s", "Ns"))
        fake.enqueue(error(401))
        with pytest.raises(AuthError) as final:  # no retry can fix it: one request
            call()
        assert final.value.requests == 1, kind
    assert messages[0] == messages[1] and messages[0].startswith("gave up after 2 tries in ")


def test_the_one_loop_waits_what_the_policy_says_through_the_sleep_it_is_given():
    import asyncio

    from summariser.drive import run_blocking
    from summariser.testing import FakeModel, error, reply

    fake = FakeModel()
    client = fake.client()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    try:
        fake.enqueue(error(429, headers={"Retry-After": "7"}), reply("one"))
        assert run_blocking(client._send(dict(_BODY), client._create_blocking, sleep)).content == "one"
        fake.enqueue(error(429, headers={"retry-after-ms": "1500"}), reply("two"))
        assert asyncio.run(client._send(dict(_BODY), client._create_async, sleep)).content == "two"
    finally:
        client.close()
    assert waits == [7.0, 1.5]


async def test_complete_works_inside_a_running_event_loop():
    """The sync API blocks without an event loop of its own, so it runs inside one (Jupyter)."""
    from summariser.testing import FakeModel, reply

    fake = FakeModel()
    fake.enqueue(reply("inside"))
    client = fake.client()
    try:
        assert client.complete(dict(_BODY)).content == "inside"
    finally:
        client.close()


def test_the_loop_retries_a_reply_that_is_not_json_or_not_a_completion_and_counts_adapt_errors():
    import pytest

    from summariser.errors import BadRequestError
    from summariser.llm import ChatClient
    from summariser.testing import FakeModel, raw, reply

    fake = FakeModel()
    for kind, call in _both(fake, fake.settings(max_transport_retries=2)):
        fake.enqueue(raw("this is not JSON"), raw('{"not": "a completion"}'), reply("third"))
        got = call()
        assert (got.content, got.transport_retries) == ("third", 2), kind

    def refuse(body):
        raise BadRequestError("this server cannot take that request")

    client = ChatClient(fake.settings(), adapt=refuse, transport=fake.transport())
    try:
        with pytest.raises(BadRequestError) as failed:
            client.complete(dict(_BODY))
    finally:
        client.close()
    assert failed.value.requests == 1 and fake.chat_count == 6
