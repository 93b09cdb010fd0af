"""Briefings end to end: real openai client against ScriptedLLM, real SQLite, real files."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from summariser.briefing import (
    BriefingBuilder,
    BriefingBusy,
    BriefingTask,
    Item,
    briefing_lock,
    collect_stances,
    merge_participants,
)
from summariser.cli import main
from summariser.config import Settings
from summariser.grounding import ArticleText
from summariser.render import render_json
from summariser.schema import ArticleSummary, BriefingDraft
from summariser.store import Store
from summariser.testing import ScriptedLLM, error, grounded_responder, is_briefing_request, is_story_request, reply
from summariser.testing import briefing_responder as scripted_briefing_responder

FAIL_MARK = "FAILME"


def briefing_responder(body: dict):
    """Briefing requests get a valid BriefingDraft; articles marked FAILME fail; others are grounded."""
    if is_briefing_request(body) or is_story_request(body):
        return scripted_briefing_responder(body)
    article = body["messages"][1]["content"]  # the article, also in re-asks
    match = re.search(rf"{FAIL_MARK}(\d+)", article)
    if match:
        # Half fail at once (400), half keep sending invalid JSON until attempts run out.
        return error(400, "This article is cursed.") if int(match.group(1)) % 2 else reply('{"headline": "cut')
    return grounded_responder(body)


CITIES = ["Lisbon", "Oslo", "Quito", "Hanoi", "Accra", "Lima", "Perth", "Riga", "Tunis", "Cusco", "Dakar", "Bergen",
          "Kochi", "Split", "Durban", "Tromso", "Malaga", "Recife", "Gdansk", "Bilbao", "Izmir", "Porto"]
FIRST = ["Carla", "Ingrid", "Mateo", "Linh", "Kwame", "Rosa", "Hamish", "Ilze", "Amira", "Yupanqui", "Awa", "Sigrid",
         "Anil", "Marko", "Thabo", "Aslak", "Lucia", "Joana", "Zofia", "Iker", "Emre", "Rita"]
LAST = ["Duarte", "Berg", "Vera", "Pham", "Mensah", "Quispe", "Reid", "Ozola", "Haddad", "Mamani", "Diop", "Lund",
        "Nair", "Horvat", "Zulu", "Sara", "Ortega", "Lima", "Nowak", "Etxeberria", "Kaya", "Costa"]


def write_corpus(directory: Path, n: int = 100, failing: int = 10, *, related: bool = True) -> list[Path]:
    """``n`` harbour articles; ``related``: one city and the same two people (one story), else
    each in its own city with its own people (``n`` stories, up to 22)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        mark = f" {FAIL_MARK}{i}" if i < failing else ""
        if related:
            city, mayor, critic = "Lisbon", "Carla Duarte", "Rui Costa"
        else:
            k = i % len(CITIES)
            city, mayor, critic = CITIES[k], f"{FIRST[k]} {LAST[k]}", f"{FIRST[(k + 11) % 22]} {LAST[(k + 5) % 22]}"
        text = (
            f"Harbour works number {i}\n\n"
            f"Officials in {city} said on Monday that pier {i} would reopen next week.{mark} "
            f"Mayor {mayor} said the repairs on pier {i} were \"finished ahead of time\". "
            f"The opposition leader {critic} criticised the cost of pier {i}."
        )
        path = directory / f"article-{i:03d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def bllm():
    with ScriptedLLM(responder=briefing_responder) as server:
        yield server


@pytest.fixture
def bsettings(bllm, clean_env) -> Settings:
    return Settings.load(base_url=bllm.base_url, model="scripted", retry_budget_s=5.0, max_attempts=2, concurrency=8)


def _cli(llm, *args: str) -> int:
    return main(["briefing", *args, "--base-url", llm.base_url, "--model", "scripted", "--max-attempts", "2", "-j", "8"])


