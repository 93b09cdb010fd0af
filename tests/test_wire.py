"""Evidence by reference (article@6): the compact wire reply, its mapping onto ArticleSummary, and
repairs that ask only for the failed items. Real openai client over HTTP to the scripted server."""

from __future__ import annotations

import json

import pytest

from summariser import wire
from summariser.extract import Summariser
from summariser.sentences import split_sentences
from summariser.session import ArticleTask, Reply, ReplyRejected, Session
from summariser.article import Article
from summariser.prompts import load_prompt
from summariser.schema import Usage
from summariser.testing import reply

REF = "article@6"


def _reply(**overrides) -> dict:
    base = {
        "headline": "Russia and China agree on Ukraine",
        "summary": "Wang Yi met Sergei Lavrov in Moscow. They said any Ukraine settlement must include Russia.",
        "facts": [2, 5],
        "participants": [
            {"name": "Wang Yi", "kind": "person", "role": "Chinese top diplomat"},
            {"name": "Sergei Lavrov", "kind": "person", "role": "Russian foreign minister"},
        ],
        "stances": [{"holder": "Sergei Lavrov", "target": "Ukraine talks without Russia", "position": "opposes", "n": 10}],
    }
    base.update(overrides)
    return base


def _summariser(settings):
    return Summariser(settings, prompt=REF)


# -- the mapping --------------------------------------------------------------------------------


def test_quotes_are_the_cited_sentences_verbatim_with_offsets(llm, settings, seed_text):
    llm.enqueue(reply(_reply()))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    sentences = split_sentences(seed_text)
    assert [f.quote for f in summary.key_facts] == [sentences[1].text, sentences[4].text]
    assert [f.statement for f in summary.key_facts] == [sentences[1].text, sentences[4].text]
    for fact, n in zip(summary.key_facts, (2, 5)):
        assert (fact.quote_start, fact.quote_end) == (sentences[n - 1].start, sentences[n - 1].end)
        assert seed_text[fact.quote_start : fact.quote_end] == fact.quote
    stance = summary.stances[0]
    # Sentence 10 is longer than a quote may be: its quote is the sentence up to the cap, at a word end.
    assert seed_text[stance.quote_start : stance.quote_end] == stance.quote
    assert sentences[9].text.startswith(stance.quote) and len(stance.quote) <= wire.QUOTE_MAX_CHARS
    assert summary.grounding.grounding_rate == 1.0 and summary.provenance.attempts == 1
    assert [p.aliases for p in summary.participants] == [["Wang"], ["Lavrov"]]  # from names.py, not the model
    assert summary.provenance.prompt_version == 6


def test_request_shows_numbered_sentences_and_a_schema_limited_to_them(llm, settings, seed_text):
    llm.enqueue(reply(_reply()))
    with _summariser(settings) as s:
        s.summarise(seed_text)
    body = llm.requests[0]
    user = body["messages"][1]["content"]
    assert "[1] (Reuters)" in user and "[13] (Reporting by" in user
    fmt = body["response_format"]["json_schema"]
    assert fmt["name"] == "article_refs" and fmt["strict"] is True
    assert fmt["schema"]["properties"]["facts"]["items"]["enum"] == list(range(1, 14))
    assert fmt["schema"]["$defs"]["WireStance"]["properties"]["n"]["enum"] == list(range(1, 14))
    assert set(fmt["schema"]["properties"]) == {"headline", "summary", "facts", "participants", "stances"}
    # A straight double quote would close the JSON string mid-sentence under a grammar.
    assert fmt["schema"]["properties"]["summary"]["pattern"] == '^[^"]*[.!?]$'
    assert fmt["schema"]["properties"]["headline"]["pattern"] == '^[^"]*$'


def test_a_statement_is_its_sentence_without_the_dateline():
    assert wire.statement_for("WASHINGTON (Reuters) - The U.S.\nsaid so.") == "The U.S. said so."
    assert wire.statement_for("(Reuters) – Moscow said so.") == "Moscow said so."
    assert wire.statement_for("Nothing to strip here.") == "Nothing to strip here."


