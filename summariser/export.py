"""Schema-checked exports of stored summaries (``summariser export``).

Every record is checked against the published JSON Schema
(``schemas/article-summary.schema.json``, Draft 2020-12) on its way out. If any record fails,
nothing is written: the error names the run and the first violation. Output goes to a temporary
file beside ``--out`` and replaces it only when complete (fsync + rename), so a reader never sees
a half-written export. Records are streamed from the store: memory does not grow with their
number. Only the newest result per cache key (same article, prompt, model and schema) is exported.

Formats
    json    one array of ArticleSummary objects
    jsonl   one ArticleSummary object per line
    csv     UTF-8, a header row, RFC 4180 quoting (text with commas, quotes and newlines is safe);
            a cell that starts with = + - @, a tab or CR gets a leading ' so no spreadsheet runs it
            as a formula (OWASP's advice against CSV injection; see csvsafe.py)

Tables (``--table``; for json/jsonl anything but ``summaries`` gives the same rows as objects)
    summaries      one row per article:
                   run_id, source_path, sha256, headline, summary, prompt, prompt_version,
                   model, created_at, attempts, total_tokens, grounding_rate
    facts          one row per key fact:
                   run_id, source_path, sha256, item, statement, quote, quote_start, quote_end
    participants   one row per participant:
                   run_id, source_path, sha256, item, name, kind, role, aliases
    stances        one row per stance:
                   run_id, source_path, sha256, item, holder, target, position, quote,
                   quote_start, quote_end

Columns
    run_id          the run that produced the summary (``summariser runs show RUN_ID``)
    source_path     file path or URL the article was read from; empty for stdin or text
    sha256          sha256 of the article text (hex)
    prompt          prompt template name; prompt_version its version
    created_at      when the summary was produced (UTC, ISO 8601)
    attempts        model replies received (1 = valid at the first attempt)
    total_tokens    tokens summed over every attempt
    grounding_rate  share of the last reply's quotes found in the article (0-1)
    item            1-based position of the item within its summary
    quote_start     where the quote is in the article text: text[quote_start:quote_end]
                    (character offsets; empty for summaries made before schema 1.1)
    aliases         other names for the participant, joined with "; " (a list in json/jsonl)
    other columns   the ArticleSummary fields of the same name (see the JSON Schema)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from .csvsafe import safe_row
from .errors import ConfigError, ExportError
from .files import atomic_open, fsync_directory
from .schema import ArticleSummary, output_json_schema
from .store import Store

if TYPE_CHECKING:  # jsonschema is imported on first use: ~50 ms the CLI's start-up does not pay
    from jsonschema import Draft202012Validator

ExportFormat = Literal["json", "jsonl", "csv"]
ExportTable = Literal["facts", "participants", "stances", "summaries"]
FORMATS: tuple[str, ...] = ("json", "jsonl", "csv")

_SOURCE_COLUMNS = ("run_id", "source_path", "sha256")
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "summaries": (
        *_SOURCE_COLUMNS,
        "headline",
        "summary",
        "prompt",
        "prompt_version",
        "model",
        "created_at",
        "attempts",
        "total_tokens",
        "grounding_rate",
    ),
    "facts": (*_SOURCE_COLUMNS, "item", "statement", "quote", "quote_start", "quote_end"),
    "participants": (*_SOURCE_COLUMNS, "item", "name", "kind", "role", "aliases"),
    "stances": (*_SOURCE_COLUMNS, "item", "holder", "target", "position", "quote", "quote_start", "quote_end"),
}
TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)
_ITEM_FIELDS = {"facts": "key_facts", "participants": "participants", "stances": "stances"}


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    count: int
    path: Path


def export_format(out: Path | str, fmt: str | None = None) -> ExportFormat:
    """``fmt``, or the format ``out``'s extension names (``.json``, ``.jsonl``, ``.csv``)."""
    chosen = fmt if fmt is not None else Path(out).suffix.lstrip(".").lower()
    if chosen not in FORMATS:
        if fmt is not None:
            raise ConfigError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
        raise ConfigError(
            f"cannot tell the export format from {Path(out).name!r}: pass --format json|jsonl|csv "
            "or use a .json, .jsonl or .csv file name"
        )
    return chosen  # type: ignore[return-value]


