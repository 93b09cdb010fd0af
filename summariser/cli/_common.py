"""Shared CLI plumbing: consoles, common options, settings from flags."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..config import ENV_VARS, Settings
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


_ENVVAR_OPTIONS = {"OPENAI_BASE_URL", "SUMMARISER_MODEL", "SUMMARISER_DB", "SUMMARISER_LOCAL_MODEL"}  # the envvar= below
_loaded: list[Settings] = []  # this process's settings, newest last: for the error boundary


def print_warning(label: str, warning: str) -> None:
    """One ``Warning:`` line on stderr about one article (e.g. a prompt injection found in it)."""
    err_console.print(f"[bold yellow]Warning:[/] {escape(label)}: {escape(warning)}")


def load_settings(**flags: Any) -> Settings:
    """Settings from flags (None = not given) > environment > config file > defaults.

    Options declared with ``envvar=`` (``--base-url``/OPENAI_BASE_URL, ...) reach us filled from
    the environment. A value equal to its variable's is left to the environment layer, so errors
    and ``config show`` name the variable the user set rather than a flag they never typed."""
    flags = {
        key: None if value is not None and ENV_VARS.get(key) in _ENVVAR_OPTIONS and os.environ.get(ENV_VARS[key]) == str(value) else value
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
