"""Batch files: summarise 100,000 articles through the OpenAI Batch API, ``vllm run-batch``, a
LiteLLM proxy or the local runner here, then validate every result and re-ask only the failures.

The file format is OpenAI's JSON Lines. A request line::

    {"custom_id": "<cache key[:32]>-a<attempt>", "method": "POST", "url": "/v1/chat/completions",
     "body": <exactly what ``summarise`` would send: Session.request()>}

A result line (OpenAI output and error files, ``vllm run-batch`` output, ``batch run``)::

    {"id": ..., "custom_id": ..., "response": {"status_code": 200, "body": <chat.completion>},
     "error": null}

The flow, and why it is safe to repeat any step:

* ``prepare_batch`` saves each article and its request to the store and writes one line per
  article without a stored result. The store, not the file, is the source of truth: preparing
  again re-emits requests still in flight instead of inventing new ones.
* ``import_results`` rebuilds each conversation from the store (article text + prompt + the
  ``Session.checkpoint()`` kept with re-asks) and feeds the reply to ``Session.accept`` - the
  same checks ``summarise`` runs. Valid summaries are stored as ordinary runs; rejected replies
  become the next request (the bounded re-ask) in a repair file; a request is answered at most
  once, so importing a file twice changes nothing.
* ``run_batch_file`` executes a batch file against any chat-completions endpoint (the embedded
  model too) and writes the standard result format, so the same files work offline.

Only the Files and Batches endpoints go through the ``openai`` client (their calls are in
llm/openai.py); the local runner speaks plain HTTP (httpx) because it must see rate-limit
headers and write each raw response body as it came.

The package, one concern a module (imports point down this list)::

    api.py            the OpenAI Batch API: submit, status, wait, collect
    runner.py         the local runner (``run_batch_file``) and its report
    importer.py       ``import_results``: check, ground and store results; write the repair file
    prepare.py        ``prepare_batch``: request lines for articles without a stored result
    conversations.py  the Session a stored request row stands for
    files.py          custom ids, request lines, ``SplitWriter``, reading articles
    pricing.py        list prices and the Batch API discount
"""

from __future__ import annotations

from .api import TERMINAL_STATUSES, CollectResult, batch_status, collect_batch, collect_batches, submit_batch, wait_for_batch
from .files import (
    BATCH_URL,
    CHUNK,
    MAX_FILE_BYTES,
    MAX_FILE_LINES,
    SplitWriter,
    count_lines,
    load_articles,
    make_custom_id,
    parse_custom_id,
    request_line,
)
from .importer import ImportReport, default_repair_path, import_results
from .prepare import PrepareReport, prepare_batch, prepare_sources
from .pricing import BATCH_DISCOUNT, PRICE_PROVIDER, estimate_cost, format_cost, price_for
from ..llm.ratelimit import RateLimiter, parse_reset
from .runner import RunReport, count_answered, run_batch_file

# Besides __all__, the names ``summariser.batch`` had before it became a package (the CLI uses
# count_lines and format_cost) stay importable from here.

__all__ = [
    "BATCH_URL",
    "CollectResult",
    "ImportReport",
    "MAX_FILE_BYTES",
    "MAX_FILE_LINES",
    "PRICE_PROVIDER",
    "PrepareReport",
    "RateLimiter",
    "RunReport",
    "SplitWriter",
    "batch_status",
    "collect_batch",
    "collect_batches",
    "count_answered",
    "estimate_cost",
    "import_results",
    "load_articles",
    "make_custom_id",
    "parse_custom_id",
    "prepare_batch",
    "prepare_sources",
    "price_for",
    "run_batch_file",
    "submit_batch",
    "wait_for_batch",
]
