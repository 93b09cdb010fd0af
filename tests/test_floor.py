"""The floor (issue 14 item 1): an invented reply is a failure, never an ``ok`` summary."""

from __future__ import annotations

import json
import sqlite3
import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from summariser.errors import SummaryFailed
from summariser.extract import Summariser
from summariser.floor import MIN_OVERLAP, floor_problems, overlap
from summariser.schema import SummaryDraft
from summariser.store import Store
from summariser.testing import grounded_responder, reply

from conftest import REPO, SEED_ARTICLE
from test_cli_summarise import run_cli

ROSE = REPO.parent.parent / "shared" / "eval" / "rose_cnndm_dev.jsonl"
if not ROSE.is_file():  # the worktree sits at /work/wt/NAME, the shared data at /work/shared
    ROSE = Path("/work/shared/eval/rose_cnndm_dev.jsonl")

INVENTED = {
    "headline": "The moon is made of green cheese, scientists announce",
    "summary": "Astronauts confirmed the dairy composition of the lunar surface after a cheese tasting.",
    "key_facts": [{"quote": "the moon is mostly cheddar", "statement": "The moon is mostly cheddar."}],
    "participants": [{"name": "Wallace Gromit", "kind": "person", "role": "cheese expert", "aliases": []}],
    "stances": [],
}


def _good(text: str) -> dict:
    return grounded_responder({"messages": [{"role": "user", "content": f"<article>{text}</article>"}]})


def test_a_grounded_draft_clears_the_floor(seed_text):
    assert floor_problems(SummaryDraft.model_validate(_good(seed_text)), seed_text) == []


def test_each_part_of_the_floor(seed_text):
    good = _good(seed_text)
    no_facts = SummaryDraft.model_validate({**good, "key_facts": []})
    assert [p for p in floor_problems(no_facts, seed_text) if "key fact" in p]
    nobody = SummaryDraft.model_validate({**good, "participants": [], "stances": []})
    assert [p for p in floor_problems(nobody, seed_text) if "participant" in p]
    invented = SummaryDraft.model_validate({**good, "headline": INVENTED["headline"], "summary": INVENTED["summary"]})
    (problem,) = floor_problems(invented, seed_text)
    assert "content words" in problem and overlap(INVENTED["headline"] + " " + INVENTED["summary"], seed_text) < 0.2


@pytest.mark.skipif(not ROSE.is_file(), reason="needs ../shared/eval/rose_cnndm_dev.jsonl")
def test_human_reference_summaries_clear_the_overlap_threshold_with_margin():
    records = [json.loads(line) for line in ROSE.read_text(encoding="utf-8").splitlines() if line.strip()]
    shares = [overlap(r["reference"], r["source"]) for r in records]
    assert min(shares) >= MIN_OVERLAP + 0.1  # measured: min 0.54
    assert statistics.median(shares) > 0.8  # measured: 0.86


def test_an_invented_reply_fails_and_is_stored_failed(llm, settings, seed_text, tmp_path):
    llm.responder = lambda body: reply(INVENTED)
    with Store(tmp_path / "s.db") as store, Summariser(settings, store=store) as s:
        outcome = s.run(seed_text)
        assert outcome.summary is None and isinstance(outcome.error, SummaryFailed)
        assert "below the floor" in str(outcome.error)
        assert store.get_cached(s.key_for(outcome.article)) is None
        (run,) = store.list_runs()
        assert run.status == "failed" and "below the floor" in run.error


def test_a_reply_below_the_floor_is_re_asked_with_the_reason(llm, settings, seed_text):
    invented_words = {**_good(seed_text), "headline": INVENTED["headline"], "summary": INVENTED["summary"]}
    llm.enqueue(reply(invented_words), reply(_good(seed_text)))
    with Summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert summary.provenance.attempts == 2
    assert "content words" in llm.requests[1]["messages"][-1]["content"]


def test_cli_an_invented_reply_exits_1_prints_no_summary_and_is_not_cached_or_exported(llm, tmp_path):
    llm.responder = lambda body: reply(INVENTED)
    env = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted", "SUMMARISER_DB": str(tmp_path / "s.db")}
    result = run_cli("summarise", str(SEED_ARTICLE), "--format", "text", env=env)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "below the floor" in err and "green cheese" not in result.stdout.decode()
    first = llm.chat_count
    assert run_cli("summarise", str(SEED_ARTICLE), "--format", "text", env=env).returncode == 1
    assert llm.chat_count > first  # no cached "result" was served
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0
        assert {s for (s,) in conn.execute("SELECT status FROM runs")} == {"failed"}
    exported = run_cli("export", "--out", str(tmp_path / "all.jsonl"), env=env)
    assert exported.returncode == 0, exported.stderr.decode()
    assert "green cheese" not in (tmp_path / "all.jsonl").read_text(encoding="utf-8")


def test_strict_and_last_attempt_rules_still_keep_grounded_items(llm, settings, seed_text):
    # The floor does not undo "keep what is grounded on the last attempt".
    partly = _good(seed_text)
    partly["key_facts"].append({"quote": "words that do not occur in the article anywhere", "statement": "x y z"})
    llm.responder = lambda body: reply(partly)
    with Summariser(replace(settings, max_attempts=1)) as s:
        summary = s.summarise(seed_text)
    assert len(summary.key_facts) == len(partly["key_facts"]) - 1 and len(summary.grounding.unverified) == 1
