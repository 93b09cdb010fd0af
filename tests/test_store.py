"""The run store on real SQLite files: cache, migrations, concurrent writers, SIGKILL, no secrets."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from summariser.article import Article, cache_key
from summariser.cli.runs import app as runs_app
from summariser.config import Settings
from summariser.errors import ConfigError, StoreError
from summariser.schema import (
    SCHEMA_VERSION,
    ArticleSummary,
    Attempt,
    DroppedItem,
    Grounding,
    KeyFact,
    Participant,
    Provenance,
    QuoteCheck,
    Stance,
    Usage,
)
from summariser.store import MIGRATIONS, STORE_MIGRATION_VERSION as STORE_VERSION, Store

PROMPT_SHA = "a" * 64
ARTICLE_TEXT = (
    'Ministers met in Brussels on Tuesday, agreeing a "new, fair" grain deal.\n'
    "The Ukrainian envoy, Olena Kovalenko, said: “We welcome it, with caveats.”\n"
    "Émile Durand, speaking for France, opposed the plan; Kyiv called it [historic]."
)


# -- factories (also used by test_export.py) -------------------------------------------------


def make_article(label: object = 0) -> Article:
    return Article(
        text=f"{ARTICLE_TEXT}\nReport {label}.",
        source=f"news/{label}, “quoted”.txt",
        title=f"Grain deal {label}",
    )


def make_summary(article: Article, *, model: str = "test-model", prompt_version: int = 1) -> ArticleSummary:
    """A valid, grounded summary of ``make_article`` text: quotes are verbatim spans of it."""
    return ArticleSummary(
        headline="Ministers agree a grain deal; France opposes",
        summary='Ministers agreed a "new, fair" grain deal in Brussels.\nUkraine welcomed it, with caveats; '
        "France's Émile Durand opposed it.",
        key_facts=[
            KeyFact(statement="Ministers agreed a grain deal in Brussels.", quote='agreeing a "new, fair" grain deal'),
            KeyFact(statement="Ukraine welcomed the deal.", quote="“We welcome it, with caveats.”"),
        ],
        participants=[
            Participant(name="Olena Kovalenko", kind="person", role="Ukrainian envoy", aliases=["Kovalenko", "the envoy"]),
            Participant(name="Émile Durand", kind="person", role="speaks for France", aliases=[]),
            Participant(name="Ukraine", kind="country", role="welcomes the deal", aliases=["Kyiv"]),
        ],
        stances=[
            Stance(holder="Olena Kovalenko", target="the grain deal", position="supports", quote="We welcome it"),
            Stance(holder="Émile Durand", target="the plan", position="opposes", quote="opposed the plan"),
        ],
        provenance=Provenance(
            prompt="article",
            prompt_version=prompt_version,
            prompt_sha256=PROMPT_SHA,
            schema_version=SCHEMA_VERSION,
            model=model,
            endpoint="127.0.0.1:8080",
            attempts=2,
            transport_retries=1,
            usage=Usage(prompt_tokens=200, completion_tokens=100, total_tokens=300),
            duration_s=1.25,
            source=article.source_info(),
            created_at=datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=timezone.utc),
        ),
        grounding=Grounding(
            verified=[
                QuoteCheck(path="key_facts[0].quote", quote='agreeing a "new, fair" grain deal', match="exact", score=100.0),
                QuoteCheck(path="stances[1].quote", quote="opposed the plan", match="normalised", score=98.5),
            ],
            unverified=[DroppedItem(path="stances[2]", reason="quote not found", item='{"holder": "Kyiv"}')],
            grounding_rate=0.8,
            fuzzy_matches=0,
        ),
    )


def make_attempt(number: int, errors: list[str], article: Article | None = None) -> Attempt:
    return Attempt(
        number=number,
        messages=[
            {"role": "system", "content": "Summarise the article as JSON."},
            {"role": "user", "content": (article or make_article()).text},
        ],
        reply='{"headline": "Ministers agree"}' if errors else '{"headline": "Ministers agree a grain deal"}',
        finish_reason="stop",
        errors=errors,
        usage=Usage(prompt_tokens=100, completion_tokens=50, total_tokens=150),
        latency_s=0.6,
        transport_retries=0,
    )


def key_for(article: Article, model: str = "test-model", prompt_sha256: str = PROMPT_SHA) -> str:
    return cache_key(article_sha256=article.sha256, prompt_sha256=prompt_sha256, model=model, schema_version=SCHEMA_VERSION)


def record_run(
    store: Store,
    article: Article,
    summary: ArticleSummary | None = None,
    *,
    model: str = "test-model",
    prompt: str = "article@1",
    endpoint: str = "127.0.0.1:8080",
    params: dict | None = None,
    prompt_sha256: str = PROMPT_SHA,
) -> int:
    """A run as the pipeline records it: start, a rejected attempt, an accepted one, finish."""
    run_id = store.start_run(
        article=article,
        cache_key=key_for(article, model, prompt_sha256),
        prompt=prompt,
        prompt_sha256=prompt_sha256,
        model=model,
        endpoint=endpoint,
        params=params or {"mode": "json_schema", "max_attempts": 3, "temperature": 0},
    )
    store.add_attempt(run_id, make_attempt(1, ["key_facts[0].quote: quote not found in the article"], article))
    store.add_attempt(run_id, make_attempt(2, [] if summary else ["still ungrounded"], article))
    store.finish_run(
        run_id,
        summary=summary,
        error=None if summary else "SummaryFailed: replies still ungrounded after 2 attempts",
        attempts=2,
        usage=Usage(prompt_tokens=200, completion_tokens=100, total_tokens=300),
        duration_s=1.25,
    )
    return run_id


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "runs.db") as opened:
        yield opened


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "SUMMARISER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))


# -- cache and recording ---------------------------------------------------------------------


def test_cache_hit_by_key(store: Store) -> None:
    article = make_article()
    summary = make_summary(article)
    record_run(store, article, summary)
    assert store.get_cached(key_for(article)) == summary
    assert store.get_cached(key_for(article, model="other-model")) is None

    failed = make_article("failed")
    record_run(store, failed, None)
    assert store.get_cached(key_for(failed)) is None
    assert store.cached_keys([key_for(article), key_for(failed), "nope"]) == {key_for(article)}


def test_cached_keys_handles_more_keys_than_sqlite_variables(store: Store) -> None:
    article = make_article()
    record_run(store, article, make_summary(article))
    keys = [f"{n:064x}" for n in range(2500)] + [key_for(article)]
    assert store.cached_keys(keys) == {key_for(article)}


def test_get_cached_returns_the_newest_result(store: Store) -> None:
    article = make_article()
    record_run(store, article, make_summary(article))
    newer = make_summary(article).model_copy(update={"headline": "A newer headline"})
    record_run(store, article, newer)
    assert store.get_cached(key_for(article)).headline == "A newer headline"


def test_run_detail_keeps_every_attempt_and_why_it_was_retried(store: Store) -> None:
    article = make_article()
    summary = make_summary(article)
    run_id = record_run(store, article, summary, params={"mode": "json_schema", "max_attempts": 3})
    detail = store.get_run(run_id)
    assert detail.run.status == "ok" and detail.run.prompt == "article@1" and detail.run.attempts == 2
    assert detail.run.source == article.source and detail.run.title == article.title
    assert detail.params == {"max_attempts": 3, "mode": "json_schema"}
    assert [a.number for a in detail.attempts] == [1, 2]
    assert detail.attempts[0].errors == ["key_facts[0].quote: quote not found in the article"]
    assert detail.attempts[0].messages[1]["content"] == article.text
    assert detail.summary == summary
    assert json.loads(json.dumps(detail.to_dict()))["run"]["id"] == run_id

    failed_id = record_run(store, make_article("x"), None)
    failed = store.get_run(failed_id)
    assert failed.run.status == "failed" and "SummaryFailed" in failed.run.error and failed.summary is None


def test_get_run_names_the_missing_run(store: Store) -> None:
    with pytest.raises(StoreError, match=r"no run 999: see `summariser runs list`"):
        store.get_run(999)


def test_list_runs_filters(store: Store) -> None:
    a, b, c = make_article("a"), make_article("b"), make_article("c")
    first = record_run(store, a, make_summary(a), prompt="article@1")
    second = record_run(store, b, make_summary(b), prompt="article@2", model="big-model")
    third = record_run(store, c, None, prompt="briefing@1")

    assert [r.id for r in store.list_runs()] == [third, second, first]
    assert [r.id for r in store.list_runs(prompt="article")] == [second, first]
    assert [r.id for r in store.list_runs(prompt="article@2")] == [second]
    assert [r.id for r in store.list_runs(model="big-model")] == [second]
    assert [r.id for r in store.list_runs(status="failed")] == [third]
    assert [r.id for r in store.list_runs(limit=1)] == [third]
    assert store.list_runs(since=datetime.now(timezone.utc) + timedelta(minutes=1)) == []
    assert len(store.list_runs(since=datetime.now(timezone.utc) - timedelta(minutes=1))) == 3
    with pytest.raises(ConfigError, match="article@2"):
        store.list_runs(prompt="article@two")
    with pytest.raises(ConfigError, match="interrupted"):
        store.list_runs(status="done")


# -- opening, migrations, recovery -----------------------------------------------------------


def test_creates_parent_directories_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "runs.db"
    with Store(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION


def test_opens_and_migrates_a_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    article = make_article("old")
    summary = make_summary(article)
    long_ago = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat(timespec="microseconds")
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in MIGRATIONS[0]:
        conn.execute(sql)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO articles (sha256, source, title, text, first_seen) VALUES (?, ?, ?, ?, ?)",
        (article.sha256, article.source, article.title, article.text, long_ago),
    )
    insert_run = (
        "INSERT INTO runs (cache_key, article_sha256, source, prompt, prompt_version, prompt_sha256, model, "
        "endpoint, params, status, attempts, created_at) VALUES (?, ?, ?, 'article', 1, ?, 'test-model', 'local', '{}', ?, 1, ?)"
    )
    conn.execute(insert_run, (key_for(article), article.sha256, article.source, PROMPT_SHA, "ok", long_ago))
    conn.execute("INSERT INTO results (run_id, cache_key, summary) VALUES (1, ?, ?)", (key_for(article), summary.model_dump_json()))
    conn.execute(insert_run, (key_for(article), article.sha256, article.source, PROMPT_SHA, "running", long_ago))
    conn.close()

    with Store(path) as store:
        assert store.get_cached(key_for(article)) == summary
        old_running = store.get_run(2).run
        assert old_running.status == "interrupted" and "interrupted" in old_running.error
        new_id = record_run(store, make_article("new"), make_summary(make_article("new")))
        assert store.get_run(new_id).run.status == "ok"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION


def test_refuses_a_database_from_a_newer_release(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {STORE_VERSION + 5}")
    with pytest.raises(StoreError, match="newer summariser"):
        Store(path)


def test_corrupt_file_gives_a_what_to_do_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite " * 200)
    with pytest.raises(StoreError, match="corrupt.*move it aside"):
        Store(path)


def test_live_running_runs_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with Store(path) as writer:
        article = make_article()
        run_id = writer.start_run(
            article=article, cache_key=key_for(article), prompt="article@1", prompt_sha256=PROMPT_SHA,
            model="test-model", endpoint="local", params={},
        )
        with Store(path) as reader:  # our pid is alive: the run is in flight, not interrupted
            assert reader.get_run(run_id).run.status == "running"
        assert writer.mark_interrupted_runs(older_than=timedelta(0)) == 1
        assert writer.get_run(run_id).run.status == "interrupted"


def _write_runs(db: str, label: str, count: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    with Store(db) as store:
        for n in range(count):
            article = make_article(f"{label}-{n}")
            record_run(store, article, make_summary(article))


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")  # both processes create and migrate it at the same moment
    count = 40
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_write_runs, args=(db, label, count, start)) for label in ("one", "two")]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with Store(db) as store:
        runs = store.list_runs(limit=0)
        assert len(runs) == 2 * count and {r.status for r in runs} == {"ok"}
        assert sum(1 for _ in store.iter_results()) == 2 * count
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 2 * 2 * count
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _write_forever(db: str) -> None:
    with Store(db) as store:
        n = 0
        while True:
            article = make_article(f"kill-{n}")
            run_id = store.start_run(
                article=article, cache_key=key_for(article), prompt="article@1", prompt_sha256=PROMPT_SHA,
                model="test-model", endpoint="local", params={"n": n},
            )
            store.add_attempt(run_id, make_attempt(1, ["quote not found"], article))
            time.sleep(0.003)
            store.add_attempt(run_id, make_attempt(2, [], article))
            store.finish_run(
                run_id, summary=make_summary(article), error=None, attempts=2,
                usage=Usage(prompt_tokens=200, completion_tokens=100, total_tokens=300), duration_s=0.01,
            )
            n += 1


def test_sigkill_loses_at_most_the_run_in_flight(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_write_forever, args=(str(db),))
    child.start()
    deadline = time.monotonic() + 60
    finished_before_kill = 0
    while finished_before_kill < 25:
        assert time.monotonic() < deadline, "the writer never got going"
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    finished_before_kill = conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # not migrated yet
    os.kill(child.pid, signal.SIGKILL)
    child.join()  # reap it, so its pid is really gone
    assert child.exitcode == -signal.SIGKILL

    with Store(db) as store:
        runs = store.list_runs(limit=0)
        ok = [r for r in runs if r.status == "ok"]
        others = [r for r in runs if r.status != "ok"]
        assert len(ok) >= finished_before_kill
        assert len(others) <= 1 and all(r.status == "interrupted" for r in others)
        for row in ok:
            detail = store.get_run(row.id)
            assert [a.number for a in detail.attempts] == [1, 2]
            assert detail.summary is not None and detail.summary.provenance.source.sha256 == row.article_sha256
        assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- secrets ---------------------------------------------------------------------------------


def test_api_key_never_reaches_the_database(tmp_path: Path) -> None:
    canary = "sk-test-SECRET-canary"
    settings = Settings(api_key=canary, base_url="https://api.example.com/v1", model="gpt-test", home=tmp_path)
    db = tmp_path / "runs.db"
    with Store(db) as store:
        article = make_article()
        params = {"mode": settings.mode, "max_attempts": settings.max_attempts, "timeout_s": settings.timeout_s}
        record_run(store, article, make_summary(article, model=settings.model_name),
                   model=settings.model_name, endpoint=settings.endpoint_host, params=params)
        # A URL carrying credentials is cut down to its host; params naming a key are refused.
        run_id = store.start_run(
            article=article, cache_key=key_for(article), prompt="article@1", prompt_sha256=PROMPT_SHA,
            model="gpt-test", endpoint=f"https://user:{canary}@api.example.com:8443/v1", params={},
        )
        assert store.get_run(run_id).run.endpoint == "api.example.com:8443"
        with pytest.raises(ValueError, match="credential"):
            store.start_run(
                article=article, cache_key=key_for(article), prompt="article@1", prompt_sha256=PROMPT_SHA,
                model="gpt-test", endpoint="api.example.com", params={"client": {"api_key": canary}},
            )
        assert store.get_run(1).run.endpoint == "api.example.com"
    files = [p for p in tmp_path.iterdir() if p.name.startswith("runs.db")]
    assert files
    for path in files:
        assert canary.encode() not in path.read_bytes(), path


# -- CLI -------------------------------------------------------------------------------------


def test_runs_cli_list_and_show(tmp_path: Path, isolated_env: None) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as store:
        article = make_article("[bold]not markup[/bold]")
        ok_id = record_run(store, article, make_summary(article))
        failed_id = record_run(store, make_article("f"), None, model="big-model")
    runner = CliRunner(env={"COLUMNS": "200"})

    listed = runner.invoke(runs_app, ["list", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    assert "failed" in listed.output and "ok" in listed.output and "[bold]not markup" in listed.output

    as_json = runner.invoke(runs_app, ["list", "--db", str(db), "--format", "json", "--status", "failed"])
    assert as_json.exit_code == 0, as_json.output
    assert [r["id"] for r in json.loads(as_json.output)] == [failed_id]

    recent = runner.invoke(runs_app, ["list", "--since", "1h", "--model", "big-model", "--format", "json"],
                           env={"SUMMARISER_DB": str(db)})
    assert [r["id"] for r in json.loads(recent.output)] == [failed_id]

    shown = runner.invoke(runs_app, ["show", str(ok_id), "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "Ministers agree a grain deal" in shown.output
    assert "Attempt 1" in shown.output and "quote not found in the article" in shown.output
    assert "Attempt 2" in shown.output and "accepted" in shown.output

    shown_json = runner.invoke(runs_app, ["show", str(ok_id), "--db", str(db), "--format", "json"])
    detail = json.loads(shown_json.output)
    assert detail["attempts"][0]["errors"] == ["key_facts[0].quote: quote not found in the article"]
    assert ArticleSummary.model_validate(detail["summary"]) == make_summary(article)


def test_runs_cli_errors_say_what_to_do(tmp_path: Path, isolated_env: None) -> None:
    db = tmp_path / "runs.db"
    runner = CliRunner()
    missing_db = runner.invoke(runs_app, ["list", "--db", str(db)])
    assert isinstance(missing_db.exception, StoreError) and "no run store" in str(missing_db.exception)
    assert not db.exists()  # looking does not create an empty store

    Store(db).close()
    missing_run = runner.invoke(runs_app, ["show", "7", "--db", str(db)])
    assert isinstance(missing_run.exception, StoreError) and "no run 7" in str(missing_run.exception)
    bad_since = runner.invoke(runs_app, ["list", "--since", "yesterday-ish", "--db", str(db)])
    assert isinstance(bad_since.exception, ConfigError) and "7d" in str(bad_since.exception)
    empty = runner.invoke(runs_app, ["list", "--db", str(db)])
    assert empty.exit_code == 0 and "No runs match" in empty.output


def test_runs_cli_commands_have_help() -> None:
    command = typer.main.get_command(runs_app)
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        assert sub.help and "Examples" in sub.help, name
