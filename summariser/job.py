"""A summarise job: many articles through one ``Summariser`` and the run store, as they finish.

``summariser summarise`` is this plus rendering. The job opens the run store (unless told not to,
or there is nothing to summarise), runs ``Summariser.run_many`` with ``settings.concurrency``
articles in flight, and closes the summariser and then the store when the ``with`` block ends,
whether it ends normally, on an error or on Ctrl-C::

    with SummariseJob(articles, settings) as job:
        for outcome in job.outcomes():
            ...
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .article import Article
from .config import Settings
from .extract import Outcome, Summariser

if TYPE_CHECKING:
    from .llm import ChatModel
    from .store import Store

__all__ = ["SummariseJob"]


class SummariseJob:
    """Summarise ``articles`` with ``settings``, cached in and recorded to the run store unless
    ``use_store`` is false (``refresh`` asks the model again even for cached articles). ``client``
    is the model to ask (default: a ``ChatClient`` for the settings' endpoint)."""

    def __init__(
        self,
        articles: Sequence[Article],
        settings: Settings,
        *,
        use_store: bool = True,
        refresh: bool = False,
        client: ChatModel | None = None,
    ) -> None:
        self.articles = list(articles)
        self.settings = settings
        self.use_store = use_store
        self.refresh = refresh
        self.client = client
        self.store: Store | None = None
        self._summariser: Summariser | None = None

    @property
    def stored(self) -> bool:
        """True when finished articles are kept in the run store (a rerun does not ask them again)."""
        return self.store is not None

    def __enter__(self) -> "SummariseJob":
        if self.use_store and self.articles:
            from .store import Store  # sqlite3: only when a store is used

            self.store = Store(self.settings.store_path)
        try:
            self._summariser = Summariser(self.settings, store=self.store, client=self.client)
        except BaseException:
            self._close_store()
            raise
        return self

    def outcomes(self) -> Iterator[Outcome]:
        """Each article's outcome as it finishes (in input order with concurrency 1)."""
        if self._summariser is None:
            raise RuntimeError("SummariseJob.outcomes() is for inside `with SummariseJob(...) as job:`")
        summariser = self._summariser
        return summariser.run_many(self.articles, refresh=self.refresh, concurrency=summariser.settings.concurrency)

    def __exit__(self, *exc: object) -> None:
        try:
            if self._summariser is not None:
                self._summariser.close()
                self._summariser = None
        finally:
            self._close_store()

    def _close_store(self) -> None:
        if self.store is not None:
            self.store.close()
