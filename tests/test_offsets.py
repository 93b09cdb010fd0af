"""Character offsets on quotes: every grounded quote says where it is in the article text.

``article[quote_start:quote_end]`` is the original text that matched, even when the quote only
matched after folding case, spacing, quote marks and dashes. The offsets are filled in by
summariser after grounding; the schema sent to the model never asks for them.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from summariser.article import Article
from summariser.batch import import_results, prepare_batch
from summariser.config import Settings
from summariser.export import TABLE_COLUMNS, export_results
from summariser.extract import Summariser
from summariser.grounding import _EDGE, ArticleText, check_draft, located_items, normalise, normalise_with_map
from summariser.schema import SCHEMA_VERSION, ArticleSummary, LocatedKeyFact, SummaryDraft, draft_json_schema
from summariser.store import Store
from summariser.testing import grounded_responder, reply

from conftest import SEED_ARTICLE, SEEDS
from test_batch import answer_file
from test_cli_summarise import run_cli
from test_store import make_article, make_summary, record_run

# Seed-like: curly quotes, an em dash, doubled spaces and a line break inside a sentence.
SPACED = (
    "Moscow’s and Beijing’s top diplomats noted “closeness”  in their positions — Russia’s\n"
    "foreign ministry said.  The envoy said:  “We  will   not give up,” adding that talks\t continue."
)


@pytest.mark.parametrize(
    ("quote", "match", "span"),
    [
        ("Beijing’s top diplomats", "exact", "Beijing’s top diplomats"),
        ('noted "closeness" in their positions', "normalised", "noted “closeness”  in their positions"),
        ('"We will not give up," adding', "normalised", "We  will   not give up,” adding"),
        ("positions - Russia's foreign ministry said.", "normalised", "positions — Russia’s\nforeign ministry said"),
        ("ADDING THAT TALKS CONTINUE", "normalised", "adding that talks\t continue"),
    ],
)
def test_a_located_quote_spans_the_original_text_it_matched(quote: str, match: str, span: str) -> None:
    found = ArticleText(SPACED).locate(quote)
    assert found is not None and found.match == match
    assert SPACED[found.start : found.end] == span
    assert normalise(SPACED[found.start : found.end]) == normalise(quote).strip(_EDGE)


def test_a_fuzzy_quote_spans_the_near_match() -> None:
    quote = "top diplomats notted closeness in their positions"  # one typo, quote marks left out
    found = ArticleText(SPACED).locate(quote)
    assert found is not None and found.match == "fuzzy"
    span = SPACED[found.start : found.end]
    assert "diplomats noted “closeness”  in their position" in span and "Moscow" not in span


def test_text_whose_folding_cannot_be_mapped_gets_no_span_rather_than_a_wrong_one() -> None:
    # Conjoining Hangul jamo compose across what look like separate characters.
    text = "Officials met \u1100\u1161 in the capital on Monday."
    assert normalise_with_map(text) is None
    found = ArticleText(text).locate("OFFICIALS MET")
    assert found is not None and found.match == "normalised" and (found.start, found.end) == (None, None)
    exact = ArticleText(text).locate("in the capital")
    assert exact is not None and text[exact.start : exact.end] == "in the capital"


def _garble(rng: random.Random, text: str) -> str:
    """What a faithful but sloppy copy does: change case, quote marks, dashes and spacing."""
    text = text.replace("’", "'").replace("“", '"').replace("”", '"').replace("—", "-").replace("–", "-")
    text = re.sub(r" ", lambda _: rng.choice([" ", "  ", "\n"]), text)
    return text.upper() if rng.random() < 0.5 else text.lower()


@pytest.mark.parametrize("seed", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.stem)
def test_offsets_round_trip_for_random_spans_of_every_seed(seed: Path) -> None:
    text = seed.read_text(encoding="utf-8").strip()
    article = ArticleText(text)
    assert normalise_with_map(text) is not None  # every seed maps back
    rng = random.Random(seed.name)
    sentences = [s for s in re.split(r"(?<=[.!?”])\s+|\n+", text) if len(s.split()) >= 4]
    for _ in range(40):
        words = rng.choice(sentences).split()
        first = rng.randrange(len(words) - 2)
        span = " ".join(words[first : first + rng.randint(3, 12)])
        if len(span.strip(_EDGE)) < 12:
            continue
        exact = article.locate(span)
        assert exact is not None and exact.match == "exact" and text[exact.start : exact.end] == span
        sloppy = _garble(rng, span)
        found = article.locate(sloppy)
        assert found is not None and found.match in ("exact", "normalised"), sloppy
        assert found.start is not None and 0 <= found.start < found.end <= len(text)
        if found.match == "exact":  # a lower-case span with single spaces can come out unchanged
            assert text[found.start : found.end] == sloppy
        else:
            assert normalise(text[found.start : found.end]) == normalise(sloppy).strip(_EDGE)


def test_verified_checks_and_located_items_carry_the_offsets() -> None:
    draft = SummaryDraft.model_validate(
        {
            "headline": "Diplomats meet",
            "summary": "Russia and China noted close positions.",
            "key_facts": [{"quote": 'noted "closeness" in their positions', "statement": "The diplomats noted closeness in their positions."}],
            "participants": [{"name": "Russia", "kind": "country", "role": "host", "aliases": ["Moscow"]}],
            "stances": [{"holder": "Russia", "target": "talks", "position": "supports", "quote": "We will not give up"}],
        }
    )
    result = check_draft(draft, ArticleText(SPACED))
    assert not result.problems
    assert [SPACED[q.start : q.end] for q in result.verified] == ["noted “closeness”  in their positions", "We  will   not give up"]
    facts, stances = located_items(draft, result.verified)
    assert SPACED[facts[0].quote_start : facts[0].quote_end] == "noted “closeness”  in their positions"
    assert SPACED[stances[0].quote_start : stances[0].quote_end] == "We  will   not give up"
    assert facts[0].quote == draft.key_facts[0].quote  # the quote itself is kept as the model gave it


def test_the_schema_sent_to_the_model_asks_for_no_offsets() -> None:
    wire = json.dumps(draft_json_schema())
    assert "quote_start" not in wire and "quote_end" not in wire and "Located" not in wire
    assert tuple(map(int, SCHEMA_VERSION.split("."))) >= (1, 1)  # offsets arrived in 1.1


def test_a_1_0_summary_without_offsets_still_loads_validates_and_exports(tmp_path: Path) -> None:
    article = make_article()
    old = make_summary(article).model_dump(mode="json")
    for item in [*old["key_facts"], *old["stances"]]:
        del item["quote_start"], item["quote_end"]
    for check in old["grounding"]["verified"]:
        del check["start"], check["end"]
    loaded = ArticleSummary.model_validate(old)
    assert loaded.key_facts[0].quote_start is None
    # Code written for 1.0 that builds summaries from plain KeyFact items keeps working.
    assert isinstance(make_summary(article).key_facts[0], LocatedKeyFact)
    with Store(tmp_path / "runs.db") as store:
        record_run(store, article, ArticleSummary.model_validate(old))
        export_results(store, fmt="csv", out=tmp_path / "facts.csv", table="facts")
    header, first = (tmp_path / "facts.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert header.split(",") == list(TABLE_COLUMNS["facts"]) and header.endswith("quote_start,quote_end")
    assert first.endswith(",,")


def test_offsets_survive_the_store_and_every_export_format(tmp_path: Path) -> None:
    article = make_article()
    summary = make_summary(article)
    text = article.text
    located = [
        fact.model_copy(update={"quote_start": text.index(fact.quote), "quote_end": text.index(fact.quote) + len(fact.quote)})
        for fact in summary.key_facts
    ]
    summary = summary.model_copy(update={"key_facts": located})
    with Store(tmp_path / "runs.db") as store:
        record_run(store, article, summary)
        export_results(store, fmt="json", out=tmp_path / "all.json")
        export_results(store, fmt="jsonl", out=tmp_path / "facts.jsonl", table="facts")
        export_results(store, fmt="csv", out=tmp_path / "facts.csv", table="facts")
    [record] = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (tmp_path / "facts.jsonl").read_text(encoding="utf-8").splitlines()]
    for fact, row in zip(record["key_facts"], rows, strict=True):
        assert text[fact["quote_start"] : fact["quote_end"]] == fact["quote"]
        assert (row["quote_start"], row["quote_end"]) == (fact["quote_start"], fact["quote_end"])
    csv_text = (tmp_path / "facts.csv").read_text(encoding="utf-8")
    assert f",{located[0].quote_start},{located[0].quote_end}" in csv_text


# -- end to end ---------------------------------------------------------------------------------

SEED_QUOTE = "Russia's foreign ministry said in a Telegram statement after the Moscow talks"  # article: Russia’s


def _seed_reply() -> dict:
    return {
        "headline": "Russia and China align on Ukraine",
        "summary": "Russian and Chinese diplomats noted close positions.",
        "key_facts": [
            {"quote": SEED_QUOTE, "statement": "Russia's foreign ministry issued a Telegram statement after the talks."},
            {"quote": "WANG YI,  Chinese leader Xi Jinping's point man", "statement": "Wang Yi is Xi Jinping's point man."},
            {"quote": "is in Moscow for several days of security and foreign policy talks", "statement": "Wang is in Moscow for talks."},
        ],
        "participants": [
            {"name": "Wang Yi", "kind": "person", "role": "Chinese diplomat", "aliases": []},
            {"name": "Russia", "kind": "country", "role": "host", "aliases": ["Moscow"]},
        ],
        "stances": [{"holder": "Russia", "target": "U.S. actions", "position": "opposes", "quote": 'anti-Russian and anti-Chinese" stance'}],
    }


def test_summarise_json_carries_offsets_into_the_article_text(llm) -> None:
    llm.enqueue(reply(_seed_reply()))
    endpoint = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}
    result = run_cli("summarise", str(SEED_ARTICLE), "--format", "json", "--no-store", env=endpoint)
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    text = SEED_ARTICLE.read_text(encoding="utf-8").strip()  # the article text as summarised
    assert data["provenance"]["schema_version"] == SCHEMA_VERSION
    quotes = [*data["key_facts"], *data["stances"]]
    assert len(quotes) == 4
    for item in quotes:
        span = text[item["quote_start"] : item["quote_end"]]
        assert normalise(span) == normalise(item["quote"]).strip(_EDGE)
    assert text[data["key_facts"][0]["quote_start"] : data["key_facts"][0]["quote_end"]] == SEED_QUOTE.replace("'", "’")
    for check in data["grounding"]["verified"]:
        assert normalise(text[check["start"] : check["end"]]) == normalise(check["quote"]).strip(_EDGE)
    sent = json.dumps(llm.requests[0]["response_format"])
    assert "quote_start" not in sent and '"start"' not in sent


def test_batch_import_stores_the_offsets(tmp_path: Path) -> None:
    settings = Settings.load(base_url="http://127.0.0.1:9/v1", model="scripted", db_path=tmp_path / "store.db")
    text = SEED_ARTICLE.read_text(encoding="utf-8").strip()
    article = Article(text, source="seed.txt")

    def sloppy(custom_id: str, body: dict) -> str:
        good = grounded_responder(body)
        for fact in good["key_facts"]:
            fact["quote"] = fact["quote"].upper()  # matched only after folding case
        return json.dumps(good)

    with Store(settings.store_path) as store:
        prepare_batch(iter([article]), tmp_path / "requests.jsonl", store=store, settings=settings)
        answer_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl", sloppy)
        assert import_results(tmp_path / "results.jsonl", store=store).stored == 1
        with Summariser(settings) as summariser:
            key = summariser.key_for(article)
        summary = store.get_cached(key)
    assert summary is not None and summary.key_facts
    for fact in summary.key_facts:
        assert fact.quote.isupper() and normalise(text[fact.quote_start : fact.quote_end]) == normalise(fact.quote).strip(_EDGE)
