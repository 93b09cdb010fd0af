"""Transport retry policy shared by every HTTP path: which statuses are worth retrying, and how
long the server asks us to wait.

Pure functions only (no ``openai``, no ``httpx``), so the Batch API's runner and the chat client
use one rule without importing each other. The retry loops stay with their callers.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

__all__ = ["RETRYABLE_STATUSES", "is_retryable_status", "retry_after_s"]

# Request timeout, conflict (e.g. a concurrent update), rate limit; plus every 5xx (see below).
RETRYABLE_STATUSES = frozenset({408, 409, 429})


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
