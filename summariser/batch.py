"""Batch files: summarise 100,000 articles through the OpenAI Batch API, ``vllm run-batch``, a
LiteLLM proxy or the local runner here, then validate every result and re-ask only the failures.

The file format is OpenAI's JSON Lines. A request line::

    {"custom_id": "<cache key[:32]>-a<attempt>", "method": "POST", "url": "/v1/chat/completions",
     "body": <exactly what ``summarise`` would send: Session.request()>}

A result line (OpenAI output and error files, ``vllm run-batch`` output, ``batch run``)::

    {"id": ..., "custom_id": ..., "response": {"status_code": 200, "body": <chat.completion>},
     "error": null}

The flow, and why it is safe to repeat any step:

* ``prepare_batch`` saves each article and its request to the store and writes one line per
  article without a stored result. The store, not the file, is the source of truth: preparing
  again re-emits requests still in flight instead of inventing new ones.
* ``import_results`` rebuilds each conversation from the store (article text + prompt + the
  ``Session.checkpoint()`` kept with re-asks) and feeds the reply to ``Session.accept`` - the
  same checks ``summarise`` runs. Valid summaries are stored as ordinary runs; rejected replies
  become the next request (the bounded re-ask) in a repair file; a request is answered at most
  once, so importing a file twice changes nothing.
* ``run_batch_file`` executes a batch file against any chat-completions endpoint (the embedded
  model too) and writes the standard result format, so the same files work offline.

Only the Files and Batches endpoints go through the ``openai`` client (built by llm.py); the
local runner speaks plain HTTP (httpx) because it must see rate-limit headers and write each
raw response body as it came.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .article import Article
from .config import Settings
from .errors import ConfigError, InputError, LLMError, SummariserError
from .files import atomic_open
from .prompts import Prompt, load_prompt
from .llm.retry import is_retryable_status, retry_after_s
from .redaction import redact
from .schema import Usage
from .llm import Reply
from .session import ArticleTask, ReplyRejected, Session, build_summary, summary_key

if TYPE_CHECKING:
    from .store import BatchRequestRow, BatchResultRecord, Store

BATCH_URL = "/v1/chat/completions"
# OpenAI's limits per input file: 50,000 requests, 200 MB. Stay a little under the bytes limit.
MAX_FILE_LINES = 50_000
MAX_FILE_BYTES = 200 * 1000 * 1000
CHUNK = 500  # lines handled per store round trip (one transaction per chunk on import)
_CUSTOM_ID = re.compile(r"^([0-9a-f]{32})-a(\d+)$")

# List prices come from genai-prices (pydantic's maintained price data, shipped as an offline
# snapshot: no network at run time) for OpenAI models, the ones the Batch API bills; the Batch
# API bills half of list price. Any other model (a local or vLLM one) has no price: "n/a".
PRICE_PROVIDER = "openai"
BATCH_DISCOUNT = 0.5


def price_for(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for ``model`` at list price, or None when unknown.

    Dated snapshots count as their model (gpt-4o-mini-2024-07-18 is gpt-4o-mini); an
    ``org/`` prefix is ignored."""
    from genai_prices import Usage as TokenUsage, calc_price

    name = model.split("/")[-1].lower()
    try:
        per_mtok = calc_price(TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000), model_ref=name, provider_id=PRICE_PROVIDER)
    except LookupError:
        return None
    return float(per_mtok.input_price), float(per_mtok.output_price)


