"""The only module that imports ``openai``: clients, error translation, the transport loop.

The SDK's own retries are switched off (``max_retries=0``) so every retry is counted and bounded
by one time budget: the rule (429 honouring Retry-After, 5xx, timeouts and connection errors,
backoff with jitter) is ``llm.retry``'s, run here in one loop. Errors no retry can fix (auth,
bad request, context length) fail at once with what to do.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai

from ..config import Settings
from ..drive import run_blocking
from ..endpoint import OPENAI_URL, safe_url
from ..files import atomic_open
from ..redaction import redact, remember_key
from ..errors import (
    AuthError,
    BadRequestError,
    ContextLengthError,
    EndpointUnreachable,
    LLMError,
    ModelNotFoundError,
    ResponseFormatUnsupported,
    TransportError,
)
from . import Reply
from .replies import reply_from_body
from .retry import CONNECT_TRIES, CONNECT_WAIT_S, RetryPolicy, Transient, status_failure

PLACEHOLDER_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one
_CONTEXT_HINTS = ("context_length", "context length", "context size", "maximum context", "too many tokens", "exceeds the available context")
_FORMAT_HINTS = ("response_format", "json_schema", "json schema")
def endpoint_url(settings: Settings) -> str:
    """The endpoint's URL as it is safe to show: no user:password part."""
    return safe_url(settings.base_url or OPENAI_URL)


