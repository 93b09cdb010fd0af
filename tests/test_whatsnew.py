"""What is new since the previous briefing: two runs over a growing set of articles (CLI, real files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from summariser.cli import main
from summariser.config import Settings
from summariser.testing import ScriptedLLM, briefing_responder
from summariser.whatsnew import last_path, load_previous

from conftest import SEEDS

EVENTS = Path(__file__).resolve().parent / "fixtures" / "events"


@pytest.fixture
def llm():
    with ScriptedLLM(responder=briefing_responder) as server:
        yield server


def run(llm, inbox: Path, out: Path, *extra: str) -> int:
    return main(["briefing", str(inbox), "--out", str(out), "--base-url", llm.base_url, "--model", "scripted", *extra])


def fill(inbox: Path, paths: list[Path]) -> None:
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    for p in paths:
        shutil.copy(p, inbox / p.name)


def stories_by_article(data: dict) -> dict[str, dict]:
    names = {a["id"]: Path(a["source"]).stem for a in data["articles"]}
    return {names[aid]: story for story in data["stories"] for aid in story["article_ids"]}, names


def test_second_run_over_a_superset_marks_new_developing_and_unchanged_then_lists_what_dropped(llm, tmp_path, capsys):
    seeds = sorted(SEEDS.glob("*.txt"))
    first = [p for p in seeds if p.stem != "wikinews-hackers"] + [EVENTS / "moscow-tass.txt"]
    everything = seeds + sorted(EVENTS.glob("*.txt"))
    inbox, out = tmp_path / "inbox", tmp_path / "briefing.html"

    fill(inbox, first)
    assert run(llm, inbox, out) == 0
    kept = last_path(out, Settings.load().home)
    assert json.loads(kept.read_text())["changes"] is None  # a first run has nothing to compare with

    fill(inbox, everything)
    assert run(llm, inbox, out) == 0  # the previous briefing is found by the output path alone
    data = json.loads(kept.read_text())
    story, names = stories_by_article(data)
    assert data["changes"]["previous"] == "the last briefing.html" and data["changes"]["dropped"] == []
    moscow = story["reuters-moscow-beijing-ukraine"]
    assert moscow["status"] == "developing"
    assert sorted(names[i] for i in moscow["new_article_ids"]) == ["moscow-wire", "moscow-xinhua"]
    assert moscow["change"].startswith("2 new articles: ")
    assert story["wikinews-lanterns"]["status"] == "developing"
    assert story["wikinews-hackers"]["status"] == story["hackers-daily"]["status"] == "new"
    assert len(story["wikinews-hackers"]["new_article_ids"]) == 2
    unchanged = [s for s in data["stories"] if s["status"] == "unchanged"]
    assert {names[s["article_ids"][0]] for s in unchanged} == {p.stem for p in first} - {
        "reuters-moscow-beijing-ukraine", "moscow-tass", "wikinews-lanterns"}
    assert all(s["new_article_ids"] == [] and s["change"] is None for s in unchanged)
    counts = data["changes"]
    assert (counts["new"], counts["developing"], counts["unchanged"]) == (1, 2, len(unchanged))
    assert "1 new, 2 developing" in capsys.readouterr().err

    fill(inbox, [p for p in everything if p.stem != "wikinews-iodine"])
    previous = tmp_path / "yesterday.json"
    shutil.copy(kept, previous)
    out_json = tmp_path / "today.json"
    assert run(llm, inbox, out_json, "--previous", str(previous)) == 0
    data = json.loads(out_json.read_text())
    iodine = json.loads(previous.read_text())
    iodine_headline = next(s["headline"] for s in iodine["stories"]
                           if any(a["id"] in s["article_ids"] and "iodine" in a["source"] for a in iodine["articles"]))
    assert data["changes"]["dropped"] == [{"headline": iodine_headline, "articles": 1}]
    assert {s["status"] for s in data["stories"]} == {"unchanged"}


def test_a_missing_previous_is_an_error_and_a_damaged_default_only_a_warning(llm, tmp_path, capsys):
    inbox, out = tmp_path / "inbox", tmp_path / "b.json"
    fill(inbox, sorted(SEEDS.glob("*.txt"))[:2])
    assert run(llm, inbox, out, "--previous", str(tmp_path / "nope.json")) == 1
    assert "Error: nope.json: no such previous briefing" in capsys.readouterr().err and not out.exists()
    out.write_text("{not json")
    assert run(llm, inbox, out) == 0
    assert "Warning: b.json: the previous briefing is not JSON" in capsys.readouterr().err
    assert json.loads(out.read_text())["changes"] is None


def test_a_schema_1_0_briefing_is_read_through_its_top_stories(tmp_path):
    old = {"articles": [{"id": "a1", "sha256": "1" * 64, "source": "https://x.example/a/"}],
           "top_stories": [{"headline": "Old", "article_ids": ["a1"]}], "provenance": {"created_at": "2026-11-01T06:30:00Z"}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    previous = load_previous(tmp_path / "old.json")
    assert previous.stories == [("Old", {"sha:" + "1" * 64, "url:https://x.example/a"})]
    assert previous.created_at.year == 2026
