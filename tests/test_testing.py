"""summariser.testing: the scripted OpenAI-compatible server, driven by the real openai client."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from summariser import testing
from summariser.schema import SummaryDraft
from summariser.testing import ScriptedLLM, delay, error, grounded_responder, raw, reply

SEEDS = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    # The openai client reads OPENAI_* itself; a stray OPENAI_BASE_URL must not leak in.
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "SUMMARISER_")):
            monkeypatch.delenv(name)


@pytest.fixture
def llm():
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def client(llm):
    with openai.OpenAI(base_url=llm.base_url, api_key="test-key", max_retries=0) as c:
        yield c


@pytest.fixture
async def aclient(llm):
    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="test-key", max_retries=0) as c:
        yield c


def article_body(text: str) -> dict:
    return {
        "model": "m",
        "messages": [
            {"role": "system", "content": "You summarise news. <article> tags hold the article."},
            {"role": "user", "content": f"Summarise this article.\n<article>\n{text}\n</article>\nReply in JSON."},
        ],
    }


def chat(client, **kwargs):
    return client.chat.completions.create(**({"model": "m", "messages": MESSAGES} | kwargs))


# -- the grounded responder ---------------------------------------------------------------------


def test_all_seeds_are_used():
    assert len(SEEDS) == 13


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_grounded_responder_is_valid_and_grounded(path):
    article = path.read_text(encoding="utf-8")
    draft = grounded_responder(article_body(article))

    model = SummaryDraft.model_validate(draft)
    assert model.model_dump() == draft  # within every cap: nothing needed trimming
    assert 1 <= len(draft["key_facts"]) <= 3
    for fact in draft["key_facts"]:
        assert fact["quote"] and fact["quote"] in article
        assert len(fact["quote"]) <= 240
    assert 1 <= len(draft["participants"]) <= 5
    names = [p["name"] for p in draft["participants"]]
    assert len(set(names)) == len(names)
    for participant in draft["participants"]:
        assert participant["name"] in article
        assert participant["kind"] == ("person" if len(participant["name"].split()) == 2 else "other")
    assert draft["stances"] == []
    first_sentence = draft["key_facts"][0]["quote"]
    assert first_sentence.startswith(draft["headline"])
    assert len(draft["headline"]) <= 140 and len(draft["summary"]) <= 600


def test_long_sentences_are_cut_at_a_word_and_stay_verbatim():
    sentence = " ".join(f"Word{i}" for i in range(100)) + "."
    draft = grounded_responder(article_body(sentence))
    quote = draft["key_facts"][0]["quote"]
    assert len(quote) <= 240 and quote in sentence and sentence[len(quote)] == " "
    assert len(draft["headline"]) <= 140 and sentence.startswith(draft["headline"])
    SummaryDraft.model_validate(draft)


def test_the_last_user_message_with_an_article_wins():
    body = article_body("Alice Jones won.")
    body["messages"] += [
        {"role": "assistant", "content": "{}"},
        {"role": "user", "content": "Try again: <article>Bob Brown lost the vote.</article>"},
        {"role": "user", "content": "Fix the errors and try again."},
    ]
    draft = grounded_responder(body)
    assert draft["key_facts"][0]["quote"] == "Bob Brown lost the vote."
    assert [p["name"] for p in draft["participants"]] == ["Bob Brown"]


def test_common_sentence_openers_are_not_participants():
    draft = grounded_responder(article_body("The talks ended. In Paris, Marie Curie spoke. Yesterday Curie left."))
    names = [p["name"] for p in draft["participants"]]
    assert names == ["Paris", "Marie Curie", "Curie"]
    assert draft["participants"][1]["kind"] == "person"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": None},
        {"messages": "not a list"},
        {"messages": [None, 3, {"role": "user"}]},
        {"messages": [{"role": "user", "content": "<article></article>"}]},
        {"messages": [{"role": "user", "content": "<article>  \n\n </article>"}]},
        {"messages": [{"role": "user", "content": "<article>no capitals here at all</article>"}]},
        {"messages": [{"role": "user", "content": "<article>" + "x" * 2000 + "</article>"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "<article>Ann Lee ran.</article>"}]}]},
        {"messages": [{"role": "user", "content": "No tags: Oslo hosts the summit."}]},
    ],
)
def test_grounded_responder_never_crashes(body):
    draft = grounded_responder(body)
    SummaryDraft.model_validate(draft)
    assert draft["participants"] and draft["key_facts"]


def test_empty_article_gives_a_minimal_valid_draft():
    draft = grounded_responder(article_body(""))
    SummaryDraft.model_validate(draft)
    assert draft["headline"] == "Unknown"
    assert draft["participants"][0]["name"] == "Unknown"


def test_grounded_reply_over_http_sync(llm, client):
    article = SEEDS[0].read_text(encoding="utf-8")
    completion = client.chat.completions.create(**article_body(article))
    draft = SummaryDraft.model_validate_json(completion.choices[0].message.content)
    assert draft.model_dump() == grounded_responder(article_body(article))
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "m" and completion.object == "chat.completion"


async def test_grounded_reply_over_http_async(llm, aclient):
    article = SEEDS[1].read_text(encoding="utf-8")
    completion = await aclient.chat.completions.create(**article_body(article))
    SummaryDraft.model_validate_json(completion.choices[0].message.content)
    assert llm.requests[-1]["messages"][1]["content"].endswith("Reply in JSON.")


# -- scripting ----------------------------------------------------------------------------------


def test_enqueued_steps_come_first_then_the_responder(llm, client):
    llm.enqueue(reply("one"), "two", {"three": 3})
    assert llm.pending == 3
    contents = [chat(client).choices[0].message.content for _ in range(4)]
    assert contents[:3] == ["one", "two", '{"three":3}']
    SummaryDraft.model_validate_json(contents[3])  # the grounded responder answered the 4th
    assert llm.chat_count == 4 and llm.pending == 0
    assert all(body["messages"] == MESSAGES for body in llm.requests)


def test_a_responder_can_inject_faults():
    def every_third_fails(body):
        n = int(body["messages"][0]["content"])
        return error(503) if n % 3 == 0 else {"n": n}

    with ScriptedLLM(responder=every_third_fails) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="k", max_retries=0)
        outcomes = []
        for n in range(1, 7):
            try:
                c = chat(client, messages=[{"role": "user", "content": str(n)}])
                outcomes.append(json.loads(c.choices[0].message.content)["n"])
            except openai.InternalServerError as exc:
                outcomes.append(exc.status_code)
    assert outcomes == [1, 2, 503, 4, 5, 503]


def test_a_responder_that_raises_gives_a_readable_500():
    def broken(body):
        raise KeyError("oops")

    with ScriptedLLM(responder=broken) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.InternalServerError, match="KeyError"):
            chat(client)


def test_enqueue_rejects_what_it_cannot_send(llm):
    with pytest.raises(TypeError):
        llm.enqueue(42)


def test_reset_forgets_everything(llm, client):
    llm.enqueue("a", "b")
    chat(client)
    llm.reset()
    assert llm.chat_count == 0 and llm.pending == 0 and llm.requests == []


# -- faults -------------------------------------------------------------------------------------


def test_429_with_retry_after_sync(llm, client):
    llm.enqueue(error(429, headers={"Retry-After": "1"}))
    with pytest.raises(openai.RateLimitError) as info:
        chat(client)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"


async def test_429_with_retry_after_async(llm, aclient):
    llm.enqueue(error(429, headers={"Retry-After": "2"}))
    with pytest.raises(openai.RateLimitError) as info:
        await aclient.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.response.headers.get("Retry-After") == "2"


def test_client_retries_consume_steps(llm):
    # With retries on, the client itself obeys Retry-After / retry-after-ms and tries again.
    llm.enqueue(
        error(429, headers={"Retry-After": "0.05"}),
        error(500, headers={"retry-after-ms": "10"}),
        reply("finally"),
    )
    client = openai.OpenAI(base_url=llm.base_url, api_key="k", max_retries=2)
    assert chat(client).choices[0].message.content == "finally"
    assert llm.chat_count == 3


def test_500(llm, client):
    llm.enqueue(error(500))
    with pytest.raises(openai.InternalServerError) as info:
        chat(client)
    assert info.value.status_code == 500 and info.value.type == "server_error"


def test_401(llm, client):
    llm.enqueue(error(401, code="invalid_api_key"))
    with pytest.raises(openai.AuthenticationError) as info:
        chat(client)
    assert info.value.code == "invalid_api_key"
    assert "Incorrect API key" in str(info.value)


async def test_400_context_length_exceeded(llm, aclient):
    llm.enqueue(error(400, code="context_length_exceeded"))
    with pytest.raises(openai.BadRequestError) as info:
        await aclient.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.code == "context_length_exceeded"
    assert info.value.type == "invalid_request_error"
    assert "maximum context length" in info.value.message


def test_error_message_and_type_can_be_set(llm, client):
    llm.enqueue(error(429, "You exceeded your current quota.", code="insufficient_quota", type="insufficient_quota"))
    with pytest.raises(openai.RateLimitError, match="current quota") as info:
        chat(client)
    assert (info.value.code, info.value.type) == ("insufficient_quota", "insufficient_quota")


def test_delay_outlasts_the_client_timeout(llm, client):
    llm.enqueue(delay(5), reply("next"))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        chat(client, timeout=0.3)
    assert time.monotonic() - started < 2
    assert chat(client).choices[0].message.content == "next"  # the delay used up one step


async def test_delay_outlasts_the_client_timeout_async(llm, aclient):
    llm.enqueue(delay(5))
    with pytest.raises(openai.APITimeoutError):
        await aclient.chat.completions.create(model="m", messages=MESSAGES, timeout=0.3)


async def test_delay_then_reply(llm, aclient):
    llm.enqueue(delay(0.1, then=reply("late")))
    completion = await aclient.chat.completions.create(model="m", messages=MESSAGES, timeout=5)
    assert completion.choices[0].message.content == "late"


def test_raw_invalid_json_is_not_an_openai_error(llm, client):
    # Surprising but true of openai 3.x: a 200 with a broken JSON body raises a bare ValueError.
    llm.enqueue(raw("this is not json"))
    with pytest.raises(ValueError):
        chat(client)


def test_raw_with_strict_validation(llm):
    strict = openai.OpenAI(base_url=llm.base_url, api_key="k", max_retries=0, _strict_response_validation=True)
    llm.enqueue(raw("{}"))
    with pytest.raises(openai.APIResponseValidationError):
        chat(strict)


def test_raw_status_and_content_type(llm, client):
    llm.enqueue(raw("<html>bad gateway</html>", status=502, content_type="text/html"))
    with pytest.raises(openai.InternalServerError) as info:
        chat(client)
    assert info.value.status_code == 502 and "bad gateway" in info.value.response.text


def test_finish_reason_length(llm, client):
    llm.enqueue(reply('{"headline": "cut', finish_reason="length"))
    choice = chat(client).choices[0]
    assert choice.finish_reason == "length" and choice.message.content == '{"headline": "cut'


async def test_refusal(llm, aclient):
    llm.enqueue(reply("", refusal="I can't help with that."))
    message = (await aclient.chat.completions.create(model="m", messages=MESSAGES)).choices[0].message
    assert message.content is None and message.refusal == "I can't help with that."


def test_usage_arithmetic(llm, client):
    messages = [{"role": "system", "content": "s" * 40}, {"role": "user", "content": "u" * 41}]
    llm.enqueue(reply("c" * 23), reply({"k": "v"}), reply("x", usage=(100, 7)))
    first, second, third = (chat(client, messages=messages).usage for _ in range(3))
    assert (first.prompt_tokens, first.completion_tokens, first.total_tokens) == (81 // 4, 23 // 4, 20 + 5)
    assert second.completion_tokens == len('{"k":"v"}') // 4
    assert (third.prompt_tokens, third.completion_tokens, third.total_tokens) == (100, 7, 107)


def test_model_name_is_echoed_or_scripted(llm, client):
    llm.enqueue("a", reply("b", model="other-model"))
    assert chat(client, model="qwen").model == "qwen"
    assert chat(client, model="qwen").model == "other-model"


def test_streaming(llm, client):
    llm.enqueue(reply("streamed", finish_reason="length"))
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 2


# -- the server ---------------------------------------------------------------------------------


async def test_64_concurrent_requests_are_not_serialised():
    with ScriptedLLM(latency_s=0.2) as llm:
        async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="k", max_retries=0) as aclient:
            started = time.monotonic()
            replies = await asyncio.gather(
                *(
                    aclient.chat.completions.create(**article_body(f"Story number {i} from Oslo."))
                    for i in range(64)
                )
            )
            elapsed = time.monotonic() - started
    assert elapsed < 3, f"64 requests at 0.2 s each took {elapsed:.1f} s"
    assert len(replies) == 64 and llm.chat_count == 64
    quotes = {json.loads(r.choices[0].message.content)["key_facts"][0]["quote"] for r in replies}
    assert len(quotes) == 64


def test_keep_alive_reuses_one_connection(llm, client):
    for _ in range(10):
        chat(client)
    assert llm.connections_opened == 1


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_health_models_and_unknown_paths(llm, client):
    root = llm.base_url.removesuffix("/v1")
    assert _get(root + "/health") == (200, {"status": "ok"})
    assert [m.id for m in client.models.list()] == ["scripted-llm"]
    status, body = _get(llm.base_url + "/nope")
    assert status == 404 and "nope" in body["error"]["message"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="m", input="x")


def test_base_url_needs_a_running_server():
    llm = ScriptedLLM()
    with pytest.raises(RuntimeError, match="start"):
        _ = llm.base_url
    llm.start()
    assert llm.base_url.startswith("http://127.0.0.1:") and llm.base_url.endswith("/v1")
    llm.stop()
    llm.stop()  # idempotent


def test_stop_does_not_wait_for_delays_or_idle_connections():
    llm = ScriptedLLM().start()
    client = openai.OpenAI(base_url=llm.base_url, api_key="k", max_retries=0)
    chat(client)  # leaves an idle keep-alive connection open
    llm.enqueue(delay(30))
    with pytest.raises(openai.APITimeoutError):
        chat(client, timeout=0.2)
    started = time.monotonic()
    llm.stop()
    assert time.monotonic() - started < 2


def test_public_names_are_sorted_and_exist():
    assert testing.__all__ == sorted(testing.__all__)
    assert all(hasattr(testing, name) for name in testing.__all__)


# -- batches ------------------------------------------------------------------------------------


def batch_file(articles: list[str]) -> io.BytesIO:
    lines = [
        json.dumps({"custom_id": f"a{i}", "method": "POST", "url": "/v1/chat/completions", "body": article_body(text)})
        for i, text in enumerate(articles)
    ]
    return io.BytesIO(("\n".join(lines) + "\n").encode("utf-8"))


def test_batch_flow_end_to_end(llm, client):
    articles = [path.read_text(encoding="utf-8") for path in SEEDS[:3]]
    upload = client.files.create(file=("requests.jsonl", batch_file(articles)), purpose="batch")
    assert upload.purpose == "batch" and upload.bytes > 0
    assert client.files.retrieve(upload.id).filename == "requests.jsonl"

    llm.enqueue(reply("ok"), error(400, code="context_length_exceeded"))  # lines a0 and a1; a2 is grounded
    batch = client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    statuses = [batch.status]
    while batch.status not in ("completed", "failed"):
        batch = client.batches.retrieve(batch.id)
        statuses.append(batch.status)
    assert statuses == ["validating", "in_progress", "completed"]
    counts = batch.request_counts
    assert (counts.total, counts.completed, counts.failed) == (3, 2, 1)
    assert llm.chat_count == 3

    output = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert [line["custom_id"] for line in output] == ["a0", "a2"]
    assert all(line["response"]["status_code"] == 200 and line["error"] is None for line in output)
    assert output[0]["response"]["body"]["choices"][0]["message"]["content"] == "ok"
    draft = SummaryDraft.model_validate_json(output[1]["response"]["body"]["choices"][0]["message"]["content"])
    assert draft.key_facts[0].quote in articles[2]
    assert batch.usage.total_tokens == sum(line["response"]["body"]["usage"]["total_tokens"] for line in output)

    errors = [json.loads(line) for line in client.files.content(batch.error_file_id).text.splitlines()]
    assert [line["custom_id"] for line in errors] == ["a1"]
    assert errors[0]["response"]["status_code"] == 400
    assert errors[0]["response"]["body"]["error"]["code"] == "context_length_exceeded"

    assert [b.id for b in client.batches.list()] == [batch.id]
    assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"


async def test_batch_flow_async(llm, aclient):
    upload = await aclient.files.create(
        file=("in.jsonl", batch_file(["Ann Lee ran.", "Bo Diaz won."])), purpose="batch"
    )
    batch = await aclient.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    for _ in range(2):
        batch = await aclient.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.error_file_id is None
    content = await aclient.files.content(batch.output_file_id)
    assert len(content.text.splitlines()) == 2


def test_batch_with_bad_lines_fails(llm, client):
    data = b'{"custom_id": "x", "method": "POST", "url": "/v1/embeddings", "body": {}}\nnot json\n'
    upload = client.files.create(file=("bad.jsonl", io.BytesIO(data)), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "failed"
    assert [e.code for e in batch.errors.data] == ["mismatched_endpoint", "invalid_json_line"]
    assert [e.line for e in batch.errors.data] == [1, 2]


def test_batch_cancel(llm, client):
    upload = client.files.create(file=("in.jsonl", batch_file(["Ann Lee ran."])), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(batch.id).status == "cancelling"
    assert client.batches.retrieve(batch.id).status == "cancelled"
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch.id)
    assert llm.chat_count == 0


def test_batch_errors(llm, client):
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-missing")