def test_a_long_sentence_is_quoted_up_to_the_cap_at_a_word_boundary():
    text = "Short opener here. The " + " ".join(["word"] * 80) + " end."
    quote, start, end = wire.sentence_quote(text, 2)
    assert len(quote) <= wire.QUOTE_MAX_CHARS and text[start:end] == quote
    assert text[end] == " "  # ends between words


def test_a_long_fact_is_clipped_at_a_clause_or_word_and_its_statement_says_it_goes_on():
    sentence = "The ministers agreed, after hours of talks in the capital, that any bid to resolve the crisis must " + "include both sides " * 12 + "in the end."
    quote = wire.clip(sentence, wire.QUOTE_MAX_CHARS)
    assert sentence.startswith(quote) and len(quote) <= wire.QUOTE_MAX_CHARS
    assert quote.split()[-1] not in {"must", "and", "the", "of"}
    statement = wire.statement_for(sentence)
    assert statement.endswith(" …") and len(statement) <= wire.QUOTE_MAX_CHARS
    assert wire.statement_for("Short and whole.") == "Short and whole."


@pytest.mark.parametrize(
    "text,kwargs,expected",
    [
        ("Two short sentences. Then a third that the grammar cut off in the midd", {"cap": 70}, "Two short sentences."),
        ("no sentence end at all but words that got cut mid wo", {"cap": 52}, "no sentence end at all but words that got cut mid"),
        ("Fine as it is.", {"cap": 100}, "Fine as it is."),
    ],
)
def test_fit_text_never_cuts_a_word(text, kwargs, expected):
    assert wire.fit_text(text, **kwargs) == expected


def test_a_summary_the_grammar_stopped_one_short_of_its_cap_loses_its_cut_sentence():
    # The summary's pattern makes the grammar end on a full stop, one character before maxLength:
    # "... drew closer to counterb." is a cut word, not a sentence.
    whole = "The U.S. and China met in Moscow for talks with Russian officials."
    cut = whole + " The two countries said they drew closer to counterb."
    assert wire.fit_text(cut, cap=len(cut) + 1) == whole  # "U.S." ends no sentence


def test_a_summary_loses_a_last_sentence_the_model_only_began():
    assert wire.fit_text("Trump sent investigators to Hawaii. The .", cap=340) == "Trump sent investigators to Hawaii."
    assert wire.fit_text("Trump won. It was the .", cap=340) == "Trump won."
    assert wire.fit_text("Trump spoke. He won.", cap=340) == "Trump spoke. He won."


def test_a_cut_headline_ends_on_a_whole_word_that_is_not_a_dangling_and():
    headline = "The U.S. and China are close on positions on Washington's anti-Russian and Ch"
    assert wire.fit_text(headline, cap=len(headline), sentences=False) == "The U.S. and China are close on positions on Washington's anti-Russian"


def test_a_prompt_may_allow_more_facts_and_stances(llm, settings, seed_text):
    llm.enqueue(reply(_reply(facts=[1, 2, 3, 4, 5, 6])))
    with Summariser(settings, prompt="article@8") as s:
        summary = s.summarise(seed_text)
    schema = llm.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["facts"]["maxItems"] == 6 and schema["properties"]["stances"]["maxItems"] == 4
    assert len(summary.key_facts) == 6
    assert wire.reply_schema()["properties"]["facts"]["maxItems"] == wire.MAX_FACTS  # the default is unchanged


