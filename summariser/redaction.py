"""Keep API keys out of every text summariser prints, stores or exports.

A server may echo the key it was sent back in an error body ("invalid key sk-..."), and a
hostile model may write it into a reply. Every error text, stored reply and batch result line
goes through :func:`redact` first, which replaces

- the configured key(s): the ``keys`` given, plus every key :func:`remember_key` was told about
  (``Settings.load`` and the chat client register the one they use), and
- anything shaped like a key: ``sk-...`` (OpenAI and compatible), ``Bearer <token>``, and
  ``api_key=...`` / ``"api-key": "..."`` assignments,

with ``[REDACTED]``. The replacement holds no quote or backslash, so redacting JSON text keeps
it valid JSON. Pure string work; imports nothing of summariser's.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "redact", "redact_data", "remember_key"]

MASK = "[REDACTED]"
MIN_KEY_CHARS = 6  # shorter "keys" (e.g. "test") would blank ordinary words out of messages
_NOT_SECRETS = frozenset({"not-needed", "none", "null", "dummy", "empty"})

# (pattern, replacement, literals, case-blind): the patterns run only when one of the literals
# occurs in the lowered text. Scanning 6 kB with these regexes costs ~1 ms, the literal checks a
# few microseconds, and the store redacts every attempt's messages.
_KEY_SHAPES: tuple[tuple[re.Pattern[str], str, tuple[str, ...], bool], ...] = (
    # OpenAI-style secret keys (sk-..., sk-proj-..., sk-svcacct-...), also after "key=" or in URLs.
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{8,}"), MASK, ("sk-",), False),
    # Bearer tokens in echoed headers.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{6,}"), r"\1 " + MASK, ("bearer",), True),
    # api_key=..., "api-key": "...", x-api-key: ..., authorization: ...
    (
        re.compile(r"""(?i)((?:x-)?api[_-]?key|authorization|access[_-]?token)(["']?\s*[:=]\s*["']?)(?!bearer\b)([^\s"',;}&]{6,})"""),
        r"\1\2" + MASK,
        ("api_key", "api-key", "apikey", "authorization", "access_token", "access-token", "accesstoken"),
        True,
    ),
)

# Plain substring tests (str.find is fast); a regex alternation of them scans ~100x slower.
_LITERALS = tuple(literal for *_, literals, _ in _KEY_SHAPES for literal in literals)
_lock = threading.Lock()
_remembered: set[str] = set()


def remember_key(key: str | None) -> None:
    """Redact ``key`` from every later :func:`redact` call in this process (the configured key)."""
    if key and len(key) >= MIN_KEY_CHARS and key.lower() not in _NOT_SECRETS:
        with _lock:
            _remembered.add(key)


def _forms(key: str) -> set[str]:
    # The key as written, and as it appears inside a JSON string (quotes, backslashes escaped).
    return {key, json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1]}


def redact(text: str | None, keys: Iterable[str | None] = ()) -> str | None:
    """``text`` with the configured keys and key-shaped tokens replaced by ``[REDACTED]``."""
    if not text:
        return text
    with _lock:
        secrets = set(_remembered)
    secrets.update(k for k in keys if k and len(k) >= MIN_KEY_CHARS and k.lower() not in _NOT_SECRETS)
    # Longest first, so a key that contains another is removed whole.
    for secret in sorted({form for key in secrets for form in _forms(key)}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    lowered = text.lower()
    if not any(literal in lowered for literal in _LITERALS):  # the common case: nothing shaped like a key
        return text
    for pattern, replacement, _, _ in _KEY_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_data(value: Any, keys: Iterable[str | None] = ()) -> Any:
    """A copy of JSON-like data (dicts, lists, strings) with every string redacted."""
    keys = tuple(keys)
    if isinstance(value, str):
        return redact(value, keys)
    if isinstance(value, dict):
        return {k: redact_data(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v, keys) for v in value]
    return value
