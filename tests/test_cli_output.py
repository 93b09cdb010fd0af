"""Output to a pipe is never wrapped or truncated; help shows flags as flags. Real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

from summariser.prompts import load_prompt
from summariser.testing import error

from conftest import SEED_ARTICLE


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARISER_"))}
    full_env["SUMMARISER_HOME"] = os.environ["SUMMARISER_HOME"]
    full_env.update({k: v for k, v in os.environ.items() if k == "SUMMARISER_PROMPT"})  # conftest: article@2 replies
    full_env.pop("COLUMNS", None)  # rich's 80-column guess is what must not apply
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "summariser", *args], capture_output=True, env=full_env, timeout=120)


def test_prompts_show_to_a_pipe_is_the_exact_file():
    expected = load_prompt("article@2").path.read_bytes()
    for args in (("prompts", "show", "article@2"), ("prompts", "show", "article@2", "--raw")):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == expected
        tomllib.loads(result.stdout.decode())


def test_runs_list_to_a_pipe_keeps_every_column_and_json_flag(llm, tmp_path):
    endpoint = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "a-rather-long-model-name/for-the-prompt-column"}
    long_name = tmp_path / ("a-very-long-article-file-name-that-needs-room-" * 3 + ".txt")
    long_name.write_bytes(SEED_ARTICLE.read_bytes())
    assert run_cli("summarise", str(long_name), env=endpoint).returncode == 0
    listed = run_cli("runs", "list").stdout.decode()
    header = next(line for line in listed.splitlines() if "ID" in line)
    assert "Tokens" in header and "Tries" in header
    assert str(long_name) in listed  # not folded over several lines
    rows = json.loads(run_cli("runs", "list", "--json").stdout)
    assert rows[0]["id"] == 1
    detail = json.loads(run_cli("runs", "show", "1", "--json").stdout)
    assert detail["run"]["id"] == 1 and detail["summary"] is not None


def test_flags_are_not_shown_as_taking_a_value():
    help_text = run_cli("summarise", "--help").stdout.decode()
    assert "<bool>" not in help_text
    assert "--no-strict" in help_text
    assert "NAME[@VERSION]" in help_text  # not eaten as rich markup
    root_help = run_cli("--help").stdout.decode()
    assert "--install-completion" in root_help and "--version" in root_help and "<bool>" not in root_help


def test_a_lone_failed_article_does_not_mention_others(llm):
    llm.enqueue(error(400, message="bad request"))
    result = run_cli("summarise", str(SEED_ARTICLE), "--no-store", env={"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "m"})
    assert result.returncode == 1
    assert "1 article(s) failed." in result.stderr.decode()
    assert "the others" not in result.stderr.decode()


def test_briefing_dry_run_skips_non_articles_in_a_directory_and_says_so(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "story.txt").write_bytes(SEED_ARTICLE.read_bytes())
    (inbox / "SOURCES.md").write_text("# Sources\n\nWhere these articles came from.\n")
    result = run_cli("briefing", str(inbox), "--dry-run", "--out", str(tmp_path / "b.md"), env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SUMMARISER_MODEL": "m"})
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert any("SOURCES.md" in line and "skipped" in line for line in lines)
    assert not any("SOURCES.md" in line and "summarise" in line for line in lines)
    assert "1 skipped" in result.stdout.decode()
    globbed = run_cli("briefing", str(inbox), "--glob", "*.md", "--dry-run", "--out", str(tmp_path / "b.md"), env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SUMMARISER_MODEL": "m"})
    assert any("SOURCES.md" in line and "summarise" in line for line in globbed.stdout.decode().splitlines())
    assert "--glob" in run_cli("summarise", "--help").stdout.decode()