def test_100_articles_with_10_failures_is_partial_and_the_rerun_calls_no_model_for_the_90(bllm, tmp_path, capsys):
    paths = write_corpus(tmp_path / "inbox")
    out = tmp_path / "briefing.json"
    assert _cli(bllm, str(tmp_path / "inbox"), "--out", str(out), "--context-budget", "100000") == 3
    briefing = json.loads(out.read_text())
    failures = [f for f in briefing["failures"] if f["stage"] == "summarise"]
    assert len(failures) == 10 and len(briefing["failures"]) == 10
    assert {Path(f["source"]).name for f in failures} == {p.name for p in paths[:10]}
    assert any("cursed" in f["reason"] for f in failures) and any("still invalid" in f["reason"] for f in failures)
    assert len(briefing["articles"]) == 90 and briefing["articles"][0]["id"] == "a1"
    assert all(not a["cached"] for a in briefing["articles"])
    first_calls = bllm.chat_count
    # The 90 are one story (same city, same people): 1 story call and 1 overview call.
    assert [len(s["article_ids"]) for s in briefing["stories"]] == [90]
    # 90 good + 5 x 400 (1 call) + 5 x invalid (2 attempts) + 2 briefing calls
    assert first_calls == 90 + 5 + 10 + 2
    p = briefing["provenance"]
    # Calls count replies received, as Provenance.attempts does: a 400 brings no reply.
    assert p["article_calls"] == 90 + 10 and p["briefing_calls"] == 2 and p["stages"] == 1
    assert p["usage"]["total_tokens"] > 0 and len(p["input_sha256"]) == 90
    assert "Failed:" in capsys.readouterr().err

    bllm.reset()
    assert _cli(bllm, str(tmp_path / "inbox"), "--out", str(out), "--context-budget", "100000") == 3
    again = json.loads(out.read_text())
    assert all(a["cached"] for a in again["articles"]) and len(again["articles"]) == 90
    # Only the 10 failing articles are tried again; the 90 and the briefing call come from caches.
    assert all(FAIL_MARK in body["messages"][1]["content"] for body in bllm.requests)
    assert bllm.chat_count == 5 + 10
    assert again["provenance"]["briefing_calls"] == 0
    assert again["top_stories"] == briefing["top_stories"]
    same = ("id", "headline", "synthesis", "article_ids", "evidence")
    assert [{k: s[k] for k in same} for s in again["stories"]] == [{k: s[k] for k in same} for s in briefing["stories"]]
    # The rerun compares itself with the first run's output at the same path: nothing new.
    assert again["changes"]["unchanged"] == 1 and [s["status"] for s in again["stories"]] == ["unchanged"]


def test_json_output_validates_and_cites_only_known_articles(bllm, bsettings, tmp_path):
    write_corpus(tmp_path / "inbox", n=6, failing=0)
    with Store(bsettings.store_path) as store, BriefingBuilder(bsettings, store=store, context_budget=100000) as builder:
        result = builder.build([str(tmp_path / "inbox")], title="Harbour")
    b = result.briefing
    render_json(b)
    ids = {a.id for a in b.articles}
    assert b.title == "Harbour" and result.exit_code == 0
    assert all(set(s.article_ids) <= ids for s in b.top_stories)
    # Who's who is merged in Python: one entry per person across all six articles.
    carla = next(e for e in b.who_is_who if "Carla Duarte" in e.name)
    assert carla.article_ids == [f"a{i}" for i in range(1, 7)]
    assert carla.note and "matters" in carla.note


