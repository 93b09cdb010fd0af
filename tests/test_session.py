"""Session, the pure core of the re-ask loop: no HTTP, no store, replies built in the test.

These pin the invariants every transport relies on (summarise, briefing, batch import):
attempts are bounded and counted, usage is summed, a re-ask stays bounded in size, a checkpoint
resumes to the same request, truncation and refusal end the loop with the right error.
"""

from __future__ import annotations

import json

import pytest

from summariser.article import Article
from summariser.errors import RefusalError, SummaryFailed, TruncationError
from summariser.prompts import load_prompt
from summariser.schema import Usage
from summariser.session import ArticleTask, Reply, ReplyRejected, Session, format_problems
from summariser.testing import grounded_responder


@pytest.fixture
def session(seed_text) -> Session:
    return Session(ArticleTask(Article(seed_text)), load_prompt("article@2"), model="m", max_attempts=3)


def _good(text: str) -> str:
    draft = grounded_responder({"messages": [{"role": "user", "content": f"<article>{text}</article>"}]})
    return json.dumps(draft)


def _reply(content: str, *, prompt: int = 100, completion: int = 10, **kwargs) -> Reply:
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
    return Reply(content=content, usage=usage, **kwargs)


def test_a_grounded_reply_is_accepted_on_the_first_attempt(session, seed_text):
    draft = session.accept(_reply(_good(seed_text), prompt=1200, completion=300))
    assert draft.key_facts and session.grounding is not None and not session.grounding.problems
    assert len(session.attempts) == 1 and session.attempts[0].errors == []
    assert session.usage.total_tokens == 1500


def test_the_request_carries_the_article_the_schema_and_the_token_limit(session, seed_text):
    body = session.request()
    assert body["model"] == "m" and body["max_tokens"] == session.prompt.max_tokens
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert seed_text.strip() in body["messages"][1]["content"]
    assert body["response_format"]["type"] == "json_schema"


def test_invalid_json_is_rejected_with_its_position_and_the_reask_stays_bounded(session, seed_text):
    with pytest.raises(ReplyRejected) as rejected:
        session.accept(_reply('{"headline": '))
    assert "not valid JSON" in rejected.value.problems[0]
    messages = session.request()["messages"]
    assert len(messages) <= 4 and messages[-1]["role"] == "user"
    assert "not valid JSON" in messages[-1]["content"]
    # the re-ask never grows with the history: a second failure replaces the first
    with pytest.raises(ReplyRejected):
        session.accept(_reply("[]"))
    assert len(session.request()["messages"]) == len(messages)


def test_attempts_are_bounded_and_the_failure_carries_them_and_the_usage(session):
    for n in range(2):  # different each time: a reply repeated word for word ends at once
        with pytest.raises(ReplyRejected):
            session.accept(_reply(f"not json {n}", prompt=50, completion=5))
    with pytest.raises(SummaryFailed) as failed:
        session.accept(_reply("still not json", prompt=50, completion=5))
    assert failed.value.attempts == 3 and session.attempts_left == 0
    assert failed.value.usage.total_tokens == 165


def test_a_checkpoint_resumes_to_the_same_request(session, seed_text):
    with pytest.raises(ReplyRejected):
        session.accept(_reply('{"headline": 1}'))
    state = json.loads(json.dumps(session.checkpoint()))  # survives a trip through a file
    fresh = Session(ArticleTask(Article(seed_text)), load_prompt("article@2"), model="m", max_attempts=3).resume(state)
    assert fresh.request() == session.request()
    assert fresh.attempts_left == session.attempts_left == 2


def test_truncation_raises_the_limit_once_then_fails_clearly(session):
    first_limit = session.max_tokens
    with pytest.raises(ReplyRejected) as rejected:
        session.accept(_reply('{"headline": "cut', finish_reason="length"))
    assert rejected.value.reask is False and session.max_tokens > first_limit
    assert len(session.request()["messages"]) == 2  # the original request again, not a re-ask
    with pytest.raises(TruncationError):
        session.accept(_reply('{"headline": "cut', finish_reason="length"))


def test_a_refusal_ends_the_loop_at_once(session):
    with pytest.raises(RefusalError):
        session.accept(Reply(content=None, refusal="I cannot help with that."))
    assert len(session.attempts) == 1


def test_format_problems_lists_only_the_failures_and_says_what_to_do():
    text = format_problems([f"problem {i}" for i in range(30)])
    assert text.startswith("Your reply had 30 problems:")
    assert "problem 0" in text and "problem 29" not in text and "more of the same kind" in text
