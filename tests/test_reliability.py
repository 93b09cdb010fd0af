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


# Every flag a model call's error can advise (llm.py, session.py), on every command that calls
# the model through them; batch submit/status/collect reach only the Files/Batches give-up.
MODEL_COMMANDS = [["summarise"], ["briefing"], ["eval"]]


def test_every_flag_a_model_error_names_exists_on_every_command_that_can_show_it():
    from summariser import llm, session

    import inspect
    import re

    named = set()
    for module in (llm, session):
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