def test_unknown_ids_and_quotes_are_reasked_then_dropped_and_reported(bllm, bsettings, tmp_path):
    write_corpus(tmp_path / "inbox", n=3, failing=0, related=False)  # three one-article stories: no story call
    bad = {
        "overview": "x",
        "top_stories": [
            {"headline": "Real", "synthesis": "s", "article_ids": ["a1", "a42"], "evidence": [{"article_id": "a1", "quote": "pier 1 was sold to pirates"}]},
            {"headline": "Fake", "synthesis": "s", "article_ids": ["a99"], "evidence": []},
        ],
        "themes": [],
        "key_people": [{"name": "Nobody Atall", "note": "n"}],
    }
    with Store(bsettings.store_path) as store, BriefingBuilder(bsettings, store=store, context_budget=100000) as builder:
        articles = builder.collect([str(tmp_path / "inbox")]).articles
        builder.summarise_all(articles)  # the articles first, so the queue only feeds the briefing
        bllm.reset()
        bllm.enqueue(reply(bad), reply(bad))
        result = builder.build([str(tmp_path / "inbox")])
    assert bllm.chat_count == 2
    feedback = bllm.requests[1]["messages"][-1]["content"]
    assert "unknown article id 'a42'" in feedback and "unknown article id 'a99'" in feedback
    assert "quote not found in article a1" in feedback and "'Nobody Atall' is not in the participant list" in feedback
    b = result.briefing
    # Stories are the code's (one per article); the model's checked ranking puts a1's first.
    assert [s.article_ids for s in b.stories] == [["a1"], ["a2"], ["a3"]]
    assert b.stories[0].signals.model_rank == 1 and b.stories[1].signals.model_rank is None
    assert b.key_people == []
    assert {d.path for d in b.dropped} == {"top_stories[0].article_ids[1]", "top_stories[0].evidence[0]", "top_stories[1].article_ids[0]", "key_people[0]"}


def test_tiny_budget_aggregates_in_stages_and_every_request_fits(bllm, bsettings, tmp_path):
    write_corpus(tmp_path / "inbox", n=20, failing=0, related=False)
    budget = 1900
    with Store(bsettings.store_path) as store, BriefingBuilder(bsettings, store=store, context_budget=budget) as builder:
        result = builder.build([str(tmp_path / "inbox")])
        calls = bllm.chat_count
        again = builder.build([str(tmp_path / "inbox")])
    b = result.briefing
    assert b.provenance.stages >= 2 and b.provenance.briefing_calls >= 3
    briefing_bodies = [body for body in bllm.requests if is_briefing_request(body)]
    first_stage_ids = set()
    for body in briefing_bodies:
        chars = sum(len(m["content"]) for m in body["messages"])
        assert chars // 4 + body["max_tokens"] <= budget + 50  # the estimate, not silently exceeded
        first_stage_ids |= set(re.findall(r'"(a\d+)"', body["messages"][1]["content"]))
    assert first_stage_ids == {f"a{i}" for i in range(1, 21)}  # nothing truncated away
    assert bllm.chat_count == calls and again.briefing.provenance.briefing_calls == 0
    assert again.briefing.top_stories == b.top_stories


def test_context_overflow_splits_the_call_instead_of_losing_articles(clean_env, tmp_path):
    """A server whose real context is smaller than the budget's estimate (or a re-ask that grows
    past it): the briefing splits the call in halves, again if needed, and loses no article."""
    max_lines = 4

    def responder(body: dict):
        if is_briefing_request(body):
            user = next(m["content"] for m in body["messages"] if m["role"] == "user")
            block = re.search(r"<articles>\n(.*?)\n</articles>", user, re.S).group(1)
            if len(block.splitlines()) > max_lines:
                return error(400, "request (5000 tokens) exceeds the available context size (4096 tokens)", code="context_length_exceeded")
        return briefing_responder(body)

    write_corpus(tmp_path / "inbox", n=12, failing=0, related=False)
    with ScriptedLLM(responder=responder) as server:
        settings = Settings.load(base_url=server.base_url, model="scripted", retry_budget_s=5.0, max_attempts=2, concurrency=8)
        with Store(settings.store_path) as store, BriefingBuilder(settings, store=store, context_budget=100000) as builder:
            result = builder.build([str(tmp_path / "inbox")])
        answered = [body for body in server.requests if is_briefing_request(body)]
    b = result.briefing
    assert not b.failures and result.exit_code == 0
    assert b.provenance.stages == 2
    sizes = [len(re.findall(r"^\{", body["messages"][1]["content"], re.M)) for body in answered]
    assert sizes == [12, 6, 3, 3, 6, 3, 3, 4]  # whole, halves, quarters; then the merge of the 4 parts
    briefed = set()  # articles inside a first-stage call the server accepted
    for body in answered:
        lines = re.findall(r'"article_ids":\["(a\d+)"\]', body["messages"][1]["content"])
        if 0 < len(lines) <= max_lines:
            briefed |= set(lines)
    assert briefed == {f"a{i}" for i in range(1, 13)}
    assert {i for story in b.top_stories for i in story.article_ids} <= briefed