def test_a_stance_is_kept_only_where_the_article_names_its_holder_near_the_cited_sentence(llm, settings, seed_text):
    sentences = split_sentences(seed_text)
    lavrov_at = next(i for i, s in enumerate(sentences, 1) if "Lavrov" in s.text)
    # A sentence with no "Lavrov" in it, nor in the sentences before and after it that count.
    def window(i):  # sentence numbers are 1-based
        return sentences[max(0, i - 1 - wire.ATTRIBUTION_BEFORE) : i + wire.ATTRIBUTION_AFTER]

    far = next(i for i in range(1, len(sentences) + 1) if not any("Lavrov" in s.text for s in window(i)))
    stances = [
        {"holder": "Sergei Lavrov", "target": "Ukraine", "position": "opposes", "n": lavrov_at},
        {"holder": "Sergei Lavrov", "target": "China", "position": "supports", "n": far},
    ]
    llm.enqueue(reply(_reply(stances=stances)))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert [(st.target, st.quote) for st in summary.stances] == [("Ukraine", wire.sentence_quote(seed_text, lavrov_at)[0])]
    assert all(q.quote != wire.sentence_quote(seed_text, far)[0] for q in summary.grounding.verified)


def test_summary_is_held_to_sixty_words_at_a_sentence_end(llm, settings, seed_text):
    long = "Wang Yi met Sergei Lavrov in Moscow for talks. " * 8 + "And one more sentence"
    llm.enqueue(reply(_reply(summary=long)))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert len(summary.summary.split()) <= wire.SUMMARY_MAX_WORDS
    assert summary.summary.endswith("talks.")


# -- repairs ------------------------------------------------------------------------------------


KREMLIN = {"name": "Kremlin", "kind": "organisation", "role": "host"}  # not in the article
LAVROV = {"name": "Sergei Lavrov", "kind": "person", "role": "Russian foreign minister"}
PATRUSHEV = {"name": "Nikolai Patrushev", "kind": "person", "role": "security council secretary"}


def _with_kremlin(**overrides) -> dict:
    return _reply(participants=[{"name": "Wang Yi", "kind": "person", "role": "Chinese top diplomat"}, KREMLIN, LAVROV], **overrides)


def test_a_failed_participant_is_repaired_alone_and_merged_back_in_place(llm, settings, seed_text):
    first = _with_kremlin()
    fix = {"participants": [PATRUSHEV]}
    llm.enqueue(reply(first, usage=(1500, 300)), reply(fix, usage=(1900, 40)))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert [p.name for p in summary.participants] == ["Wang Yi", "Nikolai Patrushev", "Sergei Lavrov"]
    assert summary.provenance.attempts == 2 and not summary.grounding.unverified
    # The repair request: same system prompt and article, byte for byte (prompt cache), the
    # first reply as it came, and a message naming only the failed item.
    one, two = llm.requests
    assert two["messages"][:2] == one["messages"][:2]
    assert two["messages"][2] == {"role": "assistant", "content": json.dumps(first, separators=(",", ":"))}
    ask = two["messages"][3]["content"]
    assert ask.startswith("1 item of your reply must be replaced:\n- participants[1] ")
    assert "does not occur in the article" in ask and "participants[0]" not in ask and "facts" not in ask.split("\n")[1]
    schema = two["response_format"]["json_schema"]
    assert schema["name"] == "article_repair" and schema["schema"]["required"] == ["participants"]
    assert schema["schema"]["properties"]["participants"]["maxItems"] == 1
    assert two["max_tokens"] < one["max_tokens"]
    requests = summary.provenance.requests
    assert [(r.kind, r.repaired, r.prompt_tokens, r.completion_tokens) for r in requests] == [
        ("full", [], 1500, 300), ("repair", ["participants[1]"], 1900, 40)
    ]


def test_a_participant_and_a_stance_holder_are_repaired_together(llm, settings, seed_text):
    first = _reply(
        participants=[{"name": "Wang Yi", "kind": "person", "role": "Chinese top diplomat"}, KREMLIN],
        # A holder the article does not name: the model must replace it (one it names is listed by code).
        stances=[{"holder": "Dmitry Peskov", "target": "Ukraine talks without Russia", "position": "opposes", "n": 10}],
    )
    fix = {
        "participants": [LAVROV],
        "stances": [{"holder": "Sergei Lavrov", "target": "Ukraine talks without Russia", "position": "opposes", "n": 10}],
    }
    llm.enqueue(reply(first), reply(fix))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert [p.name for p in summary.participants] == ["Wang Yi", "Sergei Lavrov"]
    assert [s.holder for s in summary.stances] == ["Sergei Lavrov"]
    ask = llm.requests[1]["messages"][3]["content"]
    assert "participants[1]" in ask and "stances[0]" in ask and "participants[0]" not in ask
    assert llm.requests[1]["response_format"]["json_schema"]["schema"]["required"] == ["participants", "stances"]