def _connect_failed(exc: BaseException) -> bool:
    """True when no connection could be made at all (refused, no such host), not a dropped one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.ConnectError, ConnectionRefusedError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate_error(exc: Exception, settings: Settings, *, model: str | None = None) -> Exception:
    """Map an SDK exception to ``Transient`` (retry) or a final, actionable ``LLMError``.

    ``model`` is the name the request asked for (named by a 404)."""
    where = settings.endpoint_host
    if isinstance(exc, openai.APITimeoutError):
        return Transient(f"request to {where} timed out after {settings.timeout_s:g}s")
    if isinstance(exc, openai.APIConnectionError):
        return Transient(f"cannot connect to {where}", unreachable=_connect_failed(exc))
    if not isinstance(exc, openai.APIStatusError):
        return exc
    # A server may echo the key back in its error body: redacted before it reaches any message.
    status, message = exc.status_code, redact(_short(exc), (settings.api_key,))
    code = (getattr(exc, "code", None) or "").lower()
    if status == 429 and code == "insufficient_quota":
        return AuthError(f"{where} says the account has no quota left (429 insufficient_quota): check billing or use another key")
    failure = status_failure(status, getattr(exc.response, "headers", None) or {}, f"{where} answered {status}: {message}")
    if failure is not None:  # the rule which statuses are worth another try is llm.retry's alone
        return failure
    if status in (401, 403):
        return AuthError(f"{where} rejected the credentials ({status}): check OPENAI_API_KEY (and OPENAI_BASE_URL)")
    lowered = f"{code} {message}".lower()
    if any(h in lowered for h in _CONTEXT_HINTS):
        return ContextLengthError(
            f"the article is too long for the model's context window ({where}: {message}): "
            "shorten or split it, or use a model with a larger context"
        )
    if status == 404:
        name = model or settings.model or "(default)"
        return ModelNotFoundError(
            f"model {name!r} not found at {endpoint_url(settings)} (404: {message}): "
            "check --model (or SUMMARISER_MODEL) and --base-url (or OPENAI_BASE_URL)"
        )
    if status == 400 and any(h in lowered for h in _FORMAT_HINTS):
        return ResponseFormatUnsupported(f"{where} rejected structured output ({message}): try --mode json_object")
    return BadRequestError(f"{where} rejected the request ({status}): {message}")


def _short(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    return (exc.message or "")[:300]


def _checked(response: Any, settings: Settings) -> Any:
    # With a non-JSON content type the SDK returns the raw string; with a wrong shape, Nones.
    if isinstance(response, (str, bytes)) or getattr(response, "choices", None) is None:
        raise Transient(f"{settings.endpoint_host} sent something that is not a chat completion")
    return response


def _to_reply(response: Any, latency: float, retries: int) -> Reply:
    # The SDK's model read as it is by the one parser batch import uses too (extra fields such
    # as llama.cpp's "timings" are attributes of it).
    return reply_from_body(response, latency_s=latency, transport_retries=retries)


@dataclass
class ChatClient:
    """Sync and async chat completions against one OpenAI-compatible endpoint."""

    settings: Settings
    adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # server-specific request rewrite
    transport: Any = None  # an httpx transport for both clients (e.g. testing.FakeModel's MockTransport)

    def __post_init__(self) -> None:
        remember_key(self.settings.api_key)
        self._sync: openai.OpenAI | None = None
        self._async: openai.AsyncOpenAI | None = None
        self._policy = RetryPolicy.from_settings(self.settings)  # stateless: built once

    @property
    def model(self) -> str | None:
        return self.settings.model

    def _kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.settings.base_url,
            "api_key": self.settings.api_key or PLACEHOLDER_KEY,
            "max_retries": 0,
            "timeout": self.settings.timeout_s,
        }

    @property
    def sync_client(self) -> openai.OpenAI:
        if self._sync is None:
            extra = {"http_client": httpx.Client(transport=self.transport)} if self.transport is not None else {}
            self._sync = openai.OpenAI(**self._kwargs(), **extra)
        return self._sync

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        if self._async is None:
            extra = {"http_client": httpx.AsyncClient(transport=self.transport)} if self.transport is not None else {}
            self._async = openai.AsyncOpenAI(**self._kwargs(), **extra)
        return self._async

    def _adapted(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.adapt(body) if self.adapt is not None else body

    def _give_up(self, exc: Transient, tries: int, started: float) -> TransportError:
        if exc.unreachable:
            return EndpointUnreachable(
                f"cannot connect to {endpoint_url(self.settings)}: is the server running? "
                f"({tries} {'try' if tries == 1 else 'tries'}; check --base-url or OPENAI_BASE_URL)"
            )
        return TransportError(
            f"gave up after {tries} {'try' if tries == 1 else 'tries'} in {time.monotonic() - started:.1f}s: {exc}; "
            "check the endpoint, or raise --retry-budget"
        )

    def complete(self, body: dict[str, Any]) -> Reply:
        """One chat completion, blocking: ``_send``'s loop run in this thread, no event loop."""
        return run_blocking(self._send(body, self._create_blocking, self._sleep_blocking))

    async def acomplete(self, body: dict[str, Any]) -> Reply:
        """One chat completion, awaited: ``_send``'s loop on the running event loop."""
        return await self._send(body, self._create_async, asyncio.sleep)

    async def _send(
        self,
        body: dict[str, Any],
        create: Callable[..., Awaitable[Any]],
        sleep: Callable[[float], Awaitable[None]],
    ) -> Reply:
        """The transport loop, written once for both APIs: try, translate the error, wait as
        ``llm.retry``'s policy says (``RetryPolicy.next_wait_s``, as the Files/Batches calls and
        the batch runner do), give up with one message. ``create`` and ``sleep`` are the only I/O:
        the async client and ``asyncio.sleep``, or the sync client and ``time.sleep`` wrapped in
        coroutines that never suspend (so ``drive.run_blocking`` can run it, as extract's core)."""
        started, tries = time.monotonic(), 0
        while True:
            tries += 1
            try:
                response = _checked(await create(**self._adapted(body)), self.settings)
            except openai.OpenAIError as exc:
                failure = translate_error(exc, self.settings, model=body.get("model"))
                if not isinstance(failure, Transient):  # no retry can fix it
                    raise (failure.sent(tries, time.monotonic() - started) if isinstance(failure, LLMError) else failure) from None
            except ValueError:  # the SDK lets a 200 with a non-JSON body escape as JSONDecodeError
                failure = Transient(f"{self.settings.endpoint_host} sent a reply that is not JSON")
            except Transient as exc:  # _checked: a 200 that is not a chat completion
                failure = exc
            except LLMError as exc:  # e.g. raised by ``adapt``
                raise exc.sent(tries, time.monotonic() - started)
            else:
                return _to_reply(response, time.monotonic() - started, tries - 1)
            wait = self._policy.next_wait_s(failure, tries, elapsed_s=time.monotonic() - started)
            if wait is None:
                raise self._give_up(failure, tries, started).sent(tries, time.monotonic() - started) from None
            await sleep(wait)

    async def _create_blocking(self, **request: Any) -> Any:
        return self.sync_client.chat.completions.create(**request)

    async def _create_async(self, **request: Any) -> Any:
        return await self.async_client.chat.completions.create(**request)

    @staticmethod
    async def _sleep_blocking(seconds: float) -> None:
        time.sleep(seconds)

    async def aclose(self) -> None:
        """Close the async connections inside the event loop that opened them."""
        if self._async is not None:
            client, self._async = self._async, None
            await client.close()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        if self._async is not None:
            client, self._async = self._async, None
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(client.close())
            else:
                loop.create_task(client.close())


