"""Shared CLI plumbing: consoles, the options several commands take, settings from flags.

An option several commands share is declared here once (its flags, variable, limits and usual
help). Where a command's help must say something of its own (briefing's ``--concurrency`` has
another default), it calls the ``*_option(help)`` maker with that text; the rest stays shared.
Exit codes are ``summariser.exitcodes.ExitCode`` (re-exported here for commands)."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..config import ENV_VARS, Settings
from ..exitcodes import ExitCode  # noqa: F401  (commands take it from here with the options)
from ..redaction import redact


class RedactingConsole(Console):
    """A console that redacts keys from every string it prints (errors quote what servers said)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().print(*(redact(o) if isinstance(o, str) else o for o in objects), **kwargs)


console = Console(highlight=False)
err_console = RedactingConsole(stderr=True, highlight=False, soft_wrap=True)  # one error, one line

BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", envvar="OPENAI_BASE_URL", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1. Unset (and no OPENAI_API_KEY): the embedded local model.", show_default=False),
]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", envvar="SUMMARISER_MODEL", help="Model name sent to the endpoint.", show_default=False)]
PromptOpt = Annotated[str | None, typer.Option("--prompt", "-p", help="Prompt template NAME\\[@VERSION]; default: the default 'article' version (`summariser prompts list` marks it).", show_default=False)]
DbOpt = Annotated[Path | None, typer.Option("--db", envvar="SUMMARISER_DB", help="Run store (SQLite) path. Default: summariser.db in the data dir.", show_default=False)]
MaxCharsOpt = Annotated[
    int | None,
    typer.Option("--max-chars", min=1, envvar="SUMMARISER_MAX_CHARS", metavar="N", help="Longest article to send, in characters; a longer one is refused before any request. Default: 100000.", show_default=False),
]
FetchTimeoutOpt = Annotated[
    float, typer.Option("--fetch-timeout", min=1, metavar="SECONDS", help="Seconds to wait for one URL or feed.")
]
SOURCES_HELP = "Article files (.txt, .md, .html), directories, globs, article URLs, RSS/Atom feeds (file or URL), or - for stdin."
RetryBudgetOpt = Annotated[
    float | None,
    typer.Option("--retry-budget", min=0, metavar="SECONDS", help="Seconds one request may spend retrying 429/5xx/timeouts before giving up (env SUMMARISER_RETRY_BUDGET, config retry_budget_s). Default: 120.", show_default=False),
]
LocalModelOpt = Annotated[Path | None, typer.Option("--local-model", envvar="SUMMARISER_LOCAL_MODEL", help="A GGUF file to serve instead of the bundled model.", show_default=False)]
GlobOpt = Annotated[str | None, typer.Option("--glob", metavar="PATTERN", help="Files a directory contributes, e.g. '*.md'. Default: *.txt, *.html, *.htm.", show_default=False)]
RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Ignore cached results and call the model again.")]


class Mode(str, Enum):
    """How the reply's structure is asked for (``Settings.mode``)."""

    auto = "auto"
    json_schema = "json_schema"
    json_object = "json_object"


def mode_option(help: str = "Structured output: json_schema (strict, grammar-enforced), json_object (schema in the prompt), or auto (json_schema, falling back to json_object if the server rejects it). Default: auto.") -> Any:
    return typer.Option("--mode", help=help, show_default=False)


def max_attempts_option(help: str = "Replies to try before giving up; failures are fed back to the model. Default: 3.") -> Any:
    return typer.Option("--max-attempts", min=1, max=10, help=help, show_default=False)


def concurrency_option(help: str = "Articles in flight at once (1 suits the local model). Default: 1.") -> Any:
    return typer.Option("--concurrency", "-j", min=1, max=64, help=help, show_default=False)


def timeout_option(help: str = "Seconds to wait for one reply. Default: 120.") -> Any:
    return typer.Option("--timeout", min=1, help=help, show_default=False)


def quiet_option(help: str = "No progress on stderr (errors are still printed).") -> Any:
    return typer.Option("--quiet", "-q", help=help)


ModeOpt = Annotated[Mode | None, mode_option()]
MaxAttemptsOpt = Annotated[int | None, max_attempts_option()]
ConcurrencyOpt = Annotated[int | None, concurrency_option()]
TimeoutOpt = Annotated[float | None, timeout_option()]
QuietOpt = Annotated[bool, quiet_option()]


_ENVVAR_OPTIONS = {"OPENAI_BASE_URL", "SUMMARISER_MODEL", "SUMMARISER_DB", "SUMMARISER_LOCAL_MODEL"}  # the envvar= below
_loaded: list[Settings] = []  # this process's settings, newest last: for the error boundary


def print_warning(label: str, warning: str) -> None:
    """One ``Warning:`` line on stderr about one article (e.g. a prompt injection found in it)."""
    err_console.print(f"[bold yellow]Warning:[/] {escape(label)}: {escape(warning)}")


def load_settings(**flags: Any) -> Settings:
    """Settings from flags (None = not given) > environment > config file > defaults.

    Options declared with ``envvar=`` (``--base-url``/OPENAI_BASE_URL, ...) reach us filled from
    the environment. A value equal to its variable's is left to the environment layer, so errors
    and ``config show`` name the variable the user set rather than a flag they never typed.
    Choices (``Mode``) are passed as their values."""
    flags = {
        key: None if value is not None and ENV_VARS.get(key) in _ENVVAR_OPTIONS and os.environ.get(ENV_VARS[key]) == str(value)
        else value.value if isinstance(value, Enum) else value
        for key, value in flags.items()
    }
    settings = Settings.load(**flags)
    _loaded.append(settings)
    return settings


def last_settings() -> Settings | None:
    """The settings the running command loaded last (the error boundary names their endpoint)."""
    return _loaded[-1] if _loaded else None


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def pipe_console() -> Console:
    """A console for tables and plain text: on a terminal it fits the window; redirected, it
    never wraps or squeezes (rich would otherwise assume 80 columns and cut columns off)."""
    if stdout_is_terminal():
        return Console(highlight=False)
    return Console(highlight=False, width=10_000, soft_wrap=True)


def print_json(data: Any) -> None:
    """Compact JSON on stdout, one document per line (so several make JSON Lines)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()

