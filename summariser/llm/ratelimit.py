"""Rate limits: requests- and tokens-per-minute buckets, the server's own pauses, and a wrapper
model that waits for them before each call.

* ``RateLimiter``: the buckets (``--rpm``/``--tpm``) and a pause the server sets (a 429's
  Retry-After, ``x-ratelimit-remaining-*`` at zero). The local batch runner (``batch.runner``)
  drives one directly, because it sees each response's headers.
* ``RateLimited(model, rpm=, tpm=)``: any ``ChatModel`` behind the same buckets, so summarise,
  briefing or a user's own loop can keep under an account's limits. It sees replies, not
  headers: a 429 that still happens is the wrapped model's to retry (``llm.retry``).

No ``openai`` import; ``aiolimiter`` is imported when a limiter is made.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

from . import ChatModel, Reply

__all__ = ["RateLimited", "RateLimiter", "estimate_tokens", "parse_reset"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset(value: str | None) -> float | None:
    """OpenAI's ``x-ratelimit-reset-*`` durations (``1s``, ``6m0s``, ``20ms``) in seconds."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[unit] for n, unit in parts)


def estimate_tokens(body: dict[str, Any]) -> int:
    """What a TPM limit counts for a request: prompt (about 4 characters a token) + max_tokens."""
    chars = sum(len(m.get("content") or "") for m in body.get("messages") or [] if isinstance(m, dict) and isinstance(m.get("content"), str))
    return chars // 4 + int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)


class RateLimiter:
    """Requests- and tokens-per-minute buckets, plus a shared pause set by the server.

    The buckets are the user's limits (``--rpm``/``--tpm``), aiolimiter's leaky buckets (full at
    the start, so a run may open with a burst of up to one minute's worth); the server's own say
    wins: a 429's Retry-After, or ``x-ratelimit-remaining-*`` at zero, pauses every worker until
    the reset. Use it from one event loop.
    """

    def __init__(self, *, rpm: float | None = None, tpm: float | None = None) -> None:
        from aiolimiter import AsyncLimiter

        self.rpm = rpm
        self.tpm = tpm
        self._requests = AsyncLimiter(rpm, 60) if rpm else None
        self._tokens = AsyncLimiter(tpm, 60) if tpm else None
        self._resume_at = 0.0
        self._lock = asyncio.Lock()
        self.waited_s = 0.0

    async def acquire(self, tokens: int) -> None:
        async with self._lock:  # first come, first served: one waiter at a time
            started = time.monotonic()
            while (pause := self._resume_at - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            if self._requests is not None:
                await self._requests.acquire()
            if self._tokens is not None and self.tpm:
                await self._tokens.acquire(min(float(tokens), float(self.tpm)))  # one request never needs more than a minute's worth
            self.waited_s += time.monotonic() - started

    def pause(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def observe(self, headers: Any) -> None:
        """Pause when the server says a limit is used up until its reset."""
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            if remaining is None:
                continue
            try:
                left = float(remaining)
            except ValueError:
                continue
            if left <= 0:
                reset = parse_reset(headers.get(f"x-ratelimit-reset-{kind}"))
                if reset:
                    self.pause(reset)


class RateLimited:
    """A ``ChatModel`` that waits for ``rpm``/``tpm`` before each call to ``model``.

    ``Summariser(settings, client=RateLimited(ChatClient(settings), rpm=500))`` keeps a run under
    500 requests a minute, sync or async, from any number of threads and event loops: the
    buckets live in one small event loop of their own (a daemon thread, started on first use,
    stopped by ``close``), which every call asks for its turn. ``waited_s`` is the time calls
    spent waiting; ``limiter`` is the ``RateLimiter`` (``limiter.pause(s)`` holds every call).
    """

    def __init__(self, model: ChatModel, *, rpm: float | None = None, tpm: float | None = None) -> None:
        self.inner = model
        self.limiter = RateLimiter(rpm=rpm, tpm=tpm)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    @property
    def model(self) -> str | None:
        return self.inner.model

    @property
    def waited_s(self) -> float:
        return self.limiter.waited_s

    def _turn(self, body: dict[str, Any]) -> Any:
        """A concurrent future that is done when the buckets let ``body`` go."""
        with self._start:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="summariser-ratelimit", daemon=True)
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(self.limiter.acquire(estimate_tokens(body)), loop)

    def complete(self, body: dict[str, Any]) -> Reply:
        self._turn(body).result()
        return self.inner.complete(body)

    async def acomplete(self, body: dict[str, Any]) -> Reply:
        await asyncio.wrap_future(self._turn(body))
        return await self.inner.acomplete(body)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    def close(self) -> None:
        with self._start:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
        self.inner.close()
