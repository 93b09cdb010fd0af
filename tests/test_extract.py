"""summarise_article() end to end: real openai client, real HTTP, scripted faults."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import DRAFT_PROMPT
from summariser.article import Article
from summariser.errors import AuthError, ContextLengthError, RefusalError, SummaryFailed, TransportError, TruncationError
from summariser.extract import Summariser, asummarise_article, summarise_article
from summariser.prompts import load_prompt
from summariser.testing import delay, error, grounded_responder, raw, reply

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


def _good(seed_text: str) -> dict:
    return grounded_responder({"messages": [{"role": "user", "content": f"<article>{seed_text}</article>"}]})


def test_valid_reply_gives_summary_with_full_provenance(llm, settings, seed_text):
    llm.enqueue(reply(_good(seed_text), usage=(1000, 200)))
    summary = summarise_article(seed_text, settings=settings, source="seed.txt")
    p = summary.provenance
    prompt = load_prompt(DRAFT_PROMPT)
    assert (p.prompt, p.prompt_version, p.prompt_sha256) == ("article", prompt.version, prompt.sha256)
    assert p.model == "scripted" and p.endpoint == f"127.0.0.1:{llm.port}"
    assert p.attempts == 1 and p.transport_retries == 0
    assert (p.usage.prompt_tokens, p.usage.completion_tokens, p.usage.total_tokens) == (1000, 200, 1200)
    assert p.source.path == "seed.txt" and p.source.length == len(seed_text)
    assert p.source.sha256 == Article(seed_text).sha256
    assert summary.grounding.grounding_rate == 1.0 and not summary.grounding.unverified
    assert {q.path for q in summary.grounding.verified} == {f"key_facts[{i}].quote" for i in range(len(summary.key_facts))}
    body = llm.requests[0]
    assert body["response_format"]["type"] == "json_schema" and body["response_format"]["json_schema"]["strict"] is True
    assert seed_text.strip() in body["messages"][1]["content"]


def test_schema_violation_then_valid_reasks_with_only_the_failures(llm, settings, seed_text):
    bad = _good(seed_text)
    del bad["summary"]
    bad["participants"][0]["kind"] = "planet"
    llm.enqueue(reply(bad), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 2
    second = llm.requests[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    feedback = second[3]["content"]
    assert feedback.startswith("Your reply had 2 problems:")
    assert "- summary: Field required" in feedback
    assert "participants[0].kind:" in feedback
    import json

    assert json.loads(second[2]["content"]) == bad  # the last reply, as sent back


def test_ungrounded_quote_then_valid(llm, settings, seed_text):
    bad = _good(seed_text)
    bad["key_facts"][0]["quote"] = "Moscow and Beijing signed a new treaty on grain exports"
    llm.enqueue(reply(bad), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 2
    feedback = llm.requests[1]["messages"][-1]["content"]
    assert "key_facts[0].quote: quote not found in the article: 'Moscow and Beijing signed a new treaty on grain exports'" in feedback
    assert feedback.count("\n- ") == 1  # only the failure is listed


def test_quote_with_straight_quotes_and_other_case_is_grounded_as_normalised(llm, settings, seed_text):
    good = _good(seed_text)
    good["key_facts"] = [{"statement": "The ministry said the talks were trusting and constructive.",
                          "quote": '"the negotiations took place in the trusting and constructive manner'}]
    llm.enqueue(reply(good))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 1
    assert summary.grounding.verified[0].match == "normalised"


def test_invalid_json_is_reasked(llm, settings, seed_text):
    llm.enqueue(reply('{"headline": "cut'), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 2
    assert "the reply is not valid JSON" in llm.requests[1]["messages"][-1]["content"]


def test_truncation_raises_the_token_limit_once_without_reasking(llm, settings, seed_text):
    prompt = load_prompt(DRAFT_PROMPT)
    llm.enqueue(reply('{"headline":"x","summary":"aaaa', finish_reason="length"), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 2
    first, second = llm.requests
    assert first["max_tokens"] == prompt.max_tokens and second["max_tokens"] == prompt.max_tokens_cap
    assert len(second["messages"]) == 2  # the original request, not a re-ask of a half reply


def test_repeated_truncation_fails_clearly(llm, settings, seed_text):
    llm.enqueue(*[reply('{"summary":"loop', finish_reason="length")] * 2)
    with pytest.raises(TruncationError, match="cut off") as info:
        summarise_article(seed_text, settings=settings)
    assert info.value.attempts == 2 and llm.chat_count == 2


def test_run_on_reply_is_treated_as_truncation(llm, settings, seed_text):
    loop = '{"headline":"x","summary":"' + "the talks went on and on and on, " * 20
    llm.enqueue(reply(loop + '"}'), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 2
    assert len(llm.requests[1]["messages"]) == 2


def test_refusal_stops_with_a_clear_error(llm, settings, seed_text):
    llm.enqueue(reply("", refusal="I can't help with that."))
    with pytest.raises(RefusalError, match="refused: I can't help with that"):
        summarise_article(seed_text, settings=settings)
    assert llm.chat_count == 1


def test_429_honours_retry_after_and_counts_the_retry(llm, settings, seed_text):
    llm.enqueue(error(429, headers={"Retry-After": "1"}), reply(_good(seed_text)))
    started = time.monotonic()
    summary = summarise_article(seed_text, settings=settings)
    assert time.monotonic() - started >= 1.0
    assert summary.provenance.transport_retries == 1 and summary.provenance.attempts == 1
    assert llm.chat_count == 2


def test_500_is_retried_with_backoff(llm, settings, seed_text):
    llm.enqueue(error(500), error(502), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.transport_retries == 2 and llm.chat_count == 3


def test_timeout_is_retried(llm, settings, seed_text):
    fast = replace(settings, timeout_s=0.5)
    llm.enqueue(delay(3), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=fast)
    assert summary.provenance.transport_retries == 1


def test_transport_budget_runs_out_with_a_clear_error(llm, settings, seed_text):
    tight = replace(settings, max_transport_retries=2)
    llm.enqueue(*[error(503)] * 5)
    with pytest.raises(TransportError, match="gave up after 3 tries"):
        summarise_article(seed_text, settings=tight)
    assert llm.chat_count == 3


def test_auth_error_fails_at_once(llm, settings, seed_text):
    llm.enqueue(error(401))
    with pytest.raises(AuthError, match="OPENAI_API_KEY"):
        summarise_article(seed_text, settings=settings)
    assert llm.chat_count == 1


def test_context_length_error_says_what_to_do(llm, settings, seed_text):
    llm.enqueue(error(400, code="context_length_exceeded"))
    with pytest.raises(ContextLengthError, match="too long for the model's context window"):
        summarise_article(seed_text, settings=settings)
    assert llm.chat_count == 1


def test_exhausted_attempts_carry_attempts_and_summed_usage(llm, settings, seed_text):
    bad = _good(seed_text)
    bad["key_facts"][0]["quote"] = "a sentence that the article never contained at all"
    llm.enqueue(*[reply(bad, usage=(700, 300))] * 3)
    strict = replace(settings, strict=True)
    with pytest.raises(SummaryFailed) as info:
        summarise_article(seed_text, settings=strict)
    exc = info.value
    assert exc.attempts == 3
    assert (exc.usage.prompt_tokens, exc.usage.completion_tokens, exc.usage.total_tokens) == (2100, 900, 3000)
    assert exc.last_reply and "never contained" in exc.last_reply
    assert [a.number for a in exc.attempt_log] == [1, 2, 3]


def test_last_attempt_keeps_grounded_items_and_reports_the_rest(llm, settings, seed_text):
    bad = _good(seed_text)
    bad["key_facts"][1]["quote"] = "a sentence that the article never contained at all"
    bad["participants"].append({"name": "Angela Merkel", "kind": "person", "role": "invented", "aliases": []})
    # Three different replies with the same two faults (a repeated reply ends sooner: next test).
    replies = [dict(bad, headline=f"Headline, take {n}") for n in (1, 2, 3)]
    llm.enqueue(*[reply(r) for r in replies])
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 3
    dropped = {d.path for d in summary.grounding.unverified}
    assert dropped == {"key_facts[1]", f"participants[{len(bad['participants']) - 1}]"}
    assert all(p.name != "Angela Merkel" for p in summary.participants)
    assert len(summary.key_facts) == len(bad["key_facts"]) - 1
    n_quotes = len(bad["key_facts"])
    assert summary.grounding.grounding_rate == round((n_quotes - 1) / n_quotes, 4)


def test_a_reask_answered_with_the_same_reply_keeps_the_grounded_items_at_once(llm, settings, seed_text):
    bad = _good(seed_text)
    bad["key_facts"][1]["quote"] = "a sentence that the article never contained at all"
    llm.enqueue(*[reply(bad)] * 3)
    summary = summarise_article(seed_text, settings=settings)
    assert llm.chat_count == 2 and summary.provenance.attempts == 2  # no third identical reply paid for
    assert [d.path for d in summary.grounding.unverified] == ["key_facts[1]"]
    assert len(summary.key_facts) == len(bad["key_facts"]) - 1


def test_a_schema_error_fixed_on_the_re_ask_is_accepted(llm, settings, seed_text):
    bad = _good(seed_text)
    bad["participants"][0]["kind"] = "nation"  # not an allowed kind: nothing to drop, must be fixed
    llm.enqueue(reply(bad), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 2 and not summary.grounding.unverified


@pytest.mark.parametrize("bad_reply", ["{not json", "schema"])
def test_an_invalid_reply_repeated_word_for_word_is_not_asked_again(llm, settings, seed_text, bad_reply):
    # Issue 14 item 12: the model ignored the feedback once; asking again only pays for a third copy.
    bad = _good(seed_text)
    bad["participants"][0]["kind"] = "nation"
    content = bad_reply if bad_reply != "schema" else json.dumps(bad)
    llm.responder = lambda body: reply(content)
    with pytest.raises(SummaryFailed, match="same rejected reply again") as caught:
        summarise_article(seed_text, settings=replace(settings, max_attempts=5))
    assert llm.chat_count == 2 and caught.value.attempts == 2


def test_conversation_stays_bounded_over_five_attempts(llm, settings, seed_text):
    bad = _good(seed_text)
    bad["key_facts"][0]["quote"] = "words that do not occur in the article anywhere"
    llm.enqueue(*[reply(bad)] * 5)
    with pytest.raises(SummaryFailed):
        summarise_article(seed_text, settings=replace(settings, max_attempts=5, strict=True))
    assert llm.chat_count == 5
    assert [len(r["messages"]) for r in llm.requests] == [2, 4, 4, 4, 4]
    sizes = {sum(len(m["content"]) for m in r["messages"]) for r in llm.requests[1:]}
    assert len(sizes) == 1  # re-asks do not grow


def test_json_object_fallback_when_server_rejects_json_schema(llm, settings, seed_text):
    llm.enqueue(error(400, "response_format json_schema is not supported by this server"), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.attempts == 1
    second = llm.requests[1]
    assert second["response_format"] == {"type": "json_object"}
    assert '"key_facts"' in second["messages"][0]["content"]  # the schema moved into the prompt


def test_explicit_json_object_mode(llm, settings, seed_text):
    llm.enqueue(reply(_good(seed_text)))
    summarise_article(seed_text, settings=replace(settings, mode="json_object"))
    assert llm.requests[0]["response_format"] == {"type": "json_object"}


def test_non_json_http_body_is_a_transport_retry(llm, settings, seed_text):
    llm.enqueue(raw("<html>bad gateway</html>", status=502, content_type="text/html"), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.transport_retries == 1


@pytest.mark.parametrize("body,ctype", [("not json at all", "application/json"), ("plain words", "text/plain"), ('{"object": "nothing"}', "application/json")])
def test_200_that_is_not_a_chat_completion_is_retried(llm, settings, seed_text, body, ctype):
    llm.enqueue(raw(body, content_type=ctype), reply(_good(seed_text)))
    summary = summarise_article(seed_text, settings=settings)
    assert summary.provenance.transport_retries == 1


async def test_async_twin(llm, settings, seed_text):
    llm.enqueue(error(500), reply(_good(seed_text)))
    summary = await asummarise_article(seed_text, settings=settings)
    assert summary.provenance.transport_retries == 1 and summary.provenance.attempts == 1


async def test_many_articles_concurrently(llm, settings):
    texts = [p.read_text(encoding="utf-8") for p in sorted((__import__("conftest").SEEDS).glob("*.txt"))]
    summariser = Summariser(replace(settings, concurrency=4))
    outcomes = [o async for o in summariser.arun_many([Article(t) for t in texts])]
    assert len(outcomes) == len(texts) and all(o.ok for o in outcomes)
    assert llm.chat_count == len(texts)


def test_constrained_prompt_limits_quotes_to_article_spans(llm, settings, seed_text):
    summarise_article(seed_text, settings=settings, prompt="article@2")
    schema = llm.requests[0]["response_format"]["json_schema"]["schema"]
    spans = schema["$defs"]["Quote"]["enum"]
    assert spans and all(span in seed_text for span in spans)
    assert schema["$defs"]["KeyFact"]["properties"]["quote"] == {"$ref": "#/$defs/Quote"}
    assert "Names in the article:" in llm.requests[0]["messages"][1]["content"]


def test_evidence_last_prompt_asks_for_the_claim_before_its_quote(llm, settings, seed_text, tmp_path):
    from summariser.prompts import load_prompt_file

    body = (PROMPTS_DIR / "article" / "v2.toml").read_text().replace("version = 2", "version = 1")
    path = tmp_path / "article" / "v1.toml"
    path.parent.mkdir()
    path.write_text(body.replace("constrain_quotes = true", 'constrain_quotes = true\nevidence = "last"'))
    result = summarise_article(seed_text, settings=settings, prompt=load_prompt_file(path))
    defs = llm.requests[0]["response_format"]["json_schema"]["schema"]["$defs"]
    assert list(defs["KeyFact"]["properties"]) == ["statement", "quote"]
    assert list(defs["Stance"]["properties"])[-1] == "quote" and defs["Stance"]["required"][-1] == "quote"
    assert defs["Stance"]["properties"]["quote"] == {"$ref": "#/$defs/Quote"}  # still limited to spans
    assert result.key_facts and result.grounding.grounding_rate == 1.0


def test_plain_prompt_sends_the_plain_schema(llm, settings, seed_text):
    summarise_article(seed_text, settings=settings, prompt="article@1")
    assert "Quote" not in llm.requests[0]["response_format"]["json_schema"]["schema"]["$defs"]


def test_a_summary_leaves_no_cyclic_garbage(llm, settings, seed_text):
    """tenacity's loop objects form reference cycles; summariser breaks them (llm.retry.released),
    because at 64 requests in flight the cyclic collector otherwise costs more than the library."""
    import asyncio
    import gc

    bad = _good(seed_text)
    bad["participants"][0]["kind"] = "planet"
    steps = [error(500), reply(bad), reply(_good(seed_text))]  # a transport retry and a re-ask

    def cycles_left_by(call):
        gc.collect()
        gc.disable()
        try:
            llm.enqueue(*steps)
            summary = call()
            return gc.collect(), summary
        finally:
            gc.enable()

    async def async_calls(s: Summariser):
        llm.enqueue(*steps)
        await s.asummarise(seed_text)  # the first call opens the client: not a per-call cost
        gc.collect()
        gc.disable()
        try:
            llm.enqueue(*steps)
            summary = await s.asummarise(seed_text)
            found = gc.collect()
        finally:
            gc.enable()
        await s.aclose()
        return found, summary

    with Summariser(settings) as s:
        llm.enqueue(*steps)
        s.summarise(seed_text)
        sync_found, sync_summary = cycles_left_by(lambda: s.summarise(seed_text))
        async_found, async_summary = asyncio.run(async_calls(s))
    for summary in (sync_summary, async_summary):
        assert summary.provenance.attempts == 2 and summary.provenance.transport_retries == 1
    assert (sync_found, async_found) == (0, 0), "objects left in reference cycles by one summary (sync, async)"
