"""summarise_article(): render -> call -> validate -> ground -> re-ask, driven by tenacity.

The only module that runs the re-ask loop. Transport retries live in llm/ (llm.retry's policy); the conversation
rules in session.py; this module wires them to a model (remote, the embedded one, or any
``ChatModel``) and to the run store.

There is one core, ``Summariser._run``/``_converse``, written once as coroutines over an ``_IO``
(how to call the model, how to sleep). The async API awaits it with the model's ``acomplete``;
the sync API runs it with blocking ``complete`` through ``drive.run_blocking`` (no event loop, so
it also works inside one). ``run_many`` is the one driver for many articles; ``_RunRecorder``
writes each run to the store in at most two transactions when the first reply is accepted.

Why one module of ~470 lines: the core, its two entry points (awaited, blocking), the
run_many driver and the run recorder share the claim/cache/finish steps; split, each half would
reach into the other's private state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from .article import Article
from .config import Settings
from .errors import LLMError, SummariserError
from .prompts import Prompt, load_prompt
from .schema import ArticleSummary
from .session import ArticleTask, Reply, ReplyRejected, Session, build_summary, summary_key

# drive and llm.retry are imported where they are used, so ``import summariser`` does not load
# them (tests/test_project.py holds it): the first summary pays for them, not every import.
if TYPE_CHECKING:
    from .llm import ChatModel
    from .store import Store


LOCAL_TIMEOUT_S = 900.0
# How often a process waiting on an article another process has claimed looks for its result.
CLAIM_POLL_S = 0.2


@dataclass
class Outcome:
    """What happened to one article: a summary (maybe from the cache) or an error."""

    article: Article
    summary: ArticleSummary | None = None
    error: SummariserError | None = None
    cached: bool = False
    duration_s: float = 0.0  # wall time spent on it in this run (0 for a cache hit)

    @property
    def ok(self) -> bool:
        return self.summary is not None


class _IO(NamedTuple):  # not a frozen dataclass: that costs ~0.8 ms more to define at import
    """How the core waits: ``ChatModel.acomplete`` and ``asyncio.sleep`` for the async API,
    blocking ``complete`` and ``time.sleep`` wrapped in coroutines for the sync one."""

    complete: Callable[[dict[str, Any]], Awaitable[Reply]]
    sleep: Callable[[float], Awaitable[None]]


class _RunRecorder:
    """One article's run in the store, in as few writes as safety allows.

    ``claim_run`` opened the run (saving the article in the same transaction). A rejected reply
    is written at once, since a re-ask follows: a killed process loses only the reply in flight.
    Attempts not yet written, the result and the status go in one ``finish_run``. So an article
    whose first reply is accepted costs two store transactions. Without a store it does nothing.
    """

    def __init__(self, store: "Store | None" = None, run_id: int | None = None) -> None:
        self.store, self.run_id, self.saved = store, run_id, 0

    def _unsaved(self, session: Session) -> list:
        unsaved = session.attempts[self.saved :]
        self.saved = len(session.attempts)
        return unsaved

    def checkpoint(self, session: Session) -> None:
        if self.store is not None and self.run_id is not None:
            self.store.add_attempts(self.run_id, self._unsaved(session))

    def finish(self, session: Session, outcome: Outcome) -> None:
        if self.store is None or self.run_id is None:
            return
        self.store.finish_run(
            self.run_id,
            summary=outcome.summary,
            error=None if outcome.ok else str(outcome.error),
            attempts=len(session.attempts),
            usage=session.usage,
            duration_s=outcome.duration_s,
            attempt_log=self._unsaved(session),
        )

    def abandon(self, session: Session) -> None:
        """Release the claim of work stopped without a result (Ctrl-C, a cancelled task)."""
        if self.store is None or not self.run_id:
            return
        try:
            self.checkpoint(session)
            self.store.abandon_run(self.run_id)
        except SummariserError:
            pass  # the store is unusable: the claim expires with this process anyway


def _summary_of(outcome: Outcome) -> ArticleSummary:
    if outcome.error is not None:
        raise outcome.error
    assert outcome.summary is not None
    return outcome.summary


def _reasking(exc: BaseException) -> bool:
    return isinstance(exc, ReplyRejected)


_REASK = retry_if_exception(_reasking)


class Summariser:
    """Summarise articles with one settings object, one prompt and one (reused) connection.

    >>> with Summariser(Settings.load(base_url="http://127.0.0.1:8000/v1", model="m")) as s:
    ...     summary = s.summarise("(Reuters) - ...")
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        prompt: Prompt | str | None = None,
        store: "Store | None" = None,
        client: ChatModel | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        ref = prompt if prompt is not None else self.settings.prompt
        self.prompt = ref if isinstance(ref, Prompt) else load_prompt(ref)
        self.store = store
        self._client = client
        self._mode: str | None = None if self.settings.mode == "auto" else self.settings.mode
        self._endpoint: Settings | None = None
        # The first error that would hit every article (bad key, no such model, nothing
        # listening): once set, no further article is sent (see ``SummariserError.stops_run``).
        self.stopped: SummariserError | None = None

    # -- endpoint ----------------------------------------------------------------------
    def endpoint(self) -> Settings:
        """Settings pointed at a live endpoint: the configured one, or the embedded model's server."""
        if self._endpoint is None:
            if self.settings.uses_local_model:
                from .llm.local import shared_server

                server = shared_server(self.settings)
                # On two CPU cores one reply can take minutes under load; a timeout would only make
                # the server keep generating an abandoned reply, so wait longer for local replies.
                self._endpoint = replace(
                    self.settings.with_endpoint(server.base_url, self.settings.model_name),
                    timeout_s=max(self.settings.timeout_s, LOCAL_TIMEOUT_S),
                    retry_budget_s=max(self.settings.retry_budget_s, LOCAL_TIMEOUT_S),
                )
            else:
                self._endpoint = self.settings
        return self._endpoint

    @property
    def client(self) -> ChatModel:
        """The model (``client=``), or a ``ChatClient`` for the configured endpoint."""
        if self._client is None:
            from .llm import ChatClient

            adapt = None
            if self.settings.uses_local_model:
                from .llm.local import compact_json_request as adapt
            self._client = ChatClient(self.endpoint(), adapt=adapt)
        return self._client

    @property
    def model(self) -> str:
        return self.settings.model_name

    def key_for(self, article: Article) -> str:
        return summary_key(article, self.prompt, self.model, self.settings)

    def _session(self, article: Article) -> Session:
        task = ArticleTask(article, fuzzy_threshold=self.settings.fuzzy_threshold)
        return Session(
            task,
            self.prompt,
            model=self.model,
            mode=self._mode or "json_schema",
            max_attempts=self.settings.max_attempts,
            strict=self.settings.strict,
        )

    def check_size(self, article: Article) -> None:
        """Raise before any request when ``article`` is over ``--max-chars`` or cannot fit the
        model's context (known for the embedded model only): nothing is sent, nothing is paid."""
        from .limits import check_context, check_length

        check_length(article.text, max_chars=self.settings.max_chars)
        if self.settings.uses_local_model:
            from .llm.local import DEFAULT_CONTEXT_WINDOW

            session = self._session(article)
            check_context(
                session.messages(), max_tokens=session.max_tokens,
                context_window=DEFAULT_CONTEXT_WINDOW, model=self.model,
            )

    def _too_big(self, article: Article) -> Outcome | None:
        try:
            self.check_size(article)
        except SummariserError as exc:
            return Outcome(article, error=exc)
        return None

    def _cached(self, article: Article, refresh: bool) -> Outcome | None:
        if self.store is None or refresh:
            return None
        hit = self.store.get_cached(self.key_for(article))
        if hit is None:
            return None
        # Same text, maybe read from elsewhere this time: describe the source as read now.
        hit = hit.model_copy(update={"provenance": hit.provenance.model_copy(update={"source": article.source_info()})})
        return Outcome(article, summary=hit, cached=True)

    def _claim(self, article: Article, refresh: bool, waited: bool) -> int | Outcome | None:
        """Claim the article in the store before any request: a run id, the result another
        process finished meanwhile (an Outcome), or None while another live process holds it.

        Once we have waited for another process, its fresh result is taken even with --refresh."""
        assert self.store is not None
        key = self.key_for(article)
        run_id = self.store.claim_run(
            article=article,
            cache_key=key,
            refresh=refresh and not waited,
            prompt=self.prompt.ref,
            prompt_sha256=self.prompt.sha256,
            model=self.model,
            endpoint=self.endpoint().endpoint_host,
            params={"mode": self._mode or self.settings.mode, "max_attempts": self.settings.max_attempts, "strict": self.settings.strict},
        )
        if run_id == 0:
            hit = self._cached(article, refresh=False)  # the same cache read as before the claim
            if hit is not None:
                return hit
            return self._claim(article, True, waited)  # a result that no longer validates: redo it
        return run_id

    async def _start_run(self, article: Article, refresh: bool, io: _IO) -> _RunRecorder | Outcome:
        """A recorder for this article's run (a no-op one without a store), or the Outcome another
        process produced while we waited for its claim."""
        if self.store is None:
            return _RunRecorder(None, None)
        waited = False
        while (claimed := self._claim(article, refresh, waited)) is None:
            waited = True
            await io.sleep(CLAIM_POLL_S)
        if isinstance(claimed, Outcome):
            return claimed
        return _RunRecorder(self.store, claimed)

    def _finish(self, recorder: _RunRecorder, session: Session, article: Article, started: float, exc: BaseException | None) -> Outcome:
        duration = time.monotonic() - started
        if exc is None:
            summary = build_summary(session, article, endpoint=self.endpoint().endpoint_host, duration_s=duration)
            outcome = Outcome(article, summary=summary, duration_s=duration)
        else:
            if isinstance(exc, LLMError) and not exc.attempt_log:
                exc.with_cost(attempts=len(session.attempts), usage=session.usage, attempt_log=session.attempts)
            outcome = Outcome(article, error=exc if isinstance(exc, SummariserError) else SummariserError(str(exc)), duration_s=duration)
            if outcome.error is not None and outcome.error.stops_run and self.stopped is None:
                self.stopped = outcome.error
        recorder.finish(session, outcome)
        return outcome

    def _after_transport_error(self, session: Session, exc: LLMError) -> Exception:
        """Either switch to json_object and ask again (auto mode), or the error with its cost attached."""
        from .errors import ResponseFormatUnsupported

        if isinstance(exc, ResponseFormatUnsupported) and self.settings.mode == "auto" and session.mode == "json_schema":
            self._mode = "json_object"
            session.set_mode("json_object")
            return ReplyRejected([str(exc)], reask=False)
        replies = len(session.attempts)  # ``attempts`` counts replies received, as Provenance does
        if exc.requests:  # no reply came back: the request and its error still go on record
            session.record_failure(str(exc), requests=exc.requests, latency_s=exc.elapsed_s)
        if not exc.attempt_log:
            exc.with_cost(attempts=replies, usage=session.usage, attempt_log=session.attempts)
        return exc

    def _io(self, *, blocking: bool) -> _IO:
        # The model is looked up at the first request: an article refused before it (too long,
        # cached) must not start the embedded model's server.
        if not blocking:
            async def acomplete(body: dict[str, Any]) -> Reply:
                return await self.client.acomplete(body)

            return _IO(acomplete, asyncio.sleep)

        async def complete(body: dict[str, Any]) -> Reply:
            return self.client.complete(body)

        async def sleep(seconds: float) -> None:
            time.sleep(seconds)

        return _IO(complete, sleep)

    # -- the core ----------------------------------------------------------------------
    async def _run(self, article: Article | str, refresh: bool, io: _IO) -> Outcome:
        """Summarise one article; never raises a SummariserError (it is in ``Outcome.error``)."""
        article = article if isinstance(article, Article) else Article(article)
        early = self._too_big(article) or self._cached(article, refresh)
        if early is not None:
            return early
        if self.stopped is not None:
            return Outcome(article, error=self.stopped)
        recorder = await self._start_run(article, refresh, io)
        if isinstance(recorder, Outcome):
            return recorder
        session, started = self._session(article), time.monotonic()
        try:
            await self._converse(session, recorder, io)
        except SummariserError as exc:
            return self._finish(recorder, session, article, started, exc)
        except BaseException:  # Ctrl-C, a cancelled task: release the claim, keep the attempts
            recorder.abandon(session)
            raise
        return self._finish(recorder, session, article, started, None)

    async def _converse(self, session: Session, recorder: _RunRecorder, io: _IO):
        """Drive one session to an accepted draft: the only re-ask loop (summaries and briefings)."""
        from .llm.retry import released

        retrying = AsyncRetrying(stop=stop_after_attempt(session.max_attempts * 2), retry=_REASK, sleep=io.sleep, reraise=True)
        with released(retrying):
            async for attempt in retrying:
                with attempt:
                    try:
                        reply = await io.complete(session.request())
                    except LLMError as exc:
                        raise self._after_transport_error(session, exc) from None
                    try:
                        return session.accept(reply)
                    except BaseException:
                        recorder.checkpoint(session)  # a re-ask follows: keep this reply if we are killed
                        raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    # -- sync: the same core, its I/O blocking ---------------------------------------------
    def run(self, article: Article | str, *, refresh: bool = False) -> Outcome:
        """Summarise one article; never raises a SummariserError (it is in ``Outcome.error``)."""
        from .drive import run_blocking

        return run_blocking(self._run(article, refresh, self._io(blocking=True)))

    def converse(self, session: Session):
        """Drive one session to an accepted draft (briefings use it for their own sessions)."""
        from .drive import run_blocking

        return run_blocking(self._converse(session, _RunRecorder(None, None), self._io(blocking=True)))

    def summarise(self, article: Article | str, *, refresh: bool = False) -> ArticleSummary:
        """Summarise one article or raise the SummariserError that stopped it."""
        return _summary_of(self.run(article, refresh=refresh))

    # -- async -------------------------------------------------------------------------
    async def arun(self, article: Article | str, *, refresh: bool = False) -> Outcome:
        return await self._run(article, refresh, self._io(blocking=False))

    async def aconverse(self, session: Session):
        """The awaitable form of :meth:`converse`."""
        return await self._converse(session, _RunRecorder(None, None), self._io(blocking=False))

    async def asummarise(self, article: Article | str, *, refresh: bool = False) -> ArticleSummary:
        return _summary_of(await self.arun(article, refresh=refresh))

    # -- many articles -----------------------------------------------------------------
    def run_many(self, articles: Iterable[Article], *, refresh: bool = False, concurrency: int = 1) -> Iterator[Outcome]:
        """Summarise many articles, at most ``concurrency`` at once, yielding each outcome as it
        finishes (in input order with ``concurrency=1``), so a run stopped half way keeps what
        is done. The CLI and briefings pass ``settings.concurrency``.

        Raises the first error that would fail every article alike (``stops_run``: a wrong key,
        no such model, nothing listening) instead of sending the rest."""
        if concurrency <= 1:
            for article in articles:
                outcome = self.run(article, refresh=refresh)
                if outcome.error is not None and outcome.error.stops_run:
                    raise outcome.error
                yield outcome
            return
        from .drive import iterate_in_thread

        yield from iterate_in_thread(
            lambda: self.arun_many(articles, refresh=refresh, concurrency=concurrency), close=self.aclose
        )

    async def arun_many(self, articles: Iterable[Article], *, refresh: bool = False, concurrency: int | None = None) -> AsyncIterator[Outcome]:
        """Summarise many articles with at most ``concurrency`` (default ``settings.concurrency``)
        in flight, yielding as they finish.

        Like :meth:`run_many`, raises an error that ``stops_run`` once it happens; articles not
        yet sent are not sent."""
        semaphore = asyncio.Semaphore(concurrency or self.settings.concurrency)

        async def one(article: Article) -> Outcome:
            async with semaphore:
                return await self.arun(article, refresh=refresh)

        tasks = [asyncio.ensure_future(one(a)) for a in articles]
        try:
            for next_done in asyncio.as_completed(tasks):
                outcome = await next_done
                if outcome.error is not None and outcome.error.stops_run:
                    raise outcome.error
                yield outcome
        finally:
            for task in tasks:
                task.cancel()

    # -- lifecycle ---------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the model's async connections inside the event loop that opened them."""
        close = getattr(self._client, "aclose", None)
        if close is not None:
            await close()

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()
        self._client = None

    def __enter__(self) -> "Summariser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summarise_article(
    text: str | Article,
    *,
    settings: Settings | None = None,
    source: str | None = None,
    prompt: Prompt | str | None = None,
    store: "Store | None" = None,
    refresh: bool = False,
) -> ArticleSummary:
    """Summarise one article's text into a grounded ``ArticleSummary`` (raises SummariserError)."""
    article = text if isinstance(text, Article) else Article(text, source=source)
    with Summariser(settings, prompt=prompt, store=store) as summariser:
        return summariser.summarise(article, refresh=refresh)


async def asummarise_article(
    text: str | Article,
    *,
    settings: Settings | None = None,
    source: str | None = None,
    prompt: Prompt | str | None = None,
    store: "Store | None" = None,
    refresh: bool = False,
) -> ArticleSummary:
    """The async twin of :func:`summarise_article`."""
    article = text if isinstance(text, Article) else Article(text, source=source)
    summariser = Summariser(settings, prompt=prompt, store=store)
    try:
        return await summariser.asummarise(article, refresh=refresh)
    finally:
        await summariser.aclose()
        summariser.close()