__all__ = ["CONNECT_TRIES", "CONNECT_WAIT_S", "ChatClient", "LLMError", "PLACEHOLDER_KEY", "ResponseFormatUnsupported", "Transient", "endpoint_url", "translate_error"]


# ------------------------------------------------------------------------------------------
# The Files and Batches endpoints (the OpenAI Batch API): upload, create, retrieve, download.
# Kept here so this stays the only module that imports ``openai``; ``batch.api`` calls these.
# Each call gets a client of its own (closed after) and runs under the same error translation
# and ``RetryPolicy`` as chat calls; giving up raises one ``LLMError`` naming the last failure.


def _files_call(settings: Settings, call: Callable[[openai.OpenAI], Any]) -> Any:
    """``call(client)``, retried while ``translate_error`` calls its failure transient."""
    policy = RetryPolicy.from_settings(settings)
    chat = ChatClient(settings)
    started, tries = time.monotonic(), 0
    try:
        while True:
            tries += 1
            try:
                return call(chat.sync_client)
            except Exception as exc:  # openai errors, translated below
                translated = translate_error(exc, settings)
                if not isinstance(translated, Transient):
                    raise translated from None
                wait = policy.next_wait_s(translated, tries, elapsed_s=time.monotonic() - started)
                if wait is None:
                    raise LLMError(f"gave up: {translated}; check the endpoint, or raise --retry-budget") from None
                time.sleep(wait)
    finally:
        chat.close()


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)


def upload_batch_file(settings: Settings, path: Path) -> str:
    """Upload a batch request file (purpose ``batch``) and return its file id."""
    path = Path(path)

    def upload(client: openai.OpenAI) -> Any:
        with path.open("rb") as handle:  # opened per try: a retried upload sends the whole file again
            return client.files.create(file=(path.name, handle), purpose="batch")

    return _files_call(settings, upload).id


def create_batch(settings: Settings, input_file_id: str, *, endpoint: str, metadata: dict[str, str]) -> dict[str, Any]:
    """Create a Batch API job (24 h window) over an uploaded file; the job as a dict."""
    return _as_dict(_files_call(settings, lambda client: client.batches.create(
        input_file_id=input_file_id, endpoint=endpoint, completion_window="24h", metadata=metadata,
    )))


def retrieve_batch(settings: Settings, batch_id: str) -> dict[str, Any]:
    """A Batch API job as the API reports it now, as a dict."""
    return _as_dict(_files_call(settings, lambda client: client.batches.retrieve(batch_id)))


def download_file(settings: Settings, file_id: str, target: Path) -> Path:
    """Stream a file's content (a job's output or error file) to ``target``; return ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)

    def fetch(client: openai.OpenAI) -> None:
        # Each try streams into its own temp file; a failed try leaves the target untouched.
        with client.files.with_streaming_response.content(file_id) as response:
            with atomic_open(target, "wb", fsync=False) as handle:
                for data in response.iter_bytes():
                    handle.write(data)

    _files_call(settings, fetch)
    return target
