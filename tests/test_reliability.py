"""Issue 14: runs over many articles against a hostile or misconfigured endpoint, end to end.

Real CLI subprocesses, the real ``openai`` client over HTTP to the scripted server, a real store.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from summariser.article import Article
from summariser.cli import app
from summariser.testing import error

from conftest import SEEDS
from test_cli_summarise import run_cli

ARTICLES = sorted(str(p) for p in SEEDS.glob("wikinews-*.txt"))[:5]


@pytest.fixture
def endpoint(llm) -> dict:
    return {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Error:")]


# -- item 9: 401/404/nothing listening stop the whole run ---------------------------------------


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_model_not_found_stops_the_run_at_once_naming_model_and_endpoint(endpoint, llm, jobs):
    llm.responder = lambda body: error(404)
    result = run_cli("summarise", *ARTICLES, "-j", jobs, env=endpoint)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert llm.chat_count <= int(jobs) < len(ARTICLES)  # not one request per article
    (line,) = _error_lines(err)
    assert "'scripted' not found" in line and llm.base_url in line and "--model" in line
    assert "others were summarised" not in err and "Traceback" not in err


def test_wrong_key_stops_a_concurrent_run_too(endpoint, llm):
    llm.responder = lambda body: error(401)
    result = run_cli("summarise", *ARTICLES, "-j", "2", env=endpoint)
    assert result.returncode == 2
    assert llm.chat_count <= 2
    assert len(_error_lines(result.stderr.decode())) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_fails_fast_with_one_line():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    started = time.monotonic()
    result = run_cli("summarise", *ARTICLES, env={"OPENAI_BASE_URL": url, "SUMMARISER_MODEL": "m"})
    elapsed = time.monotonic() - started
    err = result.stderr.decode()
    assert result.returncode == 2, err
    (line,) = _error_lines(err)
    assert f"cannot connect to {url}: is the server running?" in line
    assert elapsed < 15  # was ~33 s per article


def test_briefing_stops_at_a_missing_model(endpoint, llm, tmp_path):
    llm.responder = lambda body: error(404)
    result = run_cli("briefing", *ARTICLES, "-j", "1", "--out", str(tmp_path / "b.md"), env=endpoint)
    assert result.returncode == 2, result.stderr.decode()
    assert llm.chat_count == 1
    assert "'scripted' not found" in result.stderr.decode()
    assert not (tmp_path / "b.md").exists()


def test_eval_stops_at_a_missing_model(endpoint, llm, tmp_path):
    docs = tmp_path / "rose.jsonl"
    docs.write_text(
        "".join(
            json.dumps({"example_id": f"r{i}", "source": Path(p).read_text(encoding="utf-8"), "reference": "x", "reference_acus": ["x"]}) + "\n"
            for i, p in enumerate(ARTICLES)
        ),
        encoding="utf-8",
    )
    llm.responder = lambda body: error(404)
    result = run_cli("eval", str(docs), "--no-baseline", "--out", str(tmp_path / "report"), env=endpoint)
    assert result.returncode == 2, result.stderr.decode()
    assert llm.chat_count == 1
    assert not (tmp_path / "report").exists()


# -- item 10: give-up messages advise only flags that exist --------------------------------------


def test_retry_budget_flag_bounds_the_wait_and_beats_the_environment(endpoint, llm):
    llm.responder = lambda body: error(503)
    started = time.monotonic()
    result = run_cli(
        "summarise", ARTICLES[0], "--retry-budget", "1", "--no-store",
        env={**endpoint, "SUMMARISER_RETRY_BUDGET": "300"},
    )
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "raise --retry-budget" in err
    assert time.monotonic() - started < 15


def _options(path: list[str]) -> set[str]:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


# Every flag a model call's error can advise (llm/, session.py), on every command that calls
# the model through them; batch submit/status/collect reach only the Files/Batches give-up.
MODEL_COMMANDS = [["summarise"], ["briefing"], ["eval"]]


def test_every_flag_a_model_error_names_exists_on_every_command_that_can_show_it():
    from summariser import session
    from summariser.llm import openai as llm_openai, retry

    import inspect
    import re

    named = set()
    for module in (llm_openai, retry, session):
        named |= set(re.findall(r"(--[a-z][a-z-]+)", inspect.getsource(module)))
    assert {"--retry-budget", "--mode", "--max-attempts", "--model", "--base-url"} <= named
    for path in MODEL_COMMANDS:
        missing = named - _options(path)
        assert not missing, f"`summariser {' '.join(path)}` lacks {sorted(missing)}"
    for path in (["batch", "submit"], ["batch", "status"], ["batch", "collect"], ["batch", "run"]):
        assert "--retry-budget" in _options(path), path


def test_retry_budget_help_names_its_variable():
    for path in MODEL_COMMANDS:
        command = typer.main.get_command(app).commands[path[0]]
        (param,) = [p for p in command.params if "--retry-budget" in p.opts]
        assert "SUMMARISER_RETRY_BUDGET" in param.help
        assert "--retry-budget" in CliRunner().invoke(app, [*path, "--help"]).output


# -- item 11: a failed run keeps what it tried; JSON output says which article failed ------------


def test_a_transport_failure_is_stored_with_its_request_and_error(llm, settings, seed_text, tmp_path):
    from dataclasses import replace

    from summariser.extract import Summariser
    from summariser.store import Store

    llm.responder = lambda body: error(500)
    with Store(tmp_path / "s.db") as store, Summariser(replace(settings, retry_budget_s=3.0), store=store) as s:
        outcome = s.run(seed_text)
        assert outcome.error is not None and outcome.error.attempts == 0  # replies received, as before
        (row,) = store.list_runs()
        detail = store.get_run(row.id)
    assert row.status == "failed" and row.attempts == 1 and "answered 500" in row.error
    (attempt,) = detail.attempts
    assert attempt.reply is None and "answered 500" in attempt.errors[0]
    assert attempt.transport_retries == llm.chat_count - 1 >= 1


def test_json_lines_output_has_an_error_record_for_each_failed_article(endpoint, llm, tmp_path):
    from summariser.schema import ArticleError, ArticleSummary
    from summariser.testing import grounded_responder, reply

    failing = Path(ARTICLES[0]).read_text(encoding="utf-8").strip()[:200]

    def responder(body):
        asked = " ".join(str(m.get("content")) for m in body["messages"])
        return reply("not json") if failing in asked else grounded_responder(body)

    llm.responder = responder
    missing = tmp_path / "missing.txt"
    result = run_cli("summarise", ARTICLES[0], ARTICLES[1], str(missing), "--format", "json", env=endpoint)
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    errors = [ArticleError.model_validate(r).error for r in records if "error" in r]
    summaries = [ArticleSummary.model_validate(r) for r in records if "error" not in r]
    assert [s.provenance.source.path for s in summaries] == [ARTICLES[1]]
    by_path = {e.path: e for e in errors}
    assert by_path[ARTICLES[0]].kind == "SummaryFailed" and by_path[ARTICLES[0]].attempts == 2
    assert "not valid JSON" in by_path[ARTICLES[0]].message
    assert by_path[str(missing)].kind == "InputError" and by_path[str(missing)].attempts == 0

    shown = run_cli("runs", "show", "1", env=endpoint).stdout.decode() + run_cli("runs", "show", "2", env=endpoint).stdout.decode()
    assert "not valid JSON" in shown and "failed" in shown


# -- item 7: an article is claimed in the store before the model is called ----------------------


def test_two_processes_over_the_same_articles_and_store_pay_once(llm, tmp_path):
    import os
    import subprocess
    import sys

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(12):
        (inbox / f"a{i}.txt").write_text(f"Mayor Ann Lee of Springfield{i} opened bridge number {i} on Monday. Lee said it cost {i} million dollars.\n")
    llm.latency_s = 0.15
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARISER_"))}
    env.update(SUMMARISER_HOME=os.environ["SUMMARISER_HOME"], OPENAI_BASE_URL=llm.base_url, SUMMARISER_MODEL="scripted",
               SUMMARISER_DB=str(tmp_path / "shared.db"))
    twins = [subprocess.Popen([sys.executable, "-m", "summariser", "summarise", str(inbox), "-j", "3", "--format", "json"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in twins]
    assert [p.returncode for p in twins] == [0, 0], [o[1].decode() for o in outs]
    assert all(len(o[0].decode().splitlines()) == 12 for o in outs)  # both get every summary
    assert llm.chat_count == 12  # was ~24: each article paid by both
    import sqlite3

    with sqlite3.connect(tmp_path / "shared.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0] == 12
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0


def test_a_claim_left_by_a_killed_process_does_not_hold_the_article(settings, seed_text, tmp_path):
    import subprocess

    from summariser.extract import Summariser
    from summariser.store import Store

    dead = subprocess.Popen(["true"])
    dead.wait()
    with Store(tmp_path / "s.db") as store, Summariser(settings, store=store) as s:
        article = Article(seed_text)
        run_id = store.start_run(article=article, cache_key=s.key_for(article), prompt=s.prompt.ref,
                                 prompt_sha256=s.prompt.sha256, model=s.model, endpoint="x", params={})
        store._conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (dead.pid, run_id))  # as if killed with -9
        started = time.monotonic()
        outcome = s.run(seed_text)
        assert outcome.ok and time.monotonic() - started < 10
        statuses = {r.id: r.status for r in store.list_runs()}
    assert statuses[run_id] == "interrupted" and list(statuses.values()).count("ok") == 1


def test_a_result_found_at_claim_time_describes_the_source_as_read_now(seed_text, tmp_path):
    """Another process finished the article between our cache read and our claim: the result we
    take from the claim is described like any cached one (this run's source, not the other's)."""
    from summariser.store import Store
    from summariser.testing import FakeModel

    fake = FakeModel()
    with Store(tmp_path / "runs.sqlite") as store:
        with fake.summariser(store=store) as first:
            assert first.run(Article(seed_text, source="elsewhere/first.txt")).ok
        with fake.summariser(store=store) as second:
            claimed = second._claim(Article(seed_text, source="mine/second.txt"), refresh=False, waited=False)
    assert claimed.cached and claimed.summary.provenance.source.path == "mine/second.txt"
    assert fake.chat_count == 1
