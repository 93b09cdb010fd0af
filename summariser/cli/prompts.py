"""``summariser prompts``: list, show and diff the versioned prompt templates."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.syntax import Syntax
from rich.table import Table

from ..prompts import diff_prompts, list_prompts_with_defaults, load_prompt
from ._common import console, stdout_is_terminal

app = typer.Typer(help="List, show and compare the versioned prompt templates.", no_args_is_help=True)


@app.command("list")
def list_command() -> None:
    """List every prompt version and which one is each name's default (what NAME alone means).

    Example: summariser prompts list
    """
    table = Table("Prompt", "Default", "sha256", "Description")
    for p, default in list_prompts_with_defaults():
        table.add_row(p.ref, "yes" if default else "", p.sha256[:12], p.description)
    console.print(table)


@app.command("show")
def show_command(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION, e.g. article@1")],
    raw: Annotated[bool, typer.Option("--raw", help="Print the file's exact bytes, nothing else (the default when stdout is not a terminal).")] = False,
) -> None:
    """Print a prompt template file with its version and hash.

    Example: summariser prompts show article@2 --raw > my-prompt.toml
    """
    prompt = load_prompt(ref)
    if raw or not stdout_is_terminal():  # redirected: a valid TOML copy, never wrapped or decorated
        sys.stdout.flush()
        sys.stdout.buffer.write(prompt.path.read_bytes())
        sys.stdout.buffer.flush()
        return
    console.print(f"[bold]{prompt.ref}[/]  sha256 {prompt.sha256}  ({prompt.path})")
    console.print(Syntax(prompt.text, "toml", word_wrap=True))


@app.command("diff")
def diff_command(
    a: Annotated[str, typer.Argument(help="Older prompt, e.g. article@1")],
    b: Annotated[str, typer.Argument(help="Newer prompt, e.g. article@2")],
) -> None:
    """Show what changed between two prompt versions (unified diff).

    Example: summariser prompts diff article@1 article@2
    """
    text = diff_prompts(a, b)
    if not stdout_is_terminal():  # a patch file, not 80-column wrapped text
        sys.stdout.write(text or "(identical)\n")
        return
    console.print(Syntax(text or "(identical)\n", "diff", word_wrap=True))
