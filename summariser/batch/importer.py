"""``import_results``: validate, ground and store every result line; re-asks go to a repair file."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..article import Article
from ..errors import InputError, SummariserError
from ..llm import Reply
from ..llm.replies import reply_from_body
from ..llm.retry import is_retryable_status
from ..redaction import redact
from ..schema import Usage
from ..session import ReplyRejected, Session, build_summary
from .conversations import _article_of, _Conversations
from .files import CHUNK, SplitWriter, make_custom_id, parse_custom_id, request_line
from .pricing import estimate_cost, format_cost

if TYPE_CHECKING:
    from ..store import BatchRequestRow, BatchResultRecord, Store


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
            records.append(self._accept(row, article, reply_from_body(body)))
        self.store.record_batch_results(records)

    def _accept(self, row: "BatchRequestRow", article: Article, reply: Reply) -> "BatchResultRecord":
        from ..store import BatchRequestRow, BatchResultRecord

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
        from ..store import BatchResultRecord

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
