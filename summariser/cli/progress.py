"""Progress over many articles, fit for where stderr goes.

- stderr is not a terminal (a pipe, a log file, cron): one plain line per finished article,
  ``[ 3/13] done     12.4s  seeds/x.txt``, then one final count. Lines are flushed as they
  happen, so ``tail -f`` on a cron log shows a long run moving.
- stderr is a terminal: a rich progress bar, kept below everything else printed. Error lines go
  through the bar's own console (rich prints them above it); summaries printed on stdout pause the
  bar, so a panel never starts on the spinner's line.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape


class _Finished(Protocol):  # extract.Outcome, or anything shaped like it
    article: Any
    cached: bool

    @property
    def ok(self) -> bool: ...


def outcome_status(outcome: _Finished) -> str:
    if outcome.cached:
        return "cached"
    return "done" if outcome.ok else "failed"


def format_duration(seconds: float) -> str:
    """``12.4s`` below a minute, ``3m 05s`` below an hour, else ``1h 02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


class ArticleProgress:
    """Report articles as they finish. Use as a context manager::

        with ArticleProgress(len(articles), err=err_console, out=console) as progress:
            for outcome in outcomes:
                progress.advance(outcome)
                progress.print(panel)        # on stdout, above the bar
        # the final count is printed on leaving

    ``live=False`` forces plain lines even on a terminal; ``quiet=True`` prints nothing at all.
    ``total`` may be left None until the first ``advance(..., total=n)`` (a briefing learns it
    only once its sources are read).
    """

    def __init__(
        self,
        total: int | None,
        *,
        err: Console,
        out: Console | None = None,
        verb: str = "Summarising",
        live: bool | None = None,
        quiet: bool = False,
    ) -> None:
        self.total = total
        self.err = err
        self.out = out
        self.verb = verb
        self.quiet = quiet
        self.live = err.is_terminal if live is None else live
        self.counts = {"done": 0, "cached": 0, "failed": 0}
        self._started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "ArticleProgress":
        self._started = time.monotonic()
        self._start_bar()
        return self

    def _start_bar(self) -> None:
        if self.live and not self.quiet and self.total and self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn(escape(self.verb)),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=self.err,
                transient=True,
                # stdout stays stdout: a redirected sys.stdout would send summaries to stderr
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._bar.add_task("", total=self.total)
            self._bar.start()

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if not self.quiet and self.total and exc[0] is None:
            self.err.print(self.final_line(), markup=False, highlight=False)

    # -- reporting --------------------------------------------------------------------------
    def advance(self, outcome: _Finished, *, seconds: float | None = None, total: int | None = None) -> None:
        """Count one finished article and report it."""
        if total is not None and self.total is None:
            self.total = total
            self._start_bar()
        status = outcome_status(outcome)
        self.counts[status] += 1
        if self.quiet:
            return
        label = outcome.article.label
        took = seconds if seconds is not None else float(getattr(outcome, "duration_s", 0.0) or 0.0)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.finished, description=escape(f"{status} {label[-48:]}"))
        else:
            width = len(str(self.total))
            self.err.print(
                f"[{self.finished:>{width}}/{self.total}] {status:<6} {format_duration(took):>7}  {label}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    def print(self, renderable: Any, **kwargs: Any) -> None:
        """Print on ``out`` (stdout); on a terminal the bar steps aside while it does."""
        console = self.out or self.err
        if self._bar is not None and console is not self.err and console.is_terminal:
            self._bar.stop()  # transient: erases itself, so the panel starts on a clean line
            try:
                console.print(renderable, **kwargs)
            finally:
                self._bar.start()
        else:
            console.print(renderable, **kwargs)

    def final_line(self) -> str:
        parts = [f"{n} {status}" for status, n in self.counts.items() if n]
        noun = "article" if self.total == 1 else "articles"
        return f"{self.finished}/{self.total} {noun} in {format_duration(time.monotonic() - self._started)}: {', '.join(parts) or 'none finished'}."


__all__ = ["ArticleProgress", "format_duration", "outcome_status"]
