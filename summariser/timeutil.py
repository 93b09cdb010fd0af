"""Parsing the time windows users type: ``--since 24h``, ``--since 7d``, ``--since 2026-11-01``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """Turn ``30m``/``24h``/``7d``/``2w`` or an ISO date/time into an aware UTC datetime.

    A duration counts back from ``now``. A date or time without a zone is local time, which is
    what a user typing ``--since 2026-11-01`` means.
    """
    now = now or datetime.now(timezone.utc)
    match = _DURATION.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        return (now - timedelta(**{_UNITS[unit]: amount})).astimezone(timezone.utc)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is neither a duration nor a date: use e.g. 24h, 7d, 2w or 2026-11-01"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time
    return moment.astimezone(timezone.utc)