def estimate_cost(model: str, usage: Usage, *, batch: bool = True) -> float | None:
    """Estimated USD for ``usage`` on ``model`` (Batch API price unless ``batch=False``); None if unknown."""
    price = price_for(model)
    if price is None:
        return None
    cost = (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000
    return cost * BATCH_DISCOUNT if batch else cost


def format_cost(costs: dict[str, float | None]) -> str:
    """``$1.23`` when every model has a price, ``n/a`` when none has, else the known part noted."""
    known = [c for c in costs.values() if c is not None]
    unknown = sorted(m for m, c in costs.items() if c is None)
    if not costs or not known:
        return "n/a"
    text = f"${sum(known):,.4f}"
    return f"{text} (+ n/a for {', '.join(unknown)})" if unknown else text


def make_custom_id(key: str, attempt: int) -> str:
    """``<first 32 hex of the cache key>-a<attempt>``: 128 bits name the article, prompt file,
    model and schema version; the suffix tells a repair from the first request."""
    return f"{key[:32]}-a{attempt}"


def parse_custom_id(custom_id: str) -> tuple[str, int] | None:
    match = _CUSTOM_ID.match(custom_id)
    return (match.group(1), int(match.group(2))) if match else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# ------------------------------------------------------------------------------------------
# Writing batch files


class SplitWriter:
    """Write JSON Lines to ``path``, moving on to ``stem-002.jsonl``... at the per-file limits.

    The first file is renamed ``stem-001.jsonl`` once a second one is needed, so a batch that
    fits in one file keeps the name asked for. Nothing is created when nothing is written.
    """

    def __init__(self, path: Path, *, max_lines: int = MAX_FILE_LINES, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.path = Path(path)
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.paths: list[Path] = []
        self.lines = 0
        self._file: TextIO | None = None
        self._lines_here = 0
        self._bytes_here = 0

    def _numbered(self, n: int) -> Path:
        suffix = self.path.suffix or ".jsonl"
        return self.path.with_name(f"{self.path.stem}-{n:03d}{suffix}")

    def write(self, line: str) -> None:
        data = line + "\n"
        size = len(data.encode("utf-8"))
        if self._file is not None and (self._lines_here >= self.max_lines or self._bytes_here + size > self.max_bytes):
            self._file.close()
            if len(self.paths) == 1:
                first = self._numbered(1)
                os.replace(self.paths[0], first)
                self.paths[0] = first
            self._file = None
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = self.path if not self.paths else self._numbered(len(self.paths) + 1)
            self._file = target.open("w", encoding="utf-8")
            self.paths.append(target)
            self._lines_here = self._bytes_here = 0
        self._file.write(data)
        self._lines_here += 1
        self._bytes_here += size
        self.lines += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "SplitWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request_line(custom_id: str, body: dict[str, Any]) -> str:
    return _dumps({"custom_id": custom_id, "method": "POST", "url": BATCH_URL, "body": body})


# ------------------------------------------------------------------------------------------
# Rebuilding conversations


class _Conversations:
    """Sessions rebuilt from batch request rows: the same prompt, task and checks as summarise."""

    def __init__(self) -> None:
        self._prompts: dict[str, Prompt] = {}

    def prompt(self, ref: str) -> Prompt:
        if ref not in self._prompts:
            self._prompts[ref] = load_prompt(ref)
        return self._prompts[ref]

    def session(self, row: "BatchRequestRow", article: Article) -> Session:
        params = row.params
        task = ArticleTask(article, fuzzy_threshold=float(params.get("fuzzy_threshold", 95.0)))
        session = Session(
            task,
            self.prompt(row.prompt),
            model=row.model,
            mode=params.get("mode", "json_schema"),
            max_attempts=int(params.get("max_attempts", 3)),
            strict=bool(params.get("strict", False)),
        )
        return session.resume(row.state) if row.state else session


def _article_of(row: "BatchRequestRow", text: str) -> Article:
    return Article(text=text, source=row.source, title=row.title)


# ------------------------------------------------------------------------------------------
# prepare


@dataclass
class PrepareReport:
    """What ``prepare_batch`` wrote."""

    articles: int = 0
    requests: int = 0
    cached: int = 0
    in_flight: int = 0
    duplicates: int = 0
    input_errors: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    model: str = ""
    prompt: str = ""


def prepare_batch(
    articles: Iterable[Article],
    out: Path,
    *,
    store: "Store",
    settings: Settings,
    prompt: Prompt | str | None = None,
    max_lines: int = MAX_FILE_LINES,
    max_bytes: int = MAX_FILE_BYTES,
    on_progress: Callable[[PrepareReport], None] | None = None,
) -> PrepareReport:
    """Write one request line per article without a stored result; save articles + requests.

    Streams: ``articles`` may be a generator of any length; memory holds one chunk at a time.
    An article whose request is already in flight is written again with the same ``custom_id``
    (and body), so a lost file can be re-made; an article that failed for good starts afresh.
    """
    from .store import BatchRequestRow

    ref = prompt if prompt is not None else settings.prompt
    template = ref if isinstance(ref, Prompt) else load_prompt(ref)
    model = settings.model_name
    mode = "json_object" if settings.mode == "json_object" else "json_schema"
    params = {"mode": mode, "max_attempts": settings.max_attempts, "strict": settings.strict, "fuzzy_threshold": settings.fuzzy_threshold}
    report = PrepareReport(model=model, prompt=template.ref)
    conversations = _Conversations()
    conversations._prompts[template.ref] = template

    def flush(chunk: list[Article], writer: SplitWriter) -> None:
        keyed: dict[str, Article] = {}
        for article in chunk:
            key = summary_key(article, template, model, settings)
            if key in keyed:
                report.duplicates += 1
            keyed[key] = article
        done = store.cached_keys(keyed)
        pending = store.pending_batch_requests(k for k in keyed if k not in done)
        fresh: list[tuple[Article, BatchRequestRow]] = []
        lines: list[str] = []
        for key, article in keyed.items():
            if key in done:
                report.cached += 1
                continue
            row = pending.get(key)
            if row is not None:
                report.in_flight += 1
                body = conversations.session(row, _article_of(row, article.text)).request()
            else:
                row = BatchRequestRow(
                    custom_id=make_custom_id(key, 1), cache_key=key, attempt=1, article_sha256=article.sha256,
                    source=article.source, title=article.title, prompt=template.ref, prompt_sha256=template.sha256,
                    model=model, params=params, started_at=_now(),
                )
                fresh.append((article, row))
                body = conversations.session(row, article).request()
            lines.append(request_line(row.custom_id, body))
        store.add_batch_requests(fresh)  # saved before written: an import can always find its request
        for line in lines:
            writer.write(line)
        report.requests += len(lines)

    from .limits import check_length

    chunk: list[Article] = []
    with SplitWriter(out, max_lines=max_lines, max_bytes=max_bytes) as writer:
        for article in articles:
            report.articles += 1
            try:
                check_length(article.text, max_chars=settings.max_chars)
            except InputError as exc:  # never written, never paid for
                report.input_errors.append(f"{article.label}: {exc}")
                continue
            chunk.append(article)
            if len(chunk) >= CHUNK:
                flush(chunk, writer)
                chunk = []
                if on_progress:
                    on_progress(report)
        if chunk:
            flush(chunk, writer)
        report.files = list(writer.paths)
    return report


def load_articles(
    sources: Iterable[str | Path], errors: list[str], *, pattern: str | None = None, fetch_timeout_s: float = 20.0
) -> Iterator[Article]:
    """Articles from files, directories, globs, stdin, URLs and feeds (the same reader as
    ``summarise``), lazily; unreadable inputs go to ``errors`` as one line each."""
    from .collect import Collector

    failures: list = []

    def drain() -> None:
        errors.extend(f"{f.source}: {f.reason}" for f in failures)
        failures.clear()

    with Collector(timeout_s=fetch_timeout_s, pattern=pattern) as collector:
        for article in collector.iter_articles(sources, failures):
            drain()
            yield article
    drain()


# ------------------------------------------------------------------------------------------
# import


@dataclass
class ImportReport:
    """What importing result files did. ``stored`` counts valid summaries now in the store."""

    lines: int = 0
    stored: int = 0
    repaired: int = 0
    to_repair: int = 0
    resent: int = 0
    already: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (custom_id, article, reason)
    unknown: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, str]] = field(default_factory=list)  # (custom_id or line, reason)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # (custom_id, article, warning): stored, but flagged
    usage: Usage = field(default_factory=Usage)
    usage_by_model: dict[str, Usage] = field(default_factory=dict)
    repair_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def costs(self) -> dict[str, float | None]:
        return {model: estimate_cost(model, usage, batch=True) for model, usage in self.usage_by_model.items()}

    @property
    def cost(self) -> str:
        return format_cost(self.costs)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.unknown or self.mismatched)

    def add_usage(self, model: str, usage: Usage) -> None:
        self.usage = self.usage + usage
        self.usage_by_model[model] = self.usage_by_model.get(model, Usage()) + usage

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "stored": self.stored,
            "repaired": self.repaired,
            "to_repair": self.to_repair,
            "resent": self.resent,
            "already_imported": self.already,
            "failed": [{"custom_id": c, "article": a, "reason": r} for c, a, r in self.failed],
            "unknown": self.unknown,
            "mismatched": [{"custom_id": c, "reason": r} for c, r in self.mismatched],
            "warnings": [{"custom_id": c, "article": a, "warning": w} for c, a, w in self.warnings],
            "usage": self.usage.model_dump(),
            "estimated_cost": self.cost,
            "repair_files": [str(p) for p in self.repair_files],
            "seconds": round(self.seconds, 3),
        }


