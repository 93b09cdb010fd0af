"""The one transport policy: which failures are worth another try, how long to wait, when to stop.

Every HTTP path uses it: the chat client (``llm.openai.ChatClient``), the Files and Batches calls
of the Batch API, and the local batch runner (``batch.runner``). Pure functions and one frozen
``RetryPolicy`` (no ``openai``, no ``httpx`` import), so each caller runs the same rule:

* retryable: HTTP 408, 409, 429 and every 5xx; timeouts; connections that drop. A connection
  that cannot be made at all (refused, no such host) gets ``CONNECT_TRIES`` quick tries only.
* the wait: the server's Retry-After (seconds, HTTP date or ``retry-after-ms``) when it sends
  one, else exponential backoff with jitter.
* the stop: ``max_transport_retries`` retries or the ``--retry-budget`` time budget, whichever
  comes first.

``released`` is here too: tenacity loops leave reference cycles behind unless it frees them.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tenacity import BaseRetrying

    from ..config import Settings

__all__ = [
    "BACKOFF_MAX_S",
    "CONNECT_TRIES",
    "CONNECT_WAIT_S",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "Transient",
    "backoff_s",
    "is_retryable_status",
    "released",
    "retry_after_s",
    "status_failure",
]

# Request timeout, conflict (e.g. a concurrent update), rate limit; plus every 5xx (see below).
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Connection refused: nothing listens there, and waiting the whole retry budget (~33 s with the
# default backoff) for it to appear only hides the mistake. A few quick tries ride out a server
# that is just restarting; then the run stops with one line.
CONNECT_TRIES = 3
CONNECT_WAIT_S = 0.25
BACKOFF_FIRST_S = 0.5  # then doubling, plus up to BACKOFF_JITTER_S of jitter, at most BACKOFF_MAX_S
BACKOFF_JITTER_S = 0.5
BACKOFF_MAX_S = 20.0


class Transient(Exception):
    """A failure worth retrying after a pause (what callers raise inside a retry loop)."""

    def __init__(self, message: str, retry_after: float | None = None, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable  # the connection itself could not be made


def is_retryable_status(status: int) -> bool:
    """True if an HTTP ``status`` may succeed when the same request is sent again later."""
    return status in RETRYABLE_STATUSES or status >= 500


def retry_after_s(headers: Any) -> float | None:
    """Retry-After (seconds or HTTP date) or retry-after-ms, as seconds; None when absent."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def status_failure(status: int, headers: Any, message: str) -> Transient | None:
    """A ``Transient`` carrying the server's Retry-After when ``status`` is worth another try, else None."""
    return Transient(message, retry_after_s(headers)) if is_retryable_status(status) else None


def backoff_s(tries: int, *, jitter: float | None = None) -> float:
    """The pause after try number ``tries`` (1-based) when the server names none: 0.5 s doubling
    to at most 20 s, plus up to 0.5 s of jitter so many clients do not retry in step."""
    jitter = random.uniform(0, BACKOFF_JITTER_S) if jitter is None else jitter
    try:
        value = BACKOFF_FIRST_S * 2 ** (tries - 1) + jitter
    except OverflowError:
        value = BACKOFF_MAX_S
    return max(0.0, min(value, BACKOFF_MAX_S))


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries and how much time one request may spend on transport failures."""

    max_retries: int = 5
    budget_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: "Settings") -> "RetryPolicy":
        return cls(max_retries=settings.max_transport_retries, budget_s=settings.retry_budget_s)

    def wait_s(self, failure: Transient, tries: int) -> float:
        """How long to pause after ``failure`` ended try number ``tries``."""
        if failure.unreachable:
            return CONNECT_WAIT_S * 2 ** (tries - 1)
        if failure.retry_after is not None:
            return min(failure.retry_after, self.budget_s)
        return backoff_s(tries)

    def gives_up(self, failure: Transient, tries: int, *, elapsed_s: float, wait_s: float) -> bool:
        """True when try number ``tries`` was the last: out of tries, out of time once the pause
        is added, or the endpoint could not be reached ``CONNECT_TRIES`` times."""
        return (
            tries > self.max_retries
            or elapsed_s + wait_s >= self.budget_s
            or (failure.unreachable and tries >= CONNECT_TRIES)
        )

    def next_wait_s(self, failure: Transient, tries: int, *, elapsed_s: float) -> float | None:
        """The pause before the next try after ``failure`` ended try number ``tries`` (``elapsed_s``
        after the first began), or None when the policy gives up: what every transport loop asks
        (the chat client, the Files and Batches calls, the local batch runner)."""
        wait = self.wait_s(failure, tries)
        return None if self.gives_up(failure, tries, elapsed_s=elapsed_s, wait_s=wait) else wait


R = TypeVar("R", bound="BaseRetrying")


@contextmanager
def released(retrying: R) -> Iterator[R]:
    """``with released(Retrying(...)) as r: for attempt in r: ...``: freed as soon as it ends.

    A tenacity ``Retrying``/``AsyncRetrying`` object and its call state point at each other (the
    state keeps ``retry_object``; the object keeps ``_retry_state`` and, in a thread-local, its
    bound actions). Reference counting cannot free such a loop, so every request left ~30 objects
    for the cyclic collector; at 64 requests in flight those collections cost more than all of
    summariser's own work (about 0.4 ms a call, measured with ``gc.callbacks``). This breaks the
    cycle when the loop ends. It touches two private attributes of tenacity 9.x;
    ``tests/test_extract.py::test_a_summary_leaves_no_cyclic_garbage`` fails if that stops working.
    """
    try:
        yield retrying
    finally:
        vars(retrying).pop("_retry_state", None)
        retrying._local = threading.local()  # drops the per-thread iter_state (bound actions) and statistics
