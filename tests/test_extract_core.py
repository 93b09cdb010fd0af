"""The seams of extract.py: one async core run blocking or awaited, the run_many driver, and the
run recorder's store writes. In-process (testing.FakeModel), real SQLite."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from conftest import SEEDS
from conftest import DRAFT_PROMPT
from summariser.article import Article
from summariser.drive import iterate_in_thread, run_blocking
from summariser.extract import Summariser
from summariser.store import Store
from summariser.testing import FakeModel, grounded_responder, reply


def _good(text: str) -> dict:
    return grounded_responder({"messages": [{"role": "user", "content": f"<article>{text}</article>"}]})


def _articles(n: int) -> list[Article]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    assert len(texts) >= n
    return [Article(text, source=f"seed-{i}.txt") for i, text in enumerate(texts[:n])]


def _count_transactions(store: Store) -> list[str]:
    begun: list[str] = []
    store._conn.set_trace_callback(lambda sql: begun.append(sql) if sql.startswith("BEGIN IMMEDIATE") else None)
    return begun


def test_one_accepted_reply_costs_two_store_transactions(tmp_path, seed_text):
    fake = FakeModel()
    with Store(tmp_path / "runs.db") as store, fake.summariser(store=store, prompt=DRAFT_PROMPT) as s:
        writes = _count_transactions(store)
        outcome = s.run(Article(seed_text, source="a.txt"))
        assert outcome.ok
        assert len(writes) <= 2, writes  # claim (with the article) + finish (attempt, result, status)
        run = store.get_run(store.list_runs()[0].id)
    assert run.run.status == "ok" and len(run.attempts) == 1 and run.summary is not None
    assert store.path.exists()


def test_a_rejected_reply_is_written_before_the_re_ask(tmp_path, seed_text):
    fake = FakeModel()
    seen_before_second_request: list[int] = []

    with Store(tmp_path / "runs.db") as store:
        def responder(body):
            if fake.chat_count == 2:  # the re-ask: the rejected reply must already be on disk
                with Store(store.path) as other:
                    seen_before_second_request.append(len(other.get_run(other.list_runs()[0].id).attempts))
            return _good(seed_text)

        fake.enqueue(reply("{not json"))
        fake.responder = responder  # the re-ask is answered by the responder
        with fake.summariser(store=store, prompt=DRAFT_PROMPT) as s:
            writes = _count_transactions(store)
            assert s.run(seed_text).ok
        assert seen_before_second_request == [1]
        assert len(writes) == 3  # claim, the rejected attempt, finish
        assert len(store.get_run(store.list_runs()[0].id).attempts) == 2


def test_the_sync_api_works_inside_a_running_event_loop(seed_text):
    """As in Jupyter: a loop is running in this thread, and summarise() is called without await."""
    fake = FakeModel()

    async def notebook_cell():
        with fake.summariser(prompt=DRAFT_PROMPT) as s:
            return s.summarise(seed_text), list(s.run_many(_articles(2), concurrency=2))

    summary, many = asyncio.run(notebook_cell())
    assert summary.key_facts
    assert sum(1 for o in many if o.ok) == 2


def test_the_sync_and_async_api_give_the_same_summary(seed_text):
    fake = FakeModel()
    with fake.summariser(prompt=DRAFT_PROMPT) as s:
        blocking = s.summarise(seed_text)
        awaited = asyncio.run(s.asummarise(seed_text))
    assert blocking.model_dump(exclude={"provenance"}) == awaited.model_dump(exclude={"provenance"})


class _SlowFirstModel:
    """A ChatModel wrapper that delays replies (the first article most) and counts requests in flight."""

    def __init__(self, inner, delays: dict[str, float]) -> None:
        self.inner, self.delays, self.now, self.most = inner, delays, 0, 0
        self.lock = threading.Lock()

    def _delay(self, body) -> float:
        text = body["messages"][-1]["content"]
        return next((d for marker, d in self.delays.items() if marker in text), 0.0)

    def complete(self, body):
        return self.inner.complete(body)

    async def acomplete(self, body):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(self._delay(body))
            return await self.inner.acomplete(body)
        finally:
            with self.lock:
                self.now -= 1

    async def aclose(self) -> None:
        await self.inner.aclose() if hasattr(self.inner, "aclose") else None

    def close(self) -> None:
        self.inner.close()


def test_run_many_in_order_with_one_worker(seed_text):
    fake = FakeModel()
    articles = _articles(3)
    with fake.summariser(prompt=DRAFT_PROMPT) as s:
        outcomes = list(s.run_many(articles))
    assert [o.article for o in outcomes] == articles and all(o.ok for o in outcomes)


def test_run_many_yields_as_they_finish_and_bounds_concurrency():
    fake = FakeModel()
    articles = _articles(5)
    first_words = articles[0].text[:60]
    model = _SlowFirstModel(fake.client(), {first_words: 0.3})
    s = Summariser(fake.settings(prompt=DRAFT_PROMPT), client=model)
    started = time.monotonic()
    outcomes = list(s.run_many(articles, concurrency=2))
    assert time.monotonic() - started < 5
    assert sorted(id(o.article) for o in outcomes) == sorted(id(a) for a in articles)
    assert all(o.ok for o in outcomes)
    assert outcomes[-1].article is articles[0]  # the slow first article finished last
    assert model.most == 2
    s.close()


def test_closing_run_many_early_cancels_the_rest():
    fake = FakeModel()
    articles = _articles(4)
    model = _SlowFirstModel(fake.client(), {a.text[:60]: 0.2 * i for i, a in enumerate(articles)})
    s = Summariser(fake.settings(prompt=DRAFT_PROMPT), client=model)
    results = s.run_many(articles, concurrency=2)
    first = next(results)
    results.close()  # as on Ctrl-C or break
    assert first.ok and fake.chat_count < len(articles)
    s.close()


def test_run_blocking_refuses_a_coroutine_that_needs_a_loop():
    async def waits():
        await asyncio.sleep(0.01)

    with pytest.raises(RuntimeError, match="event loop"):
        run_blocking(waits())
    assert run_blocking(asyncio.sleep(0, result=7)) == 7


def test_iterate_in_thread_hands_over_a_worker_error():
    async def items():
        yield 1
        raise ValueError("boom")

    got = []
    with pytest.raises(ValueError, match="boom"):
        for item in iterate_in_thread(items):
            got.append(item)
    assert got == [1]
