"""The one retryable-status rule and Retry-After parsing that chat calls and batch runs share."""

from __future__ import annotations

import email.utils
import time

import pytest

from summariser.llm.retry import RETRYABLE_STATUSES, is_retryable_status, retry_after_s


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529, 599])
def test_timeouts_conflicts_rate_limits_and_server_errors_are_retried(status):
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 201, 400, 401, 403, 404, 413, 422, 499])
def test_success_and_other_client_errors_are_not(status):
    assert not is_retryable_status(status)
    assert status not in RETRYABLE_STATUSES


def test_retry_after_reads_ms_seconds_and_dates():
    assert retry_after_s({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5  # ms is the finer one
    assert retry_after_s({"retry-after-ms": "soon", "retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after": "-3"}) == 0.0
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_s({"retry-after": date}) <= 30
    assert retry_after_s({"retry-after": email.utils.formatdate(time.time() - 60, usegmt=True)}) == 0.0


def test_retry_after_is_none_when_absent_or_unreadable():
    assert retry_after_s({}) is None
    assert retry_after_s({"retry-after": ""}) is None
    assert retry_after_s({"retry-after": "next tuesday"}) is None


# The policy as pure functions: what to wait, when to give up (llm.retry.RetryPolicy).

from summariser.llm.retry import CONNECT_TRIES, RetryPolicy, Transient, backoff_s  # noqa: E402


def test_backoff_doubles_from_half_a_second_and_is_capped():
    assert [backoff_s(n, jitter=0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_s(30, jitter=0) == backoff_s(5000, jitter=0.4) == 20.0
    assert all(0.5 <= backoff_s(1) <= 1.0 for _ in range(50))  # jitter adds at most half a second


def test_the_server_s_retry_after_wins_but_never_beyond_the_budget():
    policy = RetryPolicy(max_retries=5, budget_s=10.0)
    assert policy.wait_s(Transient("429", retry_after=3.0), 1) == 3.0
    assert policy.wait_s(Transient("429", retry_after=300.0), 1) == 10.0
    assert 0.5 <= policy.wait_s(Transient("503"), 1) <= 1.0


def test_an_unreachable_endpoint_gets_a_few_quick_tries():
    policy = RetryPolicy(max_retries=10, budget_s=60.0)
    refused = Transient("refused", unreachable=True)
    assert policy.wait_s(refused, 1) == 0.25 and policy.wait_s(refused, 2) == 0.5
    assert not policy.gives_up(refused, CONNECT_TRIES - 1, elapsed_s=0.1, wait_s=0.5)
    assert policy.gives_up(refused, CONNECT_TRIES, elapsed_s=0.1, wait_s=0.5)


def test_give_up_after_the_retries_or_the_time_budget():
    policy = RetryPolicy(max_retries=2, budget_s=5.0)
    busy = Transient("503")
    assert not policy.gives_up(busy, 2, elapsed_s=0.0, wait_s=1.0)  # two retries allowed: tries 2 -> 3
    assert policy.gives_up(busy, 3, elapsed_s=0.0, wait_s=1.0)
    assert policy.gives_up(busy, 1, elapsed_s=4.5, wait_s=1.0)  # the pause would overrun the budget


def test_the_policy_comes_from_settings():
    from summariser.config import Settings

    settings = Settings(retry_budget_s=7.5, max_transport_retries=4)
    assert RetryPolicy.from_settings(settings) == RetryPolicy(max_retries=4, budget_s=7.5)


def test_next_wait_is_the_pause_or_none_when_the_policy_gives_up():
    policy = RetryPolicy(max_retries=2, budget_s=5.0)
    assert policy.next_wait_s(Transient("429", retry_after=1.5), 1, elapsed_s=0.0) == 1.5
    assert policy.next_wait_s(Transient("429", retry_after=1.5), 3, elapsed_s=0.0) is None  # out of tries
    assert policy.next_wait_s(Transient("429", retry_after=1.5), 1, elapsed_s=4.0) is None  # out of time
    assert policy.next_wait_s(Transient("refused", unreachable=True), CONNECT_TRIES, elapsed_s=0.0) is None


def test_a_status_becomes_a_transient_carrying_retry_after_only_when_retryable():
    from summariser.llm.retry import status_failure

    failure = status_failure(429, {"retry-after": "2"}, "busy")
    assert isinstance(failure, Transient) and failure.retry_after == 2.0 and str(failure) == "busy"
    assert status_failure(503, {}, "down").retry_after is None
    assert status_failure(400, {"retry-after": "2"}, "bad") is None
    assert status_failure(200, {}, "ok") is None