@cache
def summary_validator() -> "Draft202012Validator":
    """The validator for the published ArticleSummary schema, built once per process."""
    from jsonschema import Draft202012Validator

    schema = output_json_schema(ArticleSummary)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate_record(run_id: int, text: str) -> dict[str, Any]:
    """Parse one stored summary and check it against the published schema."""
    from jsonschema.exceptions import best_match

    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"run {run_id}: the stored summary is not valid JSON ({exc})") from None
    error = best_match(summary_validator().iter_errors(record))
    if error is not None:
        raise ExportError(f"run {run_id}: {error.json_path}: {error.message}")
    return record


def table_rows(table: str, run_id: int, record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows one validated record contributes to ``table`` (columns as in TABLE_COLUMNS)."""
    provenance = record["provenance"]
    base = {"run_id": run_id, "source_path": provenance["source"]["path"], "sha256": provenance["source"]["sha256"]}
    if table == "summaries":
        yield {
            **base,
            "headline": record["headline"],
            "summary": record["summary"],
            "prompt": provenance["prompt"],
            "prompt_version": provenance["prompt_version"],
            "model": provenance["model"],
            "created_at": provenance["created_at"],
            "attempts": provenance["attempts"],
            "total_tokens": provenance["usage"]["total_tokens"],
            "grounding_rate": record["grounding"]["grounding_rate"],
        }
        return
    for number, item in enumerate(record[_ITEM_FIELDS[table]], start=1):
        row = {**base, "item": number, **item}
        if table != "participants":  # summaries stored before schema 1.1 have no offsets
            row.setdefault("quote_start", None)
            row.setdefault("quote_end", None)
        yield row


def export_results(
    store: Store,
    *,
    fmt: ExportFormat | None = None,
    out: Path | str,
    since: datetime | None = None,
    prompt: str | None = None,
    model: str | None = None,
    table: ExportTable = "summaries",
) -> ExportReport:
    """Write the stored summaries matching the filters to ``out``; all or nothing. Without
    ``fmt`` the format is the one ``out``'s extension names.

    >>> export_results(store, fmt="csv", table="facts", out=Path("facts.csv"), since=parse_since("7d"))
    ExportReport(count=42, path=PosixPath('facts.csv'))
    """
    fmt = export_format(out, fmt)
    if table not in TABLES:
        raise ConfigError(f"unknown table {table!r}: use one of {', '.join(TABLES)}")
    out = Path(out).expanduser()
    if out.is_dir():
        raise ExportError(f"{out} is a directory: pass a file path, e.g. --out {out / ('summaries.' + fmt)}")
    results = store.iter_results(since=since, prompt=prompt, model=model)
    records = ((run_id, validate_record(run_id, text)) for run_id, text in results)
    try:
        with _atomic_text_file(out) as handle:
            if fmt == "csv":
                count = _write_csv(handle, records, table)
            else:
                count = _write_json(handle, records, table, lines=fmt == "jsonl")
    except ExportError as exc:
        raise ExportError(f"{exc}; nothing was written to {out}") from None
    except OSError as exc:
        raise ExportError(f"cannot write {out} ({exc.strerror or exc}): choose another --out path") from None
    finally:
        results.close()  # release the store's read snapshot even when an export stops early
    return ExportReport(count=count, path=out)


def _write_json(handle: IO[str], records: Iterable[tuple[int, dict[str, Any]]], table: str, *, lines: bool) -> int:
    count = 0
    for run_id, record in records:
        items = [record] if table == "summaries" else table_rows(table, run_id, record)
        for item in items:
            text = json.dumps(item, ensure_ascii=False)
            if lines:
                handle.write(text + "\n")
            else:
                handle.write(("[\n" if count == 0 else ",\n") + text)
            count += 1
    if not lines:
        handle.write("[]\n" if count == 0 else "\n]\n")
    return count


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def _write_csv(handle: IO[str], records: Iterable[tuple[int, dict[str, Any]]], table: str) -> int:
    columns = TABLE_COLUMNS[table]
    writer = csv.writer(handle)
    writer.writerow(columns)
    count = 0
    for run_id, record in records:
        for row in table_rows(table, run_id, record):
            writer.writerow(safe_row(_csv_value(row[column]) for column in columns))
            count += 1
    return count


@contextmanager
def _atomic_text_file(out: Path) -> Iterator[IO[str]]:
    """A temp file beside ``out`` that replaces it only if the block completes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    mode = out.stat().st_mode & 0o777 if out.exists() else 0o644
    with atomic_open(out, "w", newline="", permissions=mode) as handle:
        yield handle
    fsync_directory(out.parent)