def test_a_holder_the_article_names_is_listed_by_code_without_a_repair(llm, settings, seed_text):
    first = _reply(stances=[{"holder": "Lavrov", "target": "Ukraine talks without Russia", "position": "opposes", "n": 10}])
    first["participants"] = first["participants"][:1]  # Wang Yi only: Lavrov holds a stance, unlisted
    llm.enqueue(reply(first))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert len(llm.requests) == 1 and summary.provenance.attempts == 1
    lavrov = next(p for p in summary.participants if "Lavrov" in (p.name, *p.aliases))
    assert [s.holder for s in summary.stances] == [lavrov.name]


def test_a_holder_the_article_names_by_surname_alone_is_listed_under_it():
    named = {"Wang Yi", "Patrushev"}.__contains__
    reply = wire.WireReply.model_validate(_reply(stances=[{"holder": "Nikolai Patrushev", "target": "talks", "position": "supports", "n": 3}]))
    fixed = wire.with_holders(reply, named)
    assert [p.name for p in fixed.participants][-1] == "Patrushev" and fixed.stances[0].holder == "Patrushev"
    assert wire.with_holders(reply, lambda name: False) is reply  # named nowhere: left for the repair


def test_listed_holders_take_the_places_of_the_models_last_picks_beyond_ten():
    people = [{"name": f"Person {c}", "kind": "person", "role": "x"} for c in "ABCDEFGH"]
    stances = [{"holder": f"Holder {c}", "target": "Person A", "position": "opposes", "n": 1} for c in "WXYZ"]
    stances.append({"holder": "Person H", "target": "Person A", "position": "supports", "n": 2})
    fixed = wire.with_holders(wire.WireReply.model_validate(_reply(participants=people, stances=stances)), lambda name: True)
    names = [p.name for p in fixed.participants]
    assert len(names) == 10 and names[-4:] == ["Holder W", "Holder X", "Holder Y", "Holder Z"]
    assert "Person H" in names and "Person G" not in names and "Person F" not in names  # H holds a stance


def test_an_unrepaired_item_is_dropped_and_the_rest_kept(llm, settings, seed_text):
    llm.enqueue(reply(_with_kremlin()), reply({"participants": []}))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert [p.name for p in summary.participants] == ["Wang Yi", "Sergei Lavrov"]
    assert summary.provenance.attempts == 2  # an empty repair is settled at once, not re-asked


def test_a_repeated_repair_reply_ends_the_loop(llm, settings, seed_text):
    same = {"participants": [{"name": "Kremlin Palace", "kind": "organisation", "role": "host"}]}
    llm.enqueue(reply(_with_kremlin()), reply(same), reply(same), reply(same))
    with Summariser(settings.__class__.load(base_url=settings.base_url, model="scripted", max_attempts=4), prompt=REF) as s:
        summary = s.summarise(seed_text)
    assert summary.provenance.attempts == 3 and [p.name for p in summary.participants] == ["Wang Yi", "Sergei Lavrov"]
    assert [item.path for item in summary.grounding.unverified] == ["participants[1]"]


def test_a_broken_repair_reply_never_loses_the_first_reply(llm, settings, seed_text):
    llm.enqueue(reply(_with_kremlin()), reply("{not json"), reply("{still not"))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert summary.provenance.attempts == 3
    assert [p.name for p in summary.participants] == ["Wang Yi", "Sergei Lavrov"]
    assert len(summary.key_facts) == 2 and len(summary.stances) == 1


