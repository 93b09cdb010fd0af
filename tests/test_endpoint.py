"""Endpoint errors say which URL and model were tried and where each came from (flag,
environment, config file, default). Real subprocesses against the scripted server, and a port
where nothing listens."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from summariser.config import Settings
from summariser.endpoint import describe_endpoint, explain_error, safe_url
from summariser.errors import SummaryFailed, TransportError
from summariser.testing import error

from cliutil import run_cli
from conftest import SEED_ARTICLE


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


FAST = {"SUMMARISER_RETRY_BUDGET": "1", "SUMMARISER_MAX_TRANSPORT_RETRIES": "1"}


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.decode().splitlines() if line.startswith("Error:")]


def test_unreachable_url_from_env_and_model_from_config(dead_url, clean_env: Path):
    clean_env.mkdir(parents=True, exist_ok=True)
    (clean_env / "config.toml").write_text('model = "qwen-news"\n')
    result = run_cli("summarise", str(SEED_ARTICLE), "--no-store", env={**FAST, "OPENAI_BASE_URL": dead_url})
    assert result.returncode != 0
    [line] = error_lines(result)
    assert f"tried {dead_url} (from OPENAI_BASE_URL)" in line, line
    assert f"model 'qwen-news' (from model in {clean_env / 'config.toml'})" in line, line


def test_flags_are_named_as_flags_and_credentials_never_shown(dead_url):
    url = dead_url.replace("http://", "http://user:s3cret@")
    result = run_cli("summarise", str(SEED_ARTICLE), "--no-store", "--base-url", url, "--model", "m1", env=FAST)
    [line] = error_lines(result)
    assert f"tried {dead_url} (from --base-url) with model 'm1' (from --model)" in line, line
    assert "s3cret" not in result.stderr.decode() + result.stdout.decode()


def test_a_misnamed_model_names_the_model_and_where_it_came_from(llm):
    llm.enqueue(error(404, message="The model `gtp-4o` does not exist", code="model_not_found"))
    result = run_cli("summarise", str(SEED_ARTICLE), "--no-store", "--base-url", llm.base_url, env={"SUMMARISER_MODEL": "gtp-4o"})
    [line] = error_lines(result)
    assert f"tried {llm.base_url} (from --base-url) with model 'gtp-4o' (from SUMMARISER_MODEL)" in line, line


def test_batch_run_names_the_endpoint_when_requests_fail(dead_url, llm, tmp_path):
    requests = tmp_path / "requests.jsonl"
    env = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}
    assert run_cli("batch", "prepare", str(SEED_ARTICLE), "--out", str(requests), env=env).returncode == 0
    result = run_cli("batch", "run", str(requests), "--out", str(tmp_path / "results.jsonl"), "--retry-budget", "1",
                     env={"OPENAI_BASE_URL": dead_url})
    assert result.returncode == 1
    assert any(f"tried {dead_url} (from OPENAI_BASE_URL) with the model each request names" in line for line in error_lines(result))


def _rose(tmp_path: Path) -> Path:
    data = tmp_path / "rose.jsonl"
    data.write_text(json.dumps({"example_id": "r1", "source": SEED_ARTICLE.read_text(), "reference": "x",
                                "reference_acus": ["Wang Yi is in Moscow."]}) + "\n")
    return data


def test_eval_stopped_by_a_dead_endpoint_names_it(dead_url, tmp_path):
    result = run_cli("eval", str(_rose(tmp_path)), "--no-baseline", "--no-store", "--model", "m2", "--base-url", dead_url,
                     "--out", str(tmp_path / "report"), env=FAST)
    assert result.returncode != 0
    assert any(f"tried {dead_url} (from --base-url) with model 'm2' (from --model)" in line for line in error_lines(result)), result.stderr.decode()


def test_eval_records_the_endpoint_in_its_failures(llm, tmp_path):
    llm.enqueue(*[error(500)] * 3)  # the one document fails for good; the run goes on to its report
    out = tmp_path / "report"
    result = run_cli("eval", str(_rose(tmp_path)), "--no-baseline", "--no-store", "--model", "m2", "--base-url", llm.base_url,
                     "--out", str(out), env=FAST)
    assert result.returncode == 0, result.stderr.decode()
    errors = [doc["error"] for doc in json.loads((out / "report.json").read_text())["documents"] if doc.get("error")]
    assert len(errors) == 1 and f"tried {llm.base_url} (from --base-url) with model 'm2' (from --model)" in errors[0], errors


def test_explain_error_leaves_article_problems_alone(clean_env: Path):
    settings = Settings.load(base_url="http://127.0.0.1:1/v1", model="m")
    assert explain_error(SummaryFailed("replies still invalid after 3 attempts"), settings) == "replies still invalid after 3 attempts"
    explained = explain_error(TransportError("gave up"), settings)
    assert explained == "gave up; tried http://127.0.0.1:1/v1 (from --base-url) with model 'm' (from --model)"
    assert explain_error(TransportError(explained), settings) == explained  # never twice
    assert describe_endpoint(Settings.load(env={})).startswith("the embedded model")
    assert describe_endpoint(Settings.load(env={"OPENAI_API_KEY": "sk-x"})) == (
        "https://api.openai.com/v1 (the default with OPENAI_API_KEY set) with model 'gpt-4o-mini' "
        "(the default for OpenAI; set --model or SUMMARISER_MODEL)"
    )
    assert safe_url("https://k:v@h:8443/v1") == "https://h:8443/v1"


def test_briefing_with_failed_articles_names_the_endpoint(tmp_path):
    from summariser.testing import ScriptedLLM, reply

    from test_briefing import briefing_responder

    with ScriptedLLM(responder=briefing_responder) as llm:
        url = llm.base_url
        llm.enqueue(reply("not json"))  # the first article fails at its only attempt
        paths = [str(SEED_ARTICLE), str(SEED_ARTICLE.parent / "wikinews-expo.txt")]
        result = run_cli("briefing", *paths, "--out", str(tmp_path / "b.md"), "--max-attempts", "1", "-j", "1",
                         env={"OPENAI_BASE_URL": url, "SUMMARISER_MODEL": "scripted"})
    assert result.returncode == 3, result.stderr.decode()
    assert f"Model calls went to {url} (from OPENAI_BASE_URL) with model 'scripted' (from SUMMARISER_MODEL)." in result.stderr.decode()
