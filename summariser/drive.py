"""Running summariser's one async core from synchronous code.

* ``run_blocking`` runs a coroutine whose awaits never suspend (its I/O blocks: the sync API
  hands the core blocking ``complete``/``sleep`` calls) to its end in the caller's thread. No
  event loop is involved, so it costs nothing per call, keeps the sync HTTP client's pooled
  connections, and works the same inside a running loop (Jupyter, an async web handler), where
  ``asyncio.run`` would refuse.
* ``iterate_in_thread`` drives an async iterator on an event loop in a worker thread and yields
  its items to the caller as they arrive: many articles in flight, each result handed over as it
  finishes (an interrupted run keeps what is done), while the caller's thread only waits on a
  queue, so Ctrl-C reaches it at once and stops the loop's work.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

# How long closing ``iterate_in_thread`` (Ctrl-C, an error, ``break``) waits for the worker's
# cancelled tasks to release their claims before the caller goes on; a daemon thread past it
# ends with the process, and its claims are then marked interrupted by the next run.
STOP_WAIT_S = 2.0


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """The result of ``coro``, run to its end in this thread without an event loop.

    Every await in ``coro`` must complete at once (blocking I/O wrapped in ``async def``); one
    that would wait on an event loop is a bug, reported as a RuntimeError."""
    try:
        while (yielded := coro.send(None)) is None:
            pass  # a bare yield (asyncio.sleep(0)) needs no loop: carry on
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError(f"run_blocking: the coroutine waited on {yielded!r}, which needs an event loop")


_DONE = object()


def iterate_in_thread(
    make: Callable[[], AsyncIterator[T]],
    *,
    close: Callable[[], Awaitable[None]] | None = None,
    name: str = "summariser-async",
) -> Iterator[T]:
    """Yield the items of ``make()`` as they arrive, the iterator driven by ``asyncio.run`` in a
    worker thread; ``close()`` is awaited in that loop when it ends (e.g. to close a connection
    pool the loop opened). An exception in the worker is raised here; closing this generator
    cancels the worker's work."""
    items: queue.Queue[Any] = queue.Queue()
    running: dict[str, Any] = {}
    stop = threading.Event()

    async def produce() -> None:
        running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
        try:
            if stop.is_set():
                return
            async for item in make():
                items.put((True, item))
        finally:
            if close is not None:
                await close()

    def work() -> None:
        try:
            asyncio.run(produce())
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put((False, exc))
        finally:
            items.put(_DONE)

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not _DONE:
            ok, value = item
            if not ok:
                raise value
            yield value
    finally:
        if thread.is_alive():
            stop.set()
            loop, task = running.get("loop"), running.get("task")
            if loop is not None and task is not None:
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:
                    pass  # the loop closed meanwhile: nothing left to cancel
            thread.join(STOP_WAIT_S)