def test_a_sentence_number_outside_the_article_is_repaired(llm, settings, seed_text):
    llm.enqueue(reply(_reply(facts=[40, 5])), reply({"facts": [2]}))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert "- facts[0] 40: sentence 40 does not exist" in llm.requests[1]["messages"][3]["content"]
    sentences = split_sentences(seed_text)
    assert [f.quote for f in summary.key_facts] == [sentences[1].text, sentences[4].text]


def test_strict_fails_when_a_repair_does_not_fix_the_item(llm, settings, seed_text):
    from summariser.errors import SummaryFailed

    llm.enqueue(reply(_with_kremlin()), reply({"participants": [{"name": "Kremlin A", "kind": "other", "role": "r"}]}),
                reply({"participants": [{"name": "Kremlin B", "kind": "other", "role": "r"}]}))
    strict = settings.__class__.load(base_url=settings.base_url, model="scripted", strict=True)
    with Summariser(strict, prompt=REF) as s:
        with pytest.raises(SummaryFailed):
            s.summarise(seed_text)


def test_a_conversation_resumes_mid_repair_from_its_checkpoint(seed_text):
    """Batch files carry a rejected conversation to the next process: the repair request and its
    merge must come out the same after a checkpoint round trip through JSON."""
    prompt = load_prompt(REF)
    session = Session(ArticleTask(Article(seed_text)), prompt, model="m")
    with pytest.raises(ReplyRejected):
        session.accept(Reply(json.dumps(_with_kremlin()), usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)))
    state = json.loads(json.dumps(session.checkpoint()))
    later = Session(ArticleTask(Article(seed_text)), prompt, model="m").resume(state)
    assert later.request() == session.request()
    draft = later.accept(Reply(json.dumps({"participants": [PATRUSHEV]})))
    assert [p.name for p in draft.participants] == ["Wang Yi", "Nikolai Patrushev", "Sergei Lavrov"]
    assert [r.kind for r in later.requests] == ["full", "repair"]


def test_server_timings_and_cache_reuse_reach_the_provenance(llm, settings, seed_text):
    """llama.cpp reports its prompt-cache reuse and prefill/generation time; they are kept per request."""

    def with_timings(body):
        return {
            "id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(_reply())}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 200, "total_tokens": 1400},
            "timings": {"cache_n": 1100, "prompt_n": 100, "prompt_ms": 1500.0, "predicted_n": 200, "predicted_ms": 15000.0},
        }

    from summariser.testing import raw

    llm.enqueue(raw(json.dumps(with_timings(None))))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    (request,) = summary.provenance.requests
    assert (request.cached_prompt_tokens, request.prompt_s, request.generation_s) == (1100, 1.5, 15.0)


def test_the_default_responder_answers_refs_prompts(llm, settings, seed_text):
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert summary.provenance.attempts == 1 and summary.key_facts and summary.grounding.grounding_rate == 1.0


def test_a_1_2_summary_without_request_records_still_loads(llm, settings, seed_text):
    from summariser.schema import SCHEMA_VERSION, ArticleSummary

    llm.enqueue(reply(_reply()))
    with _summariser(settings) as s:
        old = s.summarise(seed_text).model_dump(mode="json")
    del old["provenance"]["requests"]
    assert ArticleSummary.model_validate(old).provenance.requests == []
    assert tuple(map(int, SCHEMA_VERSION.split("."))) >= (1, 3)  # requests arrived in 1.3


def test_a_reporter_named_only_in_the_byline_is_kept_out_without_a_repair(llm, settings, seed_text):
    first = _reply(participants=[{"name": "Wang Yi", "kind": "person", "role": "Chinese top diplomat"},
                                 {"name": "Lidia Kelly", "kind": "person", "role": "editor"}, LAVROV])
    llm.enqueue(reply(first))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert [p.name for p in summary.participants] == ["Wang Yi", "Sergei Lavrov"]
    assert summary.provenance.attempts == 1
    (dropped,) = summary.grounding.unverified
    assert dropped.path == "participants[1]" and "byline" in dropped.reason and "Lidia Kelly" in dropped.item


