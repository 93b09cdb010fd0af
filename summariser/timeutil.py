"""Parsing the moments users type after ``--since``: ``24h``, ``7d``, ``1y``, ``yesterday``,
``3 days ago``, ``last monday``, ``2026-11-01``, ``2026-11-01T06:00+01:00``.

dateparser (a trafilatura dependency, named in pyproject too) reads words and dates; a date or
time without a zone is local time, which is what a user typing ``--since 2026-11-01`` means. The
compact durations (``24h``) are spelled out for it as "24 hours ago": its English parser does
not read them, and letting it guess the language makes ``2w`` depend on which language it picks.
A moment in the future is refused: ``--since tomorrow`` would silently select nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import ConfigError

SINCE_HELP = "a duration back from now (30m, 24h, 7d, 2w, 1y), words (yesterday, '3 days ago', 'last monday') or a date (2026-11-01)"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwy])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "y": "years"}
_SETTINGS = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": True}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``text`` as an aware UTC datetime, counting back from ``now`` (default: the current time)."""
    import dateparser

    now = (now or datetime.now(timezone.utc)).astimezone()
    settings = dict(_SETTINGS, RELATIVE_BASE=now.replace(tzinfo=None))
    duration = _DURATION.match(text)
    wanted = f"{duration.group(1)} {_UNITS[duration.group(2).lower()]} ago" if duration else text.strip()
    try:
        moment = dateparser.parse(wanted, languages=["en"], settings=settings) if wanted else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ConfigError(f"--since {text!r} is not a moment: use {SINCE_HELP}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    moment = moment.astimezone(timezone.utc)
    if moment > now.astimezone(timezone.utc):
        raise ConfigError(f"--since {text!r} is in the future ({moment:%Y-%m-%d %H:%M} UTC): pick a moment in the past")
    return moment
