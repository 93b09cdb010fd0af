"""The local runner: execute a batch file against any chat-completions endpoint (the embedded
model too), with bounded concurrency and rate limits, writing OpenAI-format result lines.

It speaks plain HTTP (httpx), not the ``openai`` client, because it must see rate-limit headers
and write each raw response body as it came.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..config import Settings
from ..errors import InputError
from ..llm.ratelimit import RateLimiter, estimate_tokens, parse_reset
from ..llm.replies import reply_from_body
from ..llm.retry import RetryPolicy, Transient, status_failure
from ..redaction import redact
from ..schema import Usage
from .files import BATCH_URL, _dumps
from .pricing import estimate_cost, format_cost


@dataclass
class RunReport:
    """What ``run_batch_file`` did."""

    requests: int = 0
    ok: int = 0
    errors: int = 0
    skipped: int = 0
    invalid_lines: list[str] = field(default_factory=list)
    retries: int = 0
    rate_limited: int = 0
    waited_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    usage_by_model: dict[str, Usage] = field(default_factory=dict)
    seconds: float = 0.0
    endpoint: str = ""

    @property
    def cost(self) -> str:
        return format_cost({m: estimate_cost(m, u, batch=False) for m, u in self.usage_by_model.items()})

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "ok": self.ok, "errors": self.errors, "skipped": self.skipped,
            "invalid_lines": self.invalid_lines, "retries": self.retries, "rate_limited": self.rate_limited,
            "usage": self.usage.model_dump(), "estimated_cost": self.cost, "seconds": round(self.seconds, 3),
            "endpoint": self.endpoint,
        }


def count_answered(path: Path) -> int:
    """How many requests a results file already answered with 200 (what --resume skips)."""
    return len(_done_ids(Path(path)))


def _done_ids(path: Path) -> set[str]:
    """custom_ids already answered with 200 in an existing results file (for --resume)."""
    done: set[str] = set()
    if not path.is_file():
        return done
    with path.open("r", encoding="utf-8") as handle:
        for text in handle:
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict) and (line.get("response") or {}).get("status_code") == 200:
                done.add(line.get("custom_id"))
    return done


def _payload(response: Any) -> Any:
    """The response body as JSON when it is JSON, else as text (a result line keeps it as it came)."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _retryable(response: Any, limiter: RateLimiter, report: RunReport) -> Transient | None:
    """The policy's verdict on an HTTP answer; a 429 also pauses every worker (the server's say)."""
    status = response.status_code
    failure = status_failure(status, response.headers, f"the endpoint answered {status}")
    if failure is None or status != 429:
        return failure
    report.rate_limited += 1
    if failure.retry_after is None:  # OpenAI names its reset in x-ratelimit-reset-*: as good as a Retry-After
        reset = parse_reset(response.headers.get("x-ratelimit-reset-requests")) or parse_reset(response.headers.get("x-ratelimit-reset-tokens"))
        failure = Transient(str(failure), reset)
    limiter.pause(failure.retry_after if failure.retry_after is not None else 1.0)
    return failure


async def _send(
    client: Any, url: str, body: dict[str, Any], *, limiter: RateLimiter, policy: RetryPolicy, report: RunReport
) -> tuple[Any, dict[str, Any] | None]:
    """POST ``body`` until it has a final answer, retrying under ``policy``: (response, None) for an
    answer (a non-retryable status, or the last retryable one), (None, error) when the last try
    got no HTTP answer at all."""
    import httpx

    started = time.monotonic()
    tokens = estimate_tokens(body)
    tries = 0
    while True:
        tries += 1
        await limiter.acquire(tokens)
        response, error = None, None
        try:
            response = await client.post(url, json=body)
        except httpx.HTTPError as exc:
            timeout = isinstance(exc, httpx.TimeoutException)
            error = {"code": "timeout" if timeout else "connection_error", "message": f"{type(exc).__name__}: {exc}"[:300]}
            failure = Transient(error["message"], unreachable=isinstance(exc, httpx.ConnectError))
        else:
            limiter.observe(response.headers)
            failure = _retryable(response, limiter, report)
            if failure is None:
                return response, None
        wait = policy.next_wait_s(failure, tries, elapsed_s=time.monotonic() - started)
        if wait is None:
            return response, error
        report.retries += 1
        await asyncio.sleep(wait)