_RETRYABLE_ERROR_CODES = {"batch_expired", "batch_cancelled", "rate_limit_exceeded", "server_error", "timeout", "connection_error", "truncated_line"}
# The custom_id of a result line that is cut off (a download or a writer that died mid-line):
# OpenAI and vllm put it near the start, so it usually survives.
_CUT_CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"((?:[^"\\]|\\.)+)"')


def _line_problem(line: dict[str, Any]) -> tuple[str, bool] | None:
    """Why a result line carries no chat completion, and whether resending can help."""
    error = line.get("error")
    response = line.get("response")
    if error:
        code = str(error.get("code") or "") if isinstance(error, dict) else ""
        message = str(error.get("message") or error) if isinstance(error, dict) else str(error)
        return redact(f"{code or 'error'}: {message}")[:300], code in _RETRYABLE_ERROR_CODES or not code
    if not isinstance(response, dict):
        return "the result line has no response", True
    status = response.get("status_code")
    body = response.get("body")
    if status != 200:
        message = body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = body["error"].get("message") or body["error"]
        text = redact(f"the endpoint answered {status}: {message}")[:300]
        retryable = not isinstance(status, int) or is_retryable_status(status)
        return text, retryable
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return "the response body is not a chat completion", True
    return None


def _reply_of(body: dict[str, Any]) -> Reply:
    choice = body["choices"][0] if body["choices"] else {}
    message = choice.get("message") or {}
    usage = body.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    return Reply(
        content=message.get("content"),
        finish_reason=choice.get("finish_reason"),
        refusal=message.get("refusal"),
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    total_tokens=int(usage.get("total_tokens") or prompt_tokens + completion_tokens)),
    )


