"""``summariser config``: every effective setting, its value and where it came from."""

from __future__ import annotations

import typer

from ..config import ENV_VARS, config_path, resolve

app = typer.Typer(
    help="Show the effective settings (flag > environment > config file > default) and the config file path.",
    invoke_without_command=True,
)


def mask_key(key: str | None) -> str | None:
    """``sk-…abcd``: enough to tell keys apart, never enough to use one."""
    if not key:
        return key
    prefix = key[:3] if key.startswith("sk-") else ""
    return f"{prefix}…{key[-4:]}" if len(key) > 8 else "…"


@app.callback()
def config_callback(ctx: typer.Context) -> None:
    """Show the effective settings; `config path` prints the config file's path."""
    if ctx.invoked_subcommand is None:
        show_command()


@app.command("show")
def show_command() -> None:
    """Print every setting, its value and its source (flag, env, config or default).

    Example: summariser config show
    """
    values, sources = resolve()
    width = max(len(k) for k in ENV_VARS)
    for key in ENV_VARS:  # plain lines: never wrapped, easy to grep
        value = values.get(key)
        if key == "api_key":
            value = mask_key(value)
        shown = "(unset)" if value is None else str(value)
        print(f"{key:<{width}}  {shown}  ({sources[key]}, {ENV_VARS[key]})")


@app.command("path")
def path_command() -> None:
    """Print the config file's path (it need not exist yet).

    Example: summariser config path
    """
    print(config_path())