async def _run_lines(
    lines: Iterator[tuple[int, str]],
    out: TextIO,
    *,
    base_url: str,
    api_key: str | None,
    settings: Settings,
    concurrency: int,
    limiter: RateLimiter,
    report: RunReport,
    done: set[str],
    on_progress: Callable[[RunReport], None] | None,
) -> None:
    import httpx

    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(maxsize=concurrency * 2)
    policy = RetryPolicy.from_settings(settings)

    def write(custom_id: str, response: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        record = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id, "response": response, "error": error}
        # A server may echo the key in its body; the result file never keeps it (JSON stays valid).
        out.write(redact(_dumps(record), (api_key,)) + "\n")
        out.flush()

    async def one(client: httpx.AsyncClient, number: int, text: str) -> None:
        try:
            line = json.loads(text)
            custom_id, body = line["custom_id"], line["body"]
            if not isinstance(custom_id, str) or not isinstance(body, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            report.invalid_lines.append(f"line {number}: not a batch request (needs custom_id and body)")
            return
        if custom_id in done:
            report.skipped += 1
            return
        if not str(line.get("url", BATCH_URL)).endswith("/chat/completions"):
            report.errors += 1
            write(custom_id, None, {"code": "invalid_url", "message": f"only {BATCH_URL} is supported, not {line.get('url')}"})
            return
        report.requests += 1
        response, error = await _send(client, url, body, limiter=limiter, policy=policy, report=report)
        if response is None:
            report.errors += 1
            write(custom_id, None, error)
            return
        payload = _payload(response)
        if response.status_code == 200 and isinstance(payload, dict):
            used = reply_from_body(payload).usage
            report.usage = report.usage + used
            model = str(payload.get("model") or body.get("model") or "")
            report.usage_by_model[model] = report.usage_by_model.get(model, Usage()) + used
            report.ok += 1
        else:
            report.errors += 1
        write(custom_id, {"status_code": response.status_code, "request_id": response.headers.get("x-request-id"), "body": payload}, None)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            await one(client, *item)
            if on_progress:
                on_progress(report)

    async with httpx.AsyncClient(timeout=settings.timeout_s, limits=limits, headers=headers) as client:
        tasks = [asyncio.create_task(worker(client)) for _ in range(concurrency)]
        try:
            for item in lines:
                await queue.put(item)
            for _ in tasks:
                await queue.put(None)
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


def run_batch_file(
    path: Path,
    out: Path,
    *,
    settings: Settings,
    concurrency: int | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    resume: bool = False,
    on_progress: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Execute every request line of ``path`` against the configured endpoint (the embedded
    model when none is configured) and write OpenAI-format result lines to ``out``.

    Rate limits: at most ``concurrency`` requests in flight, ``rpm``/``tpm`` per minute when
    given, and the server's 429 Retry-After and ``x-ratelimit-*`` headers pause all workers.
    ``resume`` keeps ``out`` and skips requests it already answered with 200.
    """
    from ..extract import Summariser

    path, out = Path(path), Path(out)
    if not path.is_file():
        raise InputError(f"{path}: no such batch file: make one with `summariser batch prepare`")
    report = RunReport()
    done = _done_ids(out) if resume else set()
    started = time.monotonic()
    with Summariser(settings) as summariser:
        endpoint = summariser.endpoint()
        report.endpoint = endpoint.endpoint_host
        assert endpoint.base_url is not None or endpoint.api_key is not None
        base_url = endpoint.base_url or "https://api.openai.com/v1"
        limiter = RateLimiter(rpm=rpm, tpm=tpm)
        out.parent.mkdir(parents=True, exist_ok=True)

        def numbered() -> Iterator[tuple[int, str]]:
            with path.open("r", encoding="utf-8") as handle:
                for number, text in enumerate(handle, start=1):
                    if text.strip():
                        yield number, text

        with out.open("a" if resume else "w", encoding="utf-8") as handle:
            asyncio.run(_run_lines(
                numbered(), handle, base_url=base_url, api_key=endpoint.api_key, settings=settings,
                concurrency=concurrency or settings.concurrency, limiter=limiter, report=report, done=done,
                on_progress=on_progress,
            ))
        report.waited_s = limiter.waited_s
    report.seconds = time.monotonic() - started
    return report
