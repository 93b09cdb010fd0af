"""The one retryable-status rule and Retry-After parsing that chat calls and batch runs share."""

from __future__ import annotations

import email.utils
import time

import pytest

from summariser.retry import RETRYABLE_STATUSES, is_retryable_status, retry_after_s


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