def test_since_keeps_dated_and_recently_seen_articles(bllm, bsettings, tmp_path):
    write_corpus(tmp_path / "inbox", n=3, failing=0)
    with Store(bsettings.store_path) as store, BriefingBuilder(bsettings, store=store) as builder:
        builder.build([str(tmp_path / "inbox")])
        with store._write("age the articles") as conn:  # pretend they were first seen long ago
            conn.execute("UPDATE articles SET first_seen = '2020-01-01T00:00:00.000000+00:00'")
        (tmp_path / "inbox" / "new.txt").write_text("Fresh news\n\nThe council in Porto met on Tuesday to vote.")
        plan = builder.plan([str(tmp_path / "inbox")], since=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert [p.article.source.rsplit("/", 1)[-1] for p in plan.articles] == ["new.txt"]
    assert len(plan.collection.too_old) == 3


def test_dry_run_lists_cached_and_new_without_calling_a_model(bllm, tmp_path, capsys):
    write_corpus(tmp_path / "inbox", n=4, failing=0)
    out = tmp_path / "b.md"
    assert _cli(bllm, str(tmp_path / "inbox" / "article-00[01].txt"), "--out", str(out)) == 0
    bllm.reset()
    capsys.readouterr()
    assert _cli(bllm, str(tmp_path / "inbox"), str(tmp_path / "inbox" / "article-000.txt"), "--out", str(out), "--dry-run") == 0
    text = capsys.readouterr().out
    assert bllm.chat_count == 0
    assert text.count("cached") >= 2 and text.count("summarise") >= 2 and "duplicate" in text
    assert "2 to summarise, 2 cached" in text


def test_dry_run_with_default_settings_never_starts_the_local_model(tmp_path, capsys, monkeypatch):
    import summariser.llm.local as local

    monkeypatch.setattr(local, "shared_server", lambda *a, **k: pytest.fail("the local model was started"))
    write_corpus(tmp_path / "inbox", n=2, failing=0)
    assert main(["briefing", str(tmp_path / "inbox"), "--out", str(tmp_path / "b.html"), "--dry-run"]) == 0
    assert "2 to summarise" in capsys.readouterr().out


def test_default_settings_use_the_local_endpoint_for_briefing_calls(clean_env, tmp_path, monkeypatch):
    import summariser.llm.local as local

    with ScriptedLLM(responder=briefing_responder) as server:
        class Fake:
            base_url = server.base_url

        monkeypatch.setattr(local, "shared_server", lambda settings: Fake())
        write_corpus(tmp_path / "inbox", n=2, failing=0)
        out = tmp_path / "b.json"
        assert main(["briefing", str(tmp_path / "inbox"), "--out", str(out)]) == 0
        assert server.chat_count == 4  # 2 articles, 1 story of both, 1 overview
        assert json.loads(out.read_text())["provenance"]["model"] == Settings.load().model_name


def test_lock_contention_waits_then_exits_clearly(bllm, tmp_path, capsys, clean_env):
    write_corpus(tmp_path / "inbox", n=1, failing=0)
    out = tmp_path / "b.html"
    with briefing_lock(out, Settings.load().home):
        assert _cli(bllm, str(tmp_path / "inbox"), "--out", str(out), "--wait", "0.3") == 1
        assert bllm.chat_count == 0
    assert "another briefing run is still writing" in capsys.readouterr().err
    assert not out.exists()
    assert _cli(bllm, str(tmp_path / "inbox"), "--out", str(out)) == 0 and out.exists()


def test_lock_is_exclusive_per_output_path(tmp_path):
    with briefing_lock(tmp_path / "a.html", tmp_path):
        with pytest.raises(BriefingBusy, match="--wait"):
            with briefing_lock(tmp_path / "a.html", tmp_path, wait_s=0.05):
                pass
        with briefing_lock(tmp_path / "b.html", tmp_path):
            pass


def test_every_article_failing_is_exit_1_and_writes_nothing(bllm, tmp_path, capsys):
    write_corpus(tmp_path / "inbox", n=2, failing=2)
    out = tmp_path / "b.md"
    assert _cli(bllm, str(tmp_path / "inbox"), str(tmp_path / "missing.txt"), "--out", str(out)) == 1
    assert "no article could be summarised" in capsys.readouterr().err and not out.exists()


def test_unreadable_input_is_listed_and_partial(bllm, tmp_path):
    write_corpus(tmp_path / "inbox", n=2, failing=0)
    out = tmp_path / "b.json"
    assert _cli(bllm, str(tmp_path / "inbox"), str(tmp_path / "nope.txt"), "--out", str(out)) == 3
    failures = json.loads(out.read_text())["failures"]
    assert [(Path(f["source"]).name, f["stage"]) for f in failures] == [("nope.txt", "collect")]


def test_bad_out_suffix_and_since_are_usage_errors(bllm, tmp_path):
    assert _cli(bllm, str(tmp_path), "--out", str(tmp_path / "b.pdf")) == 2
    assert _cli(bllm, str(tmp_path), "--out", str(tmp_path / "b.md"), "--since", "someday") == 2


# -- deterministic parts ------------------------------------------------------------------------


def _summary(participants: list[dict], stances: list[dict] = ()) -> ArticleSummary:
    return ArticleSummary.model_validate({
        "headline": "h", "summary": "s", "key_facts": [{"statement": "f", "quote": "q"}],
        "participants": participants, "stances": list(stances),
        "provenance": {
            "prompt": "article", "prompt_version": 2, "prompt_sha256": "x", "schema_version": "1.0", "model": "m",
            "endpoint": "e", "attempts": 1, "transport_retries": 0, "usage": {}, "duration_s": 0.1,
            "source": {"path": None, "sha256": "0" * 64, "length": 1}, "created_at": "2026-01-01T00:00:00Z",
        },
        "grounding": {"verified": [], "unverified": [], "grounding_rate": 1.0, "fuzzy_matches": 0},
    })


def _p(name: str, kind: str = "country", role: str = "r", aliases: tuple = ()) -> dict:
    return {"name": name, "kind": kind, "role": role, "aliases": list(aliases)}


def test_participants_merge_by_name_or_alias_deterministically():
    summaries = [
        ("a1", _summary([_p("Russia", aliases=("Moscow",)), _p("Vladimir Putin", "person")],
                        [{"holder": "Moscow", "target": "the deal", "position": "opposes", "quote": "no deal"}])),
        ("a2", _summary([_p("Moscow", "place", "host city"), _p("the Kremlin", "organisation", aliases=("Russia",))])),
        ("a3", _summary([_p("Russia"), _p("vladimir putin", "person", "president")])),
    ]
    who = merge_participants(summaries)
    assert [e.name for e in who] == ["Russia", "Vladimir Putin"]
    russia = who[0]
    assert russia.kind == "country" and russia.article_ids == ["a1", "a2", "a3"]
    assert russia.aliases == ["Moscow", "the Kremlin"]
    assert who[1].article_ids == ["a1", "a3"] and who[1].aliases == []
    assert merge_participants(list(reversed(summaries)))[0].name == "Russia"
    stances = collect_stances(summaries, who)
    assert [(s.holder, s.position, s.article_id, s.quote) for s in stances] == [("Russia", "opposes", "a1", "no deal")]


def test_a_surname_alone_joins_the_one_full_name_it_belongs_to():
    summaries = [
        ("a1", _summary([_p("Sergei Lavrov", "person", "foreign minister")])),
        ("a2", _summary([_p("Lavrov", "person", "minister")])),
        ("a3", _summary([_p("Lavrov", "person"), _p("Wang", "person")])),
        ("a4", _summary([_p("Wang Yi", "person"), _p("Wang Tao", "person")])),
    ]
    who = {e.name: e for e in merge_participants(summaries)}
    assert who["Sergei Lavrov"].article_ids == ["a1", "a2", "a3"] and who["Sergei Lavrov"].aliases == ["Lavrov"]
    assert "Lavrov" not in who
    assert who["Wang"].article_ids == ["a3"]  # two full names end in Wang: which one is unknown


def test_briefing_task_checks_ids_quotes_and_names():
    items = [Item('{"id":"a1"}', ("a1",)), Item('{"id":"a2"}', ("a2",))]
    task = BriefingTask(items, {"a1": ArticleText("Pier one reopens on Monday."), "a2": ArticleText("Other.")}, ["Carla Duarte"])
    draft = BriefingDraft.model_validate({
        "overview": "o",
        "top_stories": [{"headline": "h", "synthesis": "s", "article_ids": ["a1"],
                         "evidence": [{"article_id": "a1", "quote": "pier one reopens"}, {"article_id": "a2", "quote": "Other"}]}],
        "themes": [{"name": "t", "summary": "s", "article_ids": ["a2", "a3"]}],
        "key_people": [{"name": "carla duarte", "note": "n"}],
    })
    result = task.check(draft)
    assert [q.path for q in result.verified] == ["top_stories[0].evidence[0].quote"]
    assert [p.item for p in result.problems] == ["top_stories[0].evidence[1]", "themes[0].article_ids[1]"]
    kept = task.drop(draft, {p.item for p in result.problems})
    assert len(kept.top_stories[0].evidence) == 1 and kept.themes[0].article_ids == ["a2"]


# -- saying what happened -------------------------------------------------------------------------


def test_when_nothing_could_be_summarised_every_failure_is_printed_not_just_three(bllm, tmp_path, capsys):
    write_corpus(tmp_path / "inbox", n=5, failing=5)
    assert _cli(bllm, str(tmp_path / "inbox"), "--out", str(tmp_path / "b.html")) == 1
    err = capsys.readouterr().err
    assert err.count("Failed:") == 5 and "and 2 more, listed above" in err
    assert all(f"article-00{i}.txt" in err for i in range(5))


def test_a_failed_overview_call_still_writes_the_stories_and_lists_the_failure(tmp_path, capsys, clean_env):
    def responder(body: dict):
        return error(400, "the overview is cursed") if is_briefing_request(body) else briefing_responder(body)

    write_corpus(tmp_path / "inbox", n=3, failing=0, related=False)
    out = tmp_path / "b.html"
    with ScriptedLLM(responder=responder) as server:
        assert main(["briefing", str(tmp_path / "inbox"), "--out", str(out), "--base-url", server.base_url, "--model", "s"]) == 3
    err = capsys.readouterr().err
    assert "Failed: overview (3 stories) (briefing): the overview call failed" in err and "cursed" in err
    page = out.read_text()
    assert page.count('class="story"') == 3 and "the overview call failed" in page.split('id="failures"')[1]
    assert "3 stories. Leading: " in page


def test_a_feed_item_summarised_from_its_teaser_is_marked(bllm, tmp_path, capsys):
    feed = tmp_path / "world.rss"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>World</title>'
        "<item><title>Dredging in Faro</title><link>http://127.0.0.1:9/faro.html</link>"
        "<description>The harbour authority in Faro said on Friday that dredging will start in spring.</description>"
        "<pubDate>Fri, 27 Nov 2026 08:00:00 GMT</pubDate></item></channel></rss>", encoding="utf-8")
    out = tmp_path / "b.json"
    assert _cli(bllm, str(feed), "--out", str(out)) == 0
    article = json.loads(out.read_text())["articles"][0]
    assert article["from_teaser"] is True and "cannot fetch" in article["teaser_reason"]
    assert "Teaser only: http://127.0.0.1:9/faro.html" in capsys.readouterr().err
    assert _cli(bllm, str(feed), "--out", str(tmp_path / "b.md")) == 0
    assert "*from the feed's teaser only*" in (tmp_path / "b.md").read_text()