def test_candidates_are_the_hints_and_names_are_merged_after_grounding(llm, settings, seed_text):
    first = _reply(participants=[
        {"name": "Moscow", "kind": "country", "role": "host government"},
        {"name": "Russian", "kind": "country", "role": "officials"},
        LAVROV, {"name": "Lavrov", "kind": "person", "role": "minister"},
    ], stances=[{"holder": "Lavrov", "target": "Ukraine talks without Russia", "position": "opposes", "n": 10}])
    llm.enqueue(reply(first))
    with _summariser(settings) as s:
        summary = s.summarise(seed_text)
    assert "Russia (country; also Russian, Moscow)" in llm.requests[0]["messages"][1]["content"]
    names = [p.name for p in summary.participants]
    assert names.count("Russia") == 1 and "Moscow" not in names and "Russian" not in names
    assert names.count("Sergei Lavrov") == 1 and "Lavrov" not in names
    assert {"Moscow", "Russian"} <= set(next(p for p in summary.participants if p.name == "Russia").aliases)
    assert [s.holder for s in summary.stances] == ["Sergei Lavrov"]


def test_a_cited_date_line_is_no_key_fact_unless_nothing_else_is_left():
    from summariser.schema import KeyFact
    from summariser.wire import drop_non_facts, is_date_line

    assert is_date_line("Tuesday, March 8, 2011") and is_date_line("Monday, March 5, 2007")
    assert not is_date_line("Microsoft waits for death of Internet Explorer 6")
    assert not is_date_line("On March 8, 2011 Microsoft said it would stop.")
    date = KeyFact(quote="Tuesday, March 8, 2011", statement="Tuesday, March 8, 2011")
    fact = KeyFact(quote="Microsoft said it would stop.", statement="Microsoft said it would stop.")
    assert drop_non_facts([date, fact]) == [fact]
    assert drop_non_facts([date]) == [date]


def test_a_picture_credit_or_byline_is_no_key_fact():
    from summariser.schema import KeyFact
    from summariser.wire import drop_non_facts, is_credit_line

    assert is_credit_line("Image: Nick Moreau.") and is_credit_line("(Reporting by Ron Popeski; Editing by Rosalba O'Brien)")
    assert not is_credit_line("Imagine a city with no cars, the mayor said.")
    credit = KeyFact(quote="Image: Nick Moreau.", statement="Image: Nick Moreau.")
    fact = KeyFact(quote="The 22nd Fan Expo Canada took place in Toronto.", statement="The 22nd Fan Expo Canada took place in Toronto.")
    assert drop_non_facts([credit, fact]) == [fact]


def test_a_summary_carries_no_date_line_fact_and_no_check_for_it():
    from summariser.article import Article
    from summariser.prompts import load_prompt
    from summariser.session import ArticleTask, Reply, Session, build_summary

    text = "Microsoft waits for death of Internet Explorer 6\nTuesday, March 8, 2011\n\nMicrosoft has launched a website to count down the end of Internet Explorer 6. The company wants users to upgrade."
    session = Session(ArticleTask(Article(text)), load_prompt("article@7"), model="m")
    reply = {"headline": "Microsoft counts down IE6", "facts": [2, 3], "participants": [{"name": "Microsoft", "kind": "organisation", "role": "software maker"}],
             "stances": [], "summary": "Microsoft wants users to leave Internet Explorer 6."}
    session.accept(Reply(content=json.dumps(reply)))
    summary = build_summary(session, Article(text), endpoint="test", duration_s=0.0)
    assert [f.quote for f in summary.key_facts] == ["Microsoft has launched a website to count down the end of Internet Explorer 6."]
    assert {q.quote for q in summary.grounding.verified} == {f.quote for f in summary.key_facts}
    fact = summary.key_facts[0]
    assert text[fact.quote_start : fact.quote_end] == fact.quote