_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$|-\d{4}$")


def _same_model(asked: str, answered: str | None) -> bool:
    """Providers answer with a dated snapshot (gpt-4o-mini-2024-07-18) or drop a provider prefix."""
    if not answered:
        return True

    def norm(name: str) -> str:
        return _SNAPSHOT.sub("", name.split("/")[-1].lower())

    return norm(asked) == norm(answered) or norm(answered).startswith(norm(asked))


def _fail_reason(exc: BaseException) -> str:
    return (redact(str(exc).splitlines()[0]) or "")[:300]


class _Importer:
    def __init__(self, store: "Store", *, repair: SplitWriter, endpoint: str, report: ImportReport) -> None:
        self.store = store
        self.repair = repair
        self.endpoint = endpoint
        self.report = report
        self.conversations = _Conversations()
        self._repair_ids: set[str] = set()  # one line per request in the repair file

    def _emit(self, row: "BatchRequestRow", article: Article) -> None:
        if row.custom_id in self._repair_ids:
            return
        self._repair_ids.add(row.custom_id)
        # The re-ask carries the last reply: a reply that echoed a key loses it here, as in the store.
        self.repair.write(redact(request_line(row.custom_id, self.conversations.session(row, article).request())))

    def chunk(self, lines: list[tuple[int, str]]) -> None:

        report = self.report
        parsed: list[tuple[str, dict[str, Any]]] = []
        for number, text in lines:
            try:
                line = json.loads(text)
            except ValueError:
                found = _CUT_CUSTOM_ID.search(text)
                if found is None:
                    report.mismatched.append((f"line {number}", "not valid JSON and no custom_id: `batch prepare` on the same articles writes any unanswered request again"))
                    continue
                # Cut off: its request is asked again (the repair file), never silently dropped.
                report.mismatched.append((f"line {number}", f"cut off (not valid JSON): {found.group(1)} goes into the repair file"))
                line = {"custom_id": found.group(1), "error": {"code": "truncated_line", "message": "the result line is cut off"}}
            custom_id = line.get("custom_id") if isinstance(line, dict) else None
            if not isinstance(custom_id, str):
                report.mismatched.append((f"line {number}", "no custom_id"))
                continue
            parsed.append((custom_id, line))
        rows = self.store.get_batch_requests(c for c, _ in parsed)
        # Requests already superseded by a re-ask: find the re-ask so it can be written again.
        successors = self.store.pending_batch_requests(r.cache_key for r in rows.values() if r.status == "repair")
        texts = self.store.article_texts({r.article_sha256 for r in rows.values()} | {r.article_sha256 for r in successors.values()})
        records: list[BatchResultRecord] = []
        seen: set[str] = set()
        for custom_id, line in parsed:
            row = rows.get(custom_id)
            if row is None:
                report.unknown.append(custom_id)
                continue
            if custom_id in seen:
                report.mismatched.append((custom_id, "appears more than once in the results; the first was used"))
                continue
            seen.add(custom_id)
            text = texts.get(row.article_sha256)
            if text is None:
                report.mismatched.append((custom_id, "the store has this request but not its article text"))
                continue
            article = _article_of(row, text)
            if row.status != "pending":
                report.already += 1
                successor = successors.get(row.cache_key)
                if row.status == "repair" and successor is not None and successor.attempt > row.attempt:
                    report.to_repair += 1
                    self._emit(successor, _article_of(successor, texts.get(successor.article_sha256, text)))
                continue
            key = parse_custom_id(custom_id)
            if key is None or not row.cache_key.startswith(key[0]) or key[1] != row.attempt:
                report.mismatched.append((custom_id, "the custom_id does not match the request stored under it"))
                continue
            problem = _line_problem(line)
            if problem is not None:
                reason, retryable = problem
                if retryable:
                    report.resent += 1
                    self._emit(row, article)
                else:
                    records.append(self._closed(row, None, "failed", reason, article))
                continue
            body = line["response"]["body"]
            if not _same_model(row.model, body.get("model")):
                report.mismatched.append((custom_id, f"answered by model {body.get('model')!r}, but {row.model!r} was asked"))
                continue
            records.append(self._accept(row, article, _reply_of(body)))
        self.store.record_batch_results(records)

    def _accept(self, row: "BatchRequestRow", article: Article, reply: Reply) -> "BatchResultRecord":
        from .store import BatchRequestRow, BatchResultRecord

        session = self.conversations.session(row, article)
        self.report.add_usage(row.model, reply.usage)
        try:
            session.accept(reply)
        except ReplyRejected:
            successor = BatchRequestRow(
                **{**row.__dict__, "custom_id": make_custom_id(row.cache_key, row.attempt + 1), "attempt": row.attempt + 1,
                   "state": session.checkpoint(), "status": "pending", "run_id": None, "error": None}
            )
            self.report.to_repair += 1
            self._emit(successor, article)
            return BatchResultRecord(request=row, status="repair", successor=successor)
        except SummariserError as exc:
            return self._closed(row, session, "failed", _fail_reason(exc), article)
        return self._closed(row, session, "done", None, article)

    def _closed(self, row: "BatchRequestRow", session: Session | None, status: str, error: str | None, article: Article) -> "BatchResultRecord":
        from .store import BatchResultRecord

        duration = 0.0
        if row.started_at:
            try:
                duration = max(0.0, (datetime.now(timezone.utc) - datetime.fromisoformat(row.started_at)).total_seconds())
            except ValueError:
                pass
        summary = None
        if status == "done":
            assert session is not None
            summary = build_summary(session, article, endpoint=self.endpoint, duration_s=duration)
            self.report.warnings += [(row.custom_id, article.label, w) for w in summary.grounding.warnings]
            self.report.stored += 1
            if len(session.attempts) > 1:
                self.report.repaired += 1
        else:
            self.report.failed.append((row.custom_id, article.label, error or "failed"))
        if session is None and row.state:
            session = self.conversations.session(row, article)
        return BatchResultRecord(
            request=row,
            status=status,
            endpoint=self.endpoint,
            attempts=tuple(session.attempts) if session else (),
            usage=session.usage if session else Usage(),
            summary=summary,
            error=error,
            duration_s=round(duration, 3),
        )


