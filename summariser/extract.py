"""summarise_article(): render -> call -> validate -> ground -> re-ask, driven by tenacity.

The only module that runs the re-ask loop. Transport retries live in llm.py; the conversation
rules in session.py; this module wires them to an endpoint (remote, or the embedded model) and to
the run store's cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, Retrying, retry_if_exception, stop_after_attempt

from .article import Article
from .config import Settings
from .errors import LLMError, SummariserError
from .prompts import Prompt, load_prompt
from .retrying import released
from .schema import ArticleSummary
from .session import ArticleTask, ReplyRejected, Session, build_summary, summary_key

if TYPE_CHECKING:
    from .llm import ChatClient
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
        client: "ChatClient | None" = None,
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
                from .local import shared_server

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
    def client(self) -> "ChatClient":
        if self._client is None:
            from .llm import ChatClient

            adapt = None
            if self.settings.uses_local_model:
                from .local import compact_json_request as adapt
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
            from .local import DEFAULT_CONTEXT_WINDOW

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

    def _start_run(self, article: Article, refresh: bool) -> int | Outcome | None:
        """A run id (None without a store), or the Outcome another process produced while we waited."""
        if self.store is None:
            return None
        waited = False
        while (claimed := self._claim(article, refresh, waited)) is None:
            waited = True
            time.sleep(CLAIM_POLL_S)
        return claimed

    async def _astart_run(self, article: Article, refresh: bool) -> int | Outcome | None:
        if self.store is None:
            return None
        waited = False
        while (claimed := self._claim(article, refresh, waited)) is None:
            waited = True
            await asyncio.sleep(CLAIM_POLL_S)
        return claimed

    def _abandon(self, run_id: int | None) -> None:
        if self.store is not None and run_id:
            try:
                self.store.abandon_run(run_id)
            except SummariserError:
                pass  # the store is unusable: the claim expires with this process anyway

    def _finish(self, run_id: int | None, session: Session, article: Article, started: float, exc: BaseException | None) -> Outcome:
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
        if self.store is not None and run_id is not None:
            self._save_attempts(run_id, session)
            self.store.finish_run(
                run_id,
                summary=outcome.summary,
                error=None if outcome.ok else str(outcome.error),
                attempts=len(session.attempts),
                usage=session.usage,
                duration_s=duration,
            )
        return outcome

    def _save_attempts(self, run_id: int | None, session: Session) -> None:
        """Persist attempts as they happen, so a killed process loses only the reply in flight."""
        if self.store is None or run_id is None:
            return
        saved = getattr(session, "saved_attempts", 0)
        for attempt in session.attempts[saved:]:
            self.store.add_attempt(run_id, attempt)
        session.saved_attempts = len(session.attempts)

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

    # -- sync --------------------------------------------------------------------------
    def run(self, article: Article | str, *, refresh: bool = False) -> Outcome:
        """Summarise one article; never raises a SummariserError (it is in ``Outcome.error``)."""
        article = article if isinstance(article, Article) else Article(article)
        early = self._too_big(article) or self._cached(article, refresh)
        if early is not None:
            return early
        if self.stopped is not None:
            return Outcome(article, error=self.stopped)
        run_id = self._start_run(article, refresh)
        if isinstance(run_id, Outcome):
            return run_id
        session, started = self._session(article), time.monotonic()
        try:
            self.converse(session, run_id=run_id)
        except SummariserError as exc:
            return self._finish(run_id, session, article, started, exc)
        except BaseException:  # Ctrl-C, a cancelled task: release the claim, keep the attempts
            self._abandon(run_id)
            raise
        return self._finish(run_id, session, article, started, None)

    def converse(self, session: Session, *, run_id: int | None = None):
        """Drive one session to an accepted draft: the only re-ask loop (summaries and briefings)."""
        with released(Retrying(stop=stop_after_attempt(session.max_attempts * 2), retry=_REASK, reraise=True)) as retrying:
            for attempt in retrying:
                with attempt:
                    try:
                        reply = self.client.complete(session.request())
                    except LLMError as exc:
                        raise self._after_transport_error(session, exc) from None
                    try:
                        return session.accept(reply)
                    finally:
                        self._save_attempts(run_id, session)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def summarise(self, article: Article | str, *, refresh: bool = False) -> ArticleSummary:
        """Summarise one article or raise the SummariserError that stopped it."""
        outcome = self.run(article, refresh=refresh)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.summary is not None
        return outcome.summary

    # -- async -------------------------------------------------------------------------
    async def arun(self, article: Article | str, *, refresh: bool = False) -> Outcome:
        article = article if isinstance(article, Article) else Article(article)
        early = self._too_big(article) or self._cached(article, refresh)
        if early is not None:
            return early
        if self.stopped is not None:
            return Outcome(article, error=self.stopped)
        run_id = await self._astart_run(article, refresh)
        if isinstance(run_id, Outcome):
            return run_id
        session, started = self._session(article), time.monotonic()
        try:
            await self.aconverse(session, run_id=run_id)
        except SummariserError as exc:
            return self._finish(run_id, session, article, started, exc)
        except BaseException:
            self._abandon(run_id)
            raise
        return self._finish(run_id, session, article, started, None)

    async def aconverse(self, session: Session, *, run_id: int | None = None):
        """The async twin of :meth:`converse`."""
        with released(AsyncRetrying(stop=stop_after_attempt(session.max_attempts * 2), retry=_REASK, reraise=True)) as retrying:
            async for attempt in retrying:
                with attempt:
                    try:
                        reply = await self.client.acomplete(session.request())
                    except LLMError as exc:
                        raise self._after_transport_error(session, exc) from None
                    try:
                        return session.accept(reply)
                    finally:
                        self._save_attempts(run_id, session)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def asummarise(self, article: Article | str, *, refresh: bool = False) -> ArticleSummary:
        outcome = await self.arun(article, refresh=refresh)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.summary is not None
        return outcome.summary

    def run_many(self, articles: Iterable[Article], *, refresh: bool = False) -> Iterator[Outcome]:
        """Summarise many articles one after another, yielding each outcome.

        Raises the first error that would fail every article alike (``stops_run``: a wrong key,
        no such model, nothing listening) instead of sending the rest."""
        for article in articles:
            outcome = self.run(article, refresh=refresh)
            if outcome.error is not None and outcome.error.stops_run:
                raise outcome.error
            yield outcome

    async def arun_many(self, articles: Iterable[Article], *, refresh: bool = False) -> AsyncIterator[Outcome]:
        """Summarise many articles with at most ``settings.concurrency`` in flight, yielding as they finish.

        Like :meth:`run_many`, raises an error that ``stops_run`` once it happens; articles not
        yet sent are not sent."""
        semaphore = asyncio.Semaphore(self.settings.concurrency)

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
        """Close the async connection pool inside the event loop that opened it."""
        if self._client is not None and self._client._async is not None:
            client, self._client._async = self._client._async, None
            await client.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
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
