"""The run store: every article, run, attempt and result, kept in one SQLite file.

Why it looks like this:

* **Nothing is lost when a process dies.** Each call (``claim_run``, ``add_attempt``,
  ``finish_run``) is its own short transaction, committed before it returns, so a run killed
  with SIGKILL loses at most the reply in flight. Runs left ``running`` by a dead process are
  shown as ``interrupted`` the next time the store is opened (see ``mark_interrupted_runs``).
* **Several processes can write at once.** WAL mode lets readers and one writer work side by
  side; writers take the lock up front (``BEGIN IMMEDIATE``) and wait up to ``BUSY_TIMEOUT_S``
  for each other instead of failing.
* **Old files keep opening.** ``MIGRATIONS`` is an append-only list of SQL steps;
  ``PRAGMA user_version`` records how many have been applied. Never edit a released step: add one.
* **No secrets.** Nothing here takes an API key; ``start_run`` refuses ``params`` that hold one
  and keeps only the endpoint's host.

Tables: ``articles`` (text by sha256), ``runs`` (one per article summarised: prompt, model,
endpoint host, params, status, cost), ``attempts`` (every request/reply of a run, with the
problems that caused a retry) and ``results`` (the validated ``ArticleSummary`` JSON of ok runs,
keyed by ``cache_key``). ``batch_requests`` and ``batches`` track ``summariser batch`` files and
Batch API jobs.

Modules: ``migrations`` (the schema), ``_base`` (connection and transactions), ``runs``
(recording, claims, cache), ``history`` (reading runs back), ``batches`` (batch tables).
"""

from __future__ import annotations

from ._base import BUSY_TIMEOUT_S
from .batches import BatchJob, BatchRequestRow, BatchResultRecord, BatchTables
from .history import RunDetail, RunHistory, RunRow
from .migrations import MIGRATIONS, RUN_STATUSES, STORE_MIGRATION_VERSION
from .runs import INTERRUPTED_AFTER, RunTables


class Store(RunTables, RunHistory, BatchTables):
    """The run store at ``path`` (created, with its parent directories, if missing).

    >>> with Store(settings.store_path) as store:
    ...     store.get_cached(key)

    One ``Store`` may be shared by threads; separate processes should each open their own.
    """


__all__ = [
    "BUSY_TIMEOUT_S",
    "INTERRUPTED_AFTER",
    "MIGRATIONS",
    "RUN_STATUSES",
    "STORE_MIGRATION_VERSION",
    "BatchJob",
    "BatchRequestRow",
    "BatchResultRecord",
    "RunDetail",
    "RunRow",
    "Store",
]
