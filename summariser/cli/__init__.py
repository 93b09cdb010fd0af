"""The ``summariser`` command line: thin commands over the library, one error boundary.

Exit codes (``summariser.exitcodes.ExitCode``): 0 success; 1 some work failed (the rest was still
done and written); 2 usage or configuration error; 3 a briefing was produced but some articles
failed (partial); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from ..errors import Interrupted, SummariserError
from ..exitcodes import ExitCode
from rich.markup import escape

from ._common import err_console

app = typer.Typer(
    name="summariser",
    help="Turn news articles into grounded, schema-checked structured summaries with an LLM.\n\n"
    "With no endpoint configured it serves an embedded local model: no API key needed.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from . import prompts as prompts_cli
    from . import summarise as summarise_cli

    app.command("summarise")(summarise_cli.summarise_command)
    app.add_typer(prompts_cli.app, name="prompts")
    _optional("schema", "schema_command")
    _optional("export", "export_command")
    _optional("eval", "eval_command")
    _optional("briefing", "briefing_command")
    _optional_group("runs")
    _optional_group("model")
    _optional_group("batch")
    _optional_group("config")


def _optional(module: str, function: str) -> None:
    import importlib

    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{module}":
            raise
        return
    app.command(module)(getattr(mod, function))


def _optional_group(module: str) -> None:
    import importlib

    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{module}":
            raise
        return
    app.add_typer(mod.app, name=module)


_register()


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"summariser {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_version, is_eager=True),
) -> None:
    """Turn news articles into grounded, schema-checked structured summaries with an LLM.

    With no endpoint configured it serves an embedded local model: no API key needed."""


def _unwrap_help(command) -> None:
    """Join the hard-wrapped lines of docstring paragraphs (typer 0.29 shows them as written, so
    ``--help`` broke lines mid-sentence); indented paragraphs (examples) are kept as they are."""
    import inspect

    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(
            p if any(line.startswith(" ") for line in p.splitlines()) else " ".join(p.split("\n")) for p in paragraphs
        )
    for param in command.params:
        # typer 0.29 labels on/off flags "<bool>" as if they took a value: `--strict true` then
        # reads "true" as an article path. An empty metavar shows them as the flags they are.
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    command.get_help_option = _flag_help_option(command.get_help_option)  # -h/--help is made per context
    for sub in getattr(command, "commands", {}).values():
        _unwrap_help(sub)


def _flag_help_option(make):
    def get_help_option(ctx):
        option = make(ctx)
        if option is not None:
            option.metavar = ""
        return option

    return get_help_option


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and turn errors into one line and an exit code."""
    debug = os.environ.get("SUMMARISER_DEBUG") not in (None, "", "0")
    command = typer.main.get_command(app)
    _unwrap_help(command)
    try:
        # standalone mode: typer renders usage errors itself (exit 2) and turns Exit into SystemExit
        command.main(args=argv, prog_name="summariser", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (ExitCode.OK if exc.code is None else ExitCode.FAILED)
    except KeyboardInterrupt:
        err_console.print("Interrupted: rerun the same command to continue (finished work is kept).")
        return ExitCode.INTERRUPTED
    except Interrupted as exc:
        err_console.print(escape(str(exc)), markup=True, soft_wrap=True)  # one line, not an error
        return exc.exit_code
    except SummariserError as exc:
        if debug:
            _print_traceback()
        from ..endpoint import explain_error
        from ._common import last_settings

        err_console.print(f"[bold red]Error:[/] {escape(explain_error(exc, last_settings()))}", markup=True, soft_wrap=True)
        return exc.exit_code
    except Exception as exc:  # the boundary: no traceback unless asked
        if debug:
            _print_traceback()
        else:
            err_console.print(
                f"[bold red]Error:[/] unexpected {type(exc).__name__}: {escape(str(exc))} (rerun with SUMMARISER_DEBUG=1 for a traceback)",
                markup=True,
                soft_wrap=True,
            )
        return ExitCode.FAILED
    return ExitCode.OK


def _print_traceback() -> None:
    from ..redaction import redact

    # Exception messages quote what servers said: redacted like every other error text.
    sys.stderr.write(redact(traceback.format_exc()) or "")


def run() -> None:
    sys.exit(main())
