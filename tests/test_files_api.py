"""The Files and Batches calls in llm.openai: the chat calls' error translation and RetryPolicy.

(The whole flow, upload -> create -> retrieve -> download -> import, is in test_batch.py.)"""

from __future__ import annotations

import httpx
import openai
import pytest

from summariser.config import Settings
from summariser.errors import AuthError, LLMError
from summariser.llm.openai import _files_call
from summariser.llm.retry import CONNECT_TRIES

REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/files")


def settings(**overrides) -> Settings:
    return Settings.load(base_url="http://127.0.0.1:9/v1", api_key="test", **{"retry_budget_s": 10.0, **overrides})


def failing(*failures: Exception, result: object = "ok"):
    calls: list[object] = []

    def call(client: object) -> object:
        calls.append(client)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    return call, calls


def test_a_timeout_is_retried_with_a_client_each_call_gets():
    call, calls = failing(openai.APITimeoutError(request=REQUEST))
    assert _files_call(settings(), call) == "ok"
    assert len(calls) == 2 and isinstance(calls[0], openai.OpenAI)


def test_rejected_credentials_fail_at_once():
    denied = openai.AuthenticationError("no", response=httpx.Response(401, request=REQUEST), body=None)
    call, calls = failing(denied, denied)
    with pytest.raises(AuthError):
        _files_call(settings(), call)
    assert len(calls) == 1


def test_the_policy_s_retry_count_ends_the_call():
    busy = openai.InternalServerError("busy", response=httpx.Response(503, headers={"retry-after": "0"}, request=REQUEST), body=None)
    call, calls = failing(busy, busy, busy, busy)
    with pytest.raises(LLMError, match="gave up"):
        _files_call(settings(max_transport_retries=2), call)
    assert len(calls) == 3


def test_a_refused_connection_gets_the_few_quick_tries():
    refused = openai.APIConnectionError(request=REQUEST)
    refused.__cause__ = httpx.ConnectError("connection refused", request=REQUEST)
    call, calls = failing(*[refused] * 10)
    with pytest.raises(LLMError, match="gave up"):
        _files_call(settings(max_transport_retries=10), call)
    assert len(calls) == CONNECT_TRIES
