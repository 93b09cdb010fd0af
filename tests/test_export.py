"""Schema-checked exports from a real store to real files: round trips, CSV tables, all-or-nothing."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from summariser.cli.export import export_command
from summariser.errors import ConfigError, ExportError
from summariser.export import TABLE_COLUMNS, export_results, summary_validator
from summariser.schema import ArticleSummary
from summariser.store import Store
from test_store import make_article, make_summary, record_run

N_RECORDS = 1000


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, ArticleSummary]]:
    """A store holding 1,000 ok runs (plus a failed one, which exports must skip)."""
    db = tmp_path_factory.mktemp("thousand") / "runs.db"
    expected: dict[int, ArticleSummary] = {}
    with Store(db) as store:
        for n in range(N_RECORDS):
            article = make_article(n)
            summary = make_summary(article)
            expected[record_run(store, article, summary)] = summary
        record_run(store, make_article("failed"), None)
    return db, expected


@pytest.fixture
def small_store(tmp_path: Path):
    with Store(tmp_path / "runs.db") as store:
        for n in range(3):
            article = make_article(n)
            record_run(store, article, make_summary(article))
        yield store


def test_export_1000_to_jsonl_round_trips(thousand, tmp_path: Path) -> None:
    db, expected = thousand
    out = tmp_path / "all.jsonl"
    with Store(db) as store:
        started = time.perf_counter()
        report = export_results(store, fmt="jsonl", out=out)
        elapsed = time.perf_counter() - started
    print(f"exported {report.count} records to JSONL in {elapsed:.2f} s")
    assert report.count == N_RECORDS and report.path == out
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == N_RECORDS
    validator = summary_validator()
    for line in lines:
        record = json.loads(line)
        assert validator.is_valid(record)
        summary = ArticleSummary.model_validate(record)
        assert summary in expected.values()
    assert {ArticleSummary.model_validate_json(line).provenance.source.sha256 for line in lines} == {
        s.provenance.source.sha256 for s in expected.values()
    }


def test_export_1000_to_csv_keeps_awkward_text(thousand, tmp_path: Path) -> None:
    db, expected = thousand
    out = tmp_path / "all.csv"
    with Store(db) as store:
        started = time.perf_counter()
        report = export_results(store, fmt="csv", out=out)
        elapsed = time.perf_counter() - started
    print(f"exported {report.count} records to CSV in {elapsed:.2f} s")
    assert report.count == N_RECORDS
    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == TABLE_COLUMNS["summaries"]
        rows = list(reader)
    assert len(rows) == N_RECORDS
    for row in rows:
        original = expected[int(row["run_id"])]
        assert row["summary"] == original.summary  # quotes, commas, a newline and accents survive
        assert row["source_path"] == original.provenance.source.path
        assert row["sha256"] == original.provenance.source.sha256
        assert row["headline"] == original.headline
        assert row["prompt"] == "article" and row["prompt_version"] == "1" and row["model"] == "test-model"
        assert row["attempts"] == "2" and row["total_tokens"] == "300" and float(row["grounding_rate"]) == 0.8
        assert row["created_at"] == "2026-11-02T09:30:00.123456Z"


def test_export_json_array_round_trips(small_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out" / "all.json"  # parent directories are created
    report = export_results(small_store, fmt="json", out=out)
    records = json.loads(out.read_text(encoding="utf-8"))
    assert report.count == len(records) == 3
    for n, record in enumerate(records):
        assert ArticleSummary.model_validate(record) == make_summary(make_article(n))


def test_empty_export_is_still_valid(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        assert export_results(store, fmt="json", out=tmp_path / "e.json").count == 0
        assert json.loads((tmp_path / "e.json").read_text()) == []
        export_results(store, fmt="csv", out=tmp_path / "e.csv")
        assert (tmp_path / "e.csv").read_text().strip() == ",".join(TABLE_COLUMNS["summaries"])


@pytest.mark.parametrize(
    ("table", "per_summary", "checks"),
    [
        ("facts", 2, {"statement": "Ministers agreed a grain deal in Brussels.", "quote": 'agreeing a "new, fair" grain deal'}),
        ("participants", 3, {"name": "Olena Kovalenko", "kind": "person", "aliases": "Kovalenko; the envoy"}),
        ("stances", 2, {"holder": "Olena Kovalenko", "position": "supports", "quote": "We welcome it"}),
    ],
)
def test_csv_item_tables(small_store: Store, tmp_path: Path, table: str, per_summary: int, checks: dict) -> None:
    out = tmp_path / f"{table}.csv"
    report = export_results(small_store, fmt="csv", out=out, table=table)  # type: ignore[arg-type]
    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == TABLE_COLUMNS[table]
        assert reader.fieldnames[:3] == ["run_id", "source_path", "sha256"]
        rows = list(reader)
    assert report.count == len(rows) == 3 * per_summary
    assert [row["item"] for row in rows[:per_summary]] == [str(n) for n in range(1, per_summary + 1)]
    assert rows[0]["source_path"] == make_article(0).source
    for column, value in checks.items():
        assert rows[0][column] == value


def test_item_tables_as_jsonl_keep_lists(small_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "participants.jsonl"
    export_results(small_store, fmt="jsonl", out=out, table="participants")
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert list(first) == list(TABLE_COLUMNS["participants"]) and first["aliases"] == ["Kovalenko", "the envoy"]


def test_only_the_newest_result_per_cache_key_is_exported(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        article = make_article()
        record_run(store, article, make_summary(article))
        newest = record_run(store, article, make_summary(article).model_copy(update={"headline": "Newest"}))
        out = tmp_path / "o.jsonl"
        assert export_results(store, fmt="jsonl", out=out).count == 1
        record = json.loads(out.read_text())
        assert record["headline"] == "Newest"
        assert export_results(store, fmt="csv", out=tmp_path / "o.csv").count == 1
        assert (tmp_path / "o.csv").read_text().splitlines()[1].startswith(f"{newest},")


def test_filters_by_model_and_prompt(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        a, b = make_article("a"), make_article("b")
        record_run(store, a, make_summary(a), model="small")
        record_run(store, b, make_summary(b, model="big", prompt_version=2), model="big", prompt="article@2")
        out = tmp_path / "o.jsonl"
        assert export_results(store, fmt="jsonl", out=out, model="big").count == 1
        assert export_results(store, fmt="jsonl", out=out, prompt="article@1").count == 1
        assert export_results(store, fmt="jsonl", out=out, prompt="article").count == 2
        with pytest.raises(ConfigError):
            export_results(store, fmt="xml", out=out)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("corrupt_sql", "expected"),
    [
        ("UPDATE results SET summary = '{\"headline\": \"cut off' WHERE run_id = ?", "not valid JSON"),
        (
            "UPDATE results SET summary = json_set(summary, '$.provenance.attempts', 'two') WHERE run_id = ?",
            r"\$\.provenance\.attempts: 'two' is not of type 'integer'",
        ),
        (
            "UPDATE results SET summary = json_set(summary, '$.api_key', 'x') WHERE run_id = ?",
            "Additional properties are not allowed",
        ),
    ],
)
def test_a_corrupted_record_means_nothing_is_written(tmp_path: Path, corrupt_sql: str, expected: str) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as store:
        ids = [record_run(store, make_article(n), make_summary(make_article(n))) for n in range(5)]
    with sqlite3.connect(db) as conn:
        conn.execute(corrupt_sql, (ids[3],))
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    for fmt in ("json", "jsonl", "csv"):
        out = out_dir / f"all.{fmt}"
        with Store(db) as store, pytest.raises(ExportError, match=rf"run {ids[3]}: .*{expected}") as caught:
            export_results(store, fmt=fmt, out=out)  # type: ignore[arg-type]
        assert "nothing was written" in str(caught.value)
        assert not out.exists()
        assert list(out_dir.iterdir()) == []  # no temp file left behind


def test_a_failed_export_leaves_an_existing_file_untouched(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as store:
        run_id = record_run(store, make_article(), make_summary(make_article()))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE results SET summary = '[]' WHERE run_id = ?", (run_id,))
    out = tmp_path / "yesterday.jsonl"
    out.write_text("yesterday's export\n")
    with Store(db) as store, pytest.raises(ExportError, match=f"run {run_id}"):
        export_results(store, fmt="jsonl", out=out)
    assert out.read_text() == "yesterday's export\n"


def test_validator_is_built_once() -> None:
    assert summary_validator() is summary_validator()


def _export_app() -> typer.Typer:
    app = typer.Typer()
    app.command("export")(export_command)
    app.command("noop")(lambda: None)  # keep `export` a named sub-command, as it is when mounted
    return app


def test_export_cli(small_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    db = str(small_store.path)
    out = tmp_path / "facts.csv"
    result = runner.invoke(_export_app(), ["export", "--out", str(out), "--table", "facts", "--since", "1h", "--db", db])
    assert result.exit_code == 0, result.output
    assert "Exported 6 rows of the facts table" in result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 7

    as_json = tmp_path / "all.data"
    result = runner.invoke(_export_app(), ["export", "--out", str(as_json), "--format", "json"], env={"SUMMARISER_DB": db})
    assert result.exit_code == 0, result.output
    assert len(json.loads(as_json.read_text(encoding="utf-8"))) == 3

    unknown = runner.invoke(_export_app(), ["export", "--out", str(tmp_path / "x.txt"), "--db", db])
    assert isinstance(unknown.exception, ConfigError) and "--format" in str(unknown.exception)


def test_export_command_help_teaches_by_example() -> None:
    assert export_command.__doc__ and "summariser export --out" in export_command.__doc__


def test_export_format_comes_from_the_option_or_the_extension() -> None:
    from summariser.export import export_format

    assert export_format("out.JSONL") == "jsonl" and export_format(Path("a/b.csv")) == "csv"
    assert export_format("out.txt", "json") == "json"
    with pytest.raises(ConfigError, match=r"cannot tell the export format from 'out.txt': pass --format"):
        export_format("dir/out.txt")
    with pytest.raises(ConfigError, match="unknown export format 'xml'"):
        export_format("out.json", "xml")


def test_export_results_without_a_format_takes_the_extension(small_store, tmp_path: Path) -> None:
    report = export_results(small_store, out=tmp_path / "o.jsonl")
    lines = (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()
    assert report.count == len(lines) > 0 and all(json.loads(line)["headline"] for line in lines)


def test_the_export_command_does_not_import_jsonschema_until_it_exports() -> None:
    import subprocess
    import sys

    code = "import sys, summariser.cli.export; assert 'jsonschema' not in sys.modules, 'jsonschema at start-up'"
    subprocess.run([sys.executable, "-c", code], check=True)