def default_repair_path(results: Path) -> Path:
    return results.with_name(f"{results.stem}.repair.jsonl")


def import_results(
    results: Path | Iterable[Path],
    *,
    store: "Store",
    repair: Path | None = None,
    endpoint: str = "batch",
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Validate, ground and store every result line; write failures' re-asks to ``repair``.

    ``results`` is one or more result files from any engine (OpenAI output/error files, ``vllm
    run-batch``, ``batch run``). ``repair`` defaults to ``<first results>.repair.jsonl``; it is
    only written when something needs asking again. ``endpoint`` is recorded as provenance.
    """
    paths = [Path(results)] if isinstance(results, (str, Path)) else [Path(p) for p in results]
    if not paths:
        raise InputError("no result files given")
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such results file: check the path (batch collect downloads them)")
    started = time.monotonic()
    report = ImportReport()
    repair_path = repair or default_repair_path(paths[0])
    with SplitWriter(repair_path) as writer:
        importer = _Importer(store, repair=writer, endpoint=endpoint, report=report)
        for path in paths:
            with path.open("r", encoding="utf-8") as handle:
                chunk: list[tuple[int, str]] = []
                for number, text in enumerate(handle, start=1):
                    if not text.strip():
                        continue
                    report.lines += 1
                    chunk.append((number, text))
                    if len(chunk) >= CHUNK:
                        importer.chunk(chunk)
                        chunk = []
                        if on_progress:
                            on_progress(report)
                if chunk:
                    importer.chunk(chunk)
        report.repair_files = list(writer.paths)
    report.seconds = time.monotonic() - started
    return report


# ------------------------------------------------------------------------------------------
# The Batch API (OpenAI): submit, status, collect


TERMINAL_STATUSES = ("completed", "failed", "expired", "cancelled")


def _batch_client(settings: Settings):
    from .llm import ChatClient

    if settings.uses_local_model:
        raise ConfigError(
            "the Batch API needs a remote endpoint: set OPENAI_API_KEY (and OPENAI_BASE_URL for "
            "other providers), or run the file locally with `summariser batch run FILE`"
        )
    return ChatClient(settings).sync_client


def _api_call(settings: Settings, call: Callable[[], Any]) -> Any:
    """One Files/Batches call with the same error translation and retries as chat calls."""
    from .llm import Transient, translate_error

    delay = 1.0
    deadline = time.monotonic() + settings.retry_budget_s
    while True:
        try:
            return call()
        except Exception as exc:  # openai errors, translated below
            translated = translate_error(exc, settings)
            if not isinstance(translated, Transient):
                raise translated from None
            if time.monotonic() + delay > deadline:
                raise LLMError(f"gave up: {translated}; check the endpoint, or raise --retry-budget") from None
            time.sleep(translated.retry_after if translated.retry_after is not None else delay)
            delay = min(delay * 2, 20)


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)


def submit_batch(path: Path, *, store: "Store", settings: Settings, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload a request file and create a Batch API job (24h window); the job is kept in the store."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such batch file: make one with `summariser batch prepare`")
    client = _batch_client(settings)
    with path.open("rb") as handle:
        uploaded = _api_call(settings, lambda: client.files.create(file=(path.name, handle), purpose="batch"))
    job = _as_dict(_api_call(settings, lambda: client.batches.create(
        input_file_id=uploaded.id,
        endpoint=BATCH_URL,
        completion_window="24h",
        metadata={"summariser_file": path.name[:500], **(metadata or {})},
    )))
    store.save_batch_job(job, endpoint=settings.endpoint_host, input_file=str(path))
    return job


def batch_status(batch_id: str, *, store: "Store", settings: Settings) -> dict[str, Any]:
    """The job as the API reports it now (and recorded in the store)."""
    client = _batch_client(settings)
    job = _as_dict(_api_call(settings, lambda: client.batches.retrieve(batch_id)))
    store.save_batch_job(job, endpoint=settings.endpoint_host)
    return job


def wait_for_batch(
    batch_id: str,
    *,
    store: "Store",
    settings: Settings,
    interval_s: float = 30.0,
    timeout_s: float | None = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll until the job reaches a terminal status (or ``timeout_s`` passes); return it."""
    started = time.monotonic()
    while True:
        job = batch_status(batch_id, store=store, settings=settings)
        if on_update:
            on_update(job)
        if job.get("status") in TERMINAL_STATUSES:
            return job
        if timeout_s is not None and time.monotonic() - started >= timeout_s:
            return job
        time.sleep(interval_s)


def _download(client: Any, settings: Settings, file_id: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)

    def fetch() -> None:
        # Each attempt streams into its own temp file; a failed attempt leaves the target untouched.
        with client.files.with_streaming_response.content(file_id) as response:
            with atomic_open(target, "wb", fsync=False) as handle:
                for data in response.iter_bytes():
                    handle.write(data)

    _api_call(settings, fetch)
    return target


@dataclass
class CollectResult:
    job: dict[str, Any]
    files: list[Path]
    report: ImportReport | None


def collect_batch(
    batch_id: str,
    *,
    store: "Store",
    settings: Settings,
    out_dir: Path = Path("."),
    repair: Path | None = None,
) -> CollectResult:
    """Download a finished job's output and error files and import them (see ``import_results``).

    A job still running is left alone (``report`` is None): run collect again later.
    """
    job = batch_status(batch_id, store=store, settings=settings)
    if job.get("status") not in TERMINAL_STATUSES:
        return CollectResult(job, [], None)
    client = _batch_client(settings)
    files = [
        _download(client, settings, file_id, Path(out_dir) / f"{batch_id}-{kind}.jsonl")
        for kind, file_id in (("output", job.get("output_file_id")), ("errors", job.get("error_file_id")))
        if file_id
    ]
    report = None
    if files:
        report = import_results(files, store=store, repair=repair or Path(out_dir) / f"{batch_id}.repair.jsonl", endpoint=settings.endpoint_host)
    else:
        report = ImportReport()
    store.mark_batch_collected(batch_id)
    return CollectResult(job, files, report)


# ------------------------------------------------------------------------------------------
# The local runner: any chat-completions endpoint, bounded concurrency, rate-limit aware


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


class RateLimiter:
    """Requests- and tokens-per-minute buckets, plus a shared pause set by the server.

    The buckets are the user's limits (``--rpm``/``--tpm``), aiolimiter's leaky buckets (full at
    the start, so a run may open with a burst of up to one minute's worth); the server's own say
    wins: a 429's Retry-After, or ``x-ratelimit-remaining-*`` at zero, pauses every worker until
    the reset.
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


def _estimate_tokens(body: dict[str, Any]) -> int:
    """What a TPM limit counts for a request: prompt (about 4 characters a token) + max_tokens."""
    chars = sum(len(m.get("content") or "") for m in body.get("messages") or [] if isinstance(m, dict) and isinstance(m.get("content"), str))
    return chars // 4 + int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)


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
        deadline = time.monotonic() + settings.retry_budget_s
        tokens = _estimate_tokens(body)
        tries = 0
        while True:
            tries += 1
            await limiter.acquire(tokens)
            wait: float | None = None
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as exc:
                failure = {"code": "connection_error" if not isinstance(exc, httpx.TimeoutException) else "timeout", "message": f"{type(exc).__name__}: {exc}"[:300]}
                status = None
            else:
                limiter.observe(response.headers)
                status = response.status_code
                if is_retryable_status(status):
                    wait = retry_after_s(response.headers)
                    if status == 429:
                        report.rate_limited += 1
                        if wait is None:
                            wait = parse_reset(response.headers.get("x-ratelimit-reset-requests")) or parse_reset(response.headers.get("x-ratelimit-reset-tokens"))
                        limiter.pause(wait if wait is not None else 1.0)
                else:
                    try:
                        payload = response.json()
                    except ValueError:
                        payload = response.text
                    request_id = response.headers.get("x-request-id")
                    if status == 200 and isinstance(payload, dict):
                        usage = payload.get("usage") or {}
                        used = Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0), completion_tokens=int(usage.get("completion_tokens") or 0), total_tokens=int(usage.get("total_tokens") or 0))
                        report.usage = report.usage + used
                        model = str(payload.get("model") or body.get("model") or "")
                        report.usage_by_model[model] = report.usage_by_model.get(model, Usage()) + used
                        report.ok += 1
                    else:
                        report.errors += 1
                    write(custom_id, {"status_code": status, "request_id": request_id, "body": payload}, None)
                    return
                failure = None
            if wait is None:
                wait = min(20.0, 0.5 * 2 ** (tries - 1)) * (0.5 + random.random() / 2)
            if tries > settings.max_transport_retries or time.monotonic() + wait > deadline:
                report.errors += 1
                if failure is not None:
                    write(custom_id, None, failure)
                else:
                    try:
                        payload = response.json()
                    except ValueError:
                        payload = response.text
                    write(custom_id, {"status_code": status, "request_id": response.headers.get("x-request-id"), "body": payload}, None)
                return
            report.retries += 1
            await asyncio.sleep(wait)

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


def count_lines(path: Path) -> int:
    with Path(path).open("rb") as handle:
        return sum(1 for line in handle if line.strip())


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
    from .extract import Summariser

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


__all__ = [
    "BATCH_URL",
    "CollectResult",
    "ImportReport",
    "MAX_FILE_BYTES",
    "MAX_FILE_LINES",
    "PRICE_PROVIDER",
    "PrepareReport",
    "RateLimiter",
    "RunReport",
    "SplitWriter",
    "batch_status",
    "collect_batch",
    "count_answered",
    "estimate_cost",
    "import_results",
    "load_articles",
    "make_custom_id",
    "parse_custom_id",
    "prepare_batch",
    "price_for",
    "run_batch_file",
    "submit_batch",
    "wait_for_batch",
]
