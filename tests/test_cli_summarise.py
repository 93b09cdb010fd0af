"""The `summariser summarise` command and the CLI error boundary, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from summariser.schema import ArticleSummary
from summariser.testing import error, reply

from conftest import SEED_ARTICLE, SEEDS


def run_cli(*args: str, env: dict | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARISER_"))}
    full_env["SUMMARISER_HOME"] = os.environ["SUMMARISER_HOME"]
    full_env.update({k: v for k, v in os.environ.items() if k == "SUMMARISER_PROMPT"})  # conftest: article@2 replies
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "summariser", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=120,
    )


@pytest.fixture
def endpoint(llm) -> dict:
    return {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}


def test_one_article_prints_one_json_object(endpoint):
    result = run_cli("summarise", str(SEED_ARTICLE), "--format", "json", env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    summary = ArticleSummary.model_validate_json(result.stdout)
    assert summary.provenance.source.path == str(SEED_ARTICLE)


def test_several_articles_print_json_lines_and_write_files(endpoint, tmp_path):
    paths = sorted(str(p) for p in SEEDS.glob("wikinews-*.txt"))[:3]
    out = tmp_path / "out"
    result = run_cli("summarise", *paths, "--out", str(out), env=endpoint)  # a pipe: JSON by default
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 3
    assert {ArticleSummary.model_validate_json(line).provenance.source.path for line in lines} == set(paths)
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).stem + ".json" for p in paths)


def test_stdin(endpoint):
    result = run_cli("summarise", "-", "--format", "json", env=endpoint, stdin=SEED_ARTICLE.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    assert ArticleSummary.model_validate_json(result.stdout).provenance.source.path is None


def test_text_format_renders_readably(endpoint):
    result = run_cli("summarise", str(SEED_ARTICLE), "--format", "text", env=endpoint)
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "Key fact" in text and "Participant" in text and "article@" in text


def test_second_run_is_served_from_the_store(endpoint, llm):
    assert run_cli("summarise", str(SEED_ARTICLE), env=endpoint).returncode == 0
    assert run_cli("summarise", str(SEED_ARTICLE), env=endpoint).returncode == 0
    assert llm.chat_count == 1
    assert run_cli("summarise", str(SEED_ARTICLE), "--refresh", env=endpoint).returncode == 0
    assert llm.chat_count == 2


def test_one_bad_input_among_good_ones_exits_1_and_keeps_the_rest(endpoint, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    out = tmp_path / "out"
    result = run_cli("summarise", str(empty), str(SEED_ARTICLE), "--out", str(out), "--no-store", env=endpoint)
    assert result.returncode == 1
    assert (out / f"{SEED_ARTICLE.stem}.json").exists()
    assert f"Error: {empty}: is empty" in result.stderr.decode()


def test_model_failure_exits_1_with_cost_and_no_traceback(endpoint, llm, tmp_path):
    llm.enqueue(*[reply("not json")] * 2)
    result = run_cli("summarise", str(SEED_ARTICLE), "--max-attempts", "2", "--no-store", env=endpoint)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "still invalid after 2 attempts" in err and "(2 attempts" in err
    assert "Traceback" not in err


def test_auth_error_exits_2(endpoint, llm):
    llm.enqueue(error(401))
    result = run_cli("summarise", str(SEED_ARTICLE), "--no-store", env={**endpoint, "OPENAI_API_KEY": "sk-wrong"})
    assert result.returncode == 2
    assert "check OPENAI_API_KEY" in result.stderr.decode()
    assert "sk-wrong" not in result.stderr.decode() + result.stdout.decode()


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda d: d / "missing.txt", "no such file"),
        (lambda d: d, "no .txt"),
        (lambda d: _write(d / "blank.txt", b"\n\t \n"), "is empty"),
        (lambda d: _write(d / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00"), "looks like a binary file"),
        (lambda d: _write(d / "latin1.txt", "Caf\xe9 au lait".encode("latin-1")), "is not UTF-8 text"),
        (lambda d: _write(d / "page.html", b"<html><body><nav>menu</nav></body></html>"), "no article text found"),
    ],
)
def test_bad_inputs_give_one_line_errors(make, expected, tmp_path):
    target = make(tmp_path)
    result = run_cli("summarise", str(target), env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SUMMARISER_MODEL": "m"})
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert expected in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("Error:")]) == 1


def test_article_too_long_for_the_context(endpoint, llm):
    llm.enqueue(error(400, code="context_length_exceeded"))
    result = run_cli("summarise", str(SEED_ARTICLE), "--no-store", env=endpoint)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert f"{SEED_ARTICLE}: the article is too long" in err and "shorten or split it" in err


def test_html_article_main_text_is_extracted(endpoint, tmp_path, llm):
    body = "".join(f"<p>{line}</p>" for line in SEED_ARTICLE.read_text(encoding="utf-8").splitlines())
    page = _write(tmp_path / "story.html", f"<html><head><title>T</title></head><body><nav>Home | News</nav><article>{body}</article></body></html>".encode())
    result = run_cli("summarise", str(page), "--format", "json", "--no-store", env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    sent = llm.requests[0]["messages"][1]["content"]
    assert "Wang Yi" in sent and "<p>" not in sent and "Home | News" not in sent


def test_usage_errors_exit_2():
    assert run_cli("summarise").returncode == 2
    assert run_cli("summarise", "x.txt", "--mode", "yaml").returncode == 2
    result = run_cli("summarise", str(SEED_ARTICLE), "--prompt", "article@99", env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert result.returncode == 2 and "no prompt article@99" in result.stderr.decode()


def test_debug_shows_a_traceback():
    result = run_cli("summarise", str(SEED_ARTICLE), "--prompt", "article@99", env={"SUMMARISER_DEBUG": "1", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert "Traceback" in result.stderr.decode()


def test_schema_command_prints_the_json_schema():
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$id"].startswith("urn:summariser:schema:article-summary:")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_concurrent_run_writes_every_article(endpoint, tmp_path, llm):
    paths = sorted(str(p) for p in SEEDS.glob("*.txt"))
    out = tmp_path / "out"
    result = run_cli("summarise", *paths, "-j", "4", "--out", str(out), "--no-store", env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.decode().splitlines()) == len(paths) == len(list(out.iterdir()))
    assert llm.chat_count == len(paths)


def test_help_paragraphs_are_reflowed_not_broken_mid_sentence():
    import typer

    from summariser.cli import _unwrap_help, app

    command = typer.main.get_command(app)
    _unwrap_help(command)
    seen = 0

    def walk(cmd, path):
        nonlocal seen
        for paragraph in (cmd.help or "").split("\n\n"):
            lines = paragraph.splitlines()
            if len(lines) > 1:  # only indented blocks (examples) may span lines
                assert all(line.startswith(" ") for line in lines[1:]), (path, paragraph)
        seen += 1
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(command, "summariser")
    assert seen >= 10
