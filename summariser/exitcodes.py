"""The one table of exit codes, below everything else so the library and the CLI share it.

Each error in ``summariser.errors`` carries its ``exit_code``; ``BriefingResult.exit_code`` says
whether a briefing was partial; the CLI's error boundary exits with them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the ``summariser`` process exits with (an int: ``sys.exit(ExitCode.USAGE)`` works)."""

    OK = 0
    FAILED = 1  # some work failed; the rest was still done and written
    USAGE = 2  # usage or configuration error: fix the command line or the settings, then rerun
    PARTIAL = 3  # a briefing was written but some articles failed (it lists them)
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
