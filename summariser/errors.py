"""The exception tree. Every error summariser raises on purpose derives from SummariserError.

    SummariserError
    ├── InputError            bad article input (missing, empty, binary, not UTF-8, too long)
    ├── ConfigError           bad settings: unknown prompt, bad flag value, missing endpoint
    ├── PromptError           a prompt template that cannot be loaded or rendered
    ├── ModelError            the embedded model: weights missing, checksum mismatch, server failed
    ├── StoreError            the run store (SQLite) cannot be opened or written
    ├── ExportError           an export record failed validation; nothing was written
    ├── BriefingBusy          another run holds the lock for the same briefing output
    ├── Interrupted           Ctrl-C (SIGINT): says what was kept and how to continue; exit 130
    └── LLMError              talking to the model failed (carries attempts and usage)
        ├── AuthError             401/403: the key is missing or wrong               (stops the run)
        ├── ModelNotFoundError    404: no such model at this endpoint (also a ConfigError; stops the run)
        ├── BadRequestError       400 the server will never accept as sent
        │   └── ResponseFormatUnsupported   the server rejected response_format (auto mode falls back)
        ├── ContextLengthError    the article does not fit the model's context window
        ├── RefusalError          the model refused to answer
        ├── TruncationError       the reply hit the token limit even after raising it once
        ├── TransportError        429/5xx/timeouts still failing after the retry budget
        │   └── EndpointUnreachable   connection refused a few times in a row     (stops the run)
        └── SummaryFailed         replies still invalid or ungrounded after --max-attempts

Messages are one line and say what to do next; the CLI prints them as ``Error: ...`` and exits
with the error's ``exit_code``, one of ``summariser.exitcodes.ExitCode``.

An error whose ``stops_run`` is true would be the same for every article (wrong key, no such
model, nothing listening): a run over many articles stops at the first one instead of paying for,
or waiting on, each of the others (``summarise``, ``briefing``, ``eval``, ``batch run``).
"""

from __future__ import annotations

from typing import Any

from .exitcodes import ExitCode


class SummariserError(Exception):
    """Root of every error summariser raises on purpose."""

    exit_code: int = ExitCode.FAILED
    stops_run: bool = False  # the same error would hit every other article: stop the whole run


class InputError(SummariserError):
    """An article cannot be read or is not usable text."""


class ConfigError(SummariserError):
    """Settings are invalid or incomplete."""

    exit_code = ExitCode.USAGE
    stops_run = True  # a setting is the same for every article: fix it once, not per article


class PromptError(SummariserError):
    """A prompt template cannot be found, loaded or rendered."""

    exit_code = ExitCode.USAGE


class ModelError(SummariserError):
    """The embedded local model cannot be assembled, verified or served."""


class StoreError(SummariserError):
    """The run store cannot be opened, migrated or written."""


class ExportError(SummariserError):
    """An export failed; nothing was written."""


class BriefingBusy(SummariserError):
    """Another run holds the lock for the same output file."""


class Interrupted(SummariserError):
    """The user pressed Ctrl-C. The message says what is done and how to continue (exit 130).

    Raised by commands from their KeyboardInterrupt handler: a plain KeyboardInterrupt would end
    the process with 130 and no word of what was kept."""

    exit_code = ExitCode.INTERRUPTED


class LLMError(SummariserError):
    """Talking to the model failed.

    Carries what the failed work cost so retries are never invisible: ``attempts`` (replies
    received), ``usage`` (tokens summed over every attempt) and ``last_reply`` (raw text).
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 0,
        usage: Any = None,
        last_reply: str | None = None,
        errors: list[str] | None = None,
        attempt_log: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.usage = usage
        self.last_reply = last_reply
        self.errors = list(errors or [])
        self.attempt_log = list(attempt_log or [])
        self.requests = 0  # HTTP requests behind a transport-level failure (set by the chat client)
        self.elapsed_s = 0.0

    def sent(self, requests: int, elapsed_s: float) -> "LLMError":
        """Note how many requests, over how long, ended in this error (the chat client calls it)."""
        self.requests, self.elapsed_s = requests, elapsed_s
        return self

    def with_cost(self, *, attempts: int, usage: Any, attempt_log: list[Any] | None = None) -> "LLMError":
        """Attach the cost of the work done so far (used by the retry loop before re-raising)."""
        self.attempts = attempts
        self.usage = usage
        if attempt_log is not None:
            self.attempt_log = list(attempt_log)
        return self


class AuthError(LLMError):
    """The endpoint rejected the credentials (401/403)."""

    exit_code = ExitCode.USAGE
    stops_run = True


class ModelNotFoundError(LLMError, ConfigError):
    """The endpoint has no model by the configured name (404): a configuration error."""

    exit_code = ExitCode.USAGE
    stops_run = True


class BadRequestError(LLMError):
    """The endpoint rejected the request as malformed (400/404/422)."""


class ResponseFormatUnsupported(BadRequestError):
    """The server rejected ``response_format``; callers may fall back to ``json_object``."""


class ContextLengthError(LLMError):
    """The article does not fit the model's context window."""


class RefusalError(LLMError):
    """The model refused to produce a summary."""


class TruncationError(LLMError):
    """The reply was cut off by the token limit."""


class TransportError(LLMError):
    """Rate limits, server errors or timeouts outlasted the retry budget."""


class EndpointUnreachable(TransportError):
    """Nothing answers at the endpoint (connection refused on a few quick tries)."""

    exit_code = ExitCode.USAGE  # a wrong --base-url, or a server not started: fix the setup, then rerun
    stops_run = True


class SummaryFailed(LLMError):
    """Replies were still invalid or ungrounded when attempts ran out."""
