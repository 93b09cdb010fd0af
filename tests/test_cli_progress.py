"""Progress on stderr: one line per article on a pipe or in cron, a bar that keeps clear of the
summaries on a terminal. Real subprocesses against the scripted server."""

from __future__ import annotations

import re

from summariser.testing import delay, reply

from cliutil import run_cli, run_on_tty
from conftest import SEEDS

PATHS = sorted(str(p) for p in SEEDS.glob("wikinews-*.txt"))[:3]
LINE = re.compile(r"^\[(\d)/3\] (done|cached|failed) +\d+\.\ds  (\S+)$")


def endpoint(llm) -> dict:
    return {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}


def progress_lines(stderr: bytes) -> list[tuple[str, str, str]]:
    return [m.groups() for m in map(LINE.match, stderr.decode().splitlines()) if m]


def test_a_pipe_gets_one_line_per_article_and_a_final_count(llm):
    llm.enqueue(reply("not json"))  # the first article fails at its only attempt
    result = run_cli("summarise", *PATHS, "--max-attempts", "1", env=endpoint(llm))
    assert result.returncode == 1
    assert progress_lines(result.stderr) == [("1", "failed", PATHS[0]), ("2", "done", PATHS[1]), ("3", "done", PATHS[2])]
    last = [line for line in result.stderr.decode().splitlines() if line.startswith("3/3 articles")]
    assert len(last) == 1 and last[0].endswith(": 2 done, 1 failed."), result.stderr.decode()

    again = run_cli("summarise", *PATHS, env=endpoint(llm))
    assert again.returncode == 0, again.stderr.decode()
    assert [status for _, status, _ in progress_lines(again.stderr)] == ["done", "cached", "cached"]
    assert "3/3 articles in" in again.stderr.decode() and "1 done, 2 cached." in again.stderr.decode()


def test_quiet_prints_no_progress(llm):
    result = run_cli("summarise", *PATHS, "--quiet", env=endpoint(llm))
    assert result.returncode == 0 and result.stderr.decode() == ""
    assert len(result.stdout.decode().splitlines()) == 3


def test_on_a_terminal_the_bar_never_touches_a_panel(llm):
    llm.enqueue(*[delay(0.4)] * 3)  # slow enough for the bar to be drawn between panels
    code, screen, raw = run_on_tty("summarise", *PATHS, "--no-store", env=endpoint(llm))
    assert code == 0, "\n".join(screen)
    tops = [line for line in screen if "╭" in line]
    bottoms = [line for line in screen if "╰" in line]
    assert len(tops) == 3 and len(bottoms) == 3, "\n".join(screen)
    assert all(line.startswith("╭") for line in tops + [b.replace("╰", "╭", 1) for b in bottoms]), "\n".join(screen)
    assert "Summarising" in raw.decode("utf-8", "replace")  # the bar was drawn...
    assert not any("Summarising" in line for line in screen)  # ...and left nothing behind
    assert screen[-1] == "" and any(line.startswith("3/3 articles in") for line in screen)
