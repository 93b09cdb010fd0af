"""Atomic file writes: a reader sees the old file or the complete new one, never half of it.

Every writer of an output, cache or sidecar file goes through here. The data goes to a temp file
in the same directory (``.{name}.{pid}-XXXX.tmp``, so ``os.replace`` stays on one file system and
is atomic), which is renamed over the target only when the block completes; on any error the temp
file is removed and the target is left as it was.

A process killed with -9 cannot remove its temp file. The next write into the same directory
does (once per directory and process): a temp file of ``{name}`` whose process is gone, or one
older than ``STALE_AFTER_S`` (a pid may be reused, and names from before the pid was in them).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "fsync_directory", "pid_is_dead", "remove_stale_temp_files"]

# mkstemp makes the temp file private (0o600); outputs and caches are ordinary readable files.
DEFAULT_PERMISSIONS = 0o644
STALE_AFTER_S = 24 * 3600.0
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+\.tmp$")
_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


def pid_is_dead(pid: int) -> bool:
    """True only when no process ``pid`` exists on this host (alive, or unknown, is False)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # alive under another user, or cannot tell: keep the file
    return False


def remove_stale_temp_files(directory: Path | str, *, stale_after_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove temp files atomic writers left behind in ``directory`` (killed with -9, power loss):
    those whose process is gone, and any older than ``stale_after_s``. Returns what was removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = match.group("pid")
        if (pid is not None and int(pid) != os.getpid() and pid_is_dead(int(pid))) or age > stale_after_s:
            with suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _clean_once(directory: Path) -> None:
    key = os.path.abspath(directory)
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    remove_stale_temp_files(directory)


@contextmanager
def atomic_open(
    path: Path | str,
    mode: str = "w",
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    fsync: bool = True,
    permissions: int = DEFAULT_PERMISSIONS,
    suffix: str = ".tmp",
) -> Iterator[IO[Any]]:
    """Yield a handle on a temp file beside ``path`` that replaces ``path`` if the block completes.

    ``mode`` is ``"w"`` (text, with ``encoding`` and ``newline`` as for ``open``) or ``"wb"``.
    ``fsync`` flushes the data to disk before the rename, so a crash cannot leave an empty file
    under the final name. The parent directory must exist.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    _clean_once(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=suffix)
    try:
        if mode == "wb":
            handle: IO[Any] = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp_name, permissions)
        os.replace(tmp_name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8", **options: Any) -> None:
    """Write ``text`` to ``path`` atomically; ``options`` as for :func:`atomic_open`."""
    with atomic_open(path, "w", encoding=encoding, **options) as handle:
        handle.write(text)


def atomic_write_bytes(path: Path | str, data: bytes, **options: Any) -> None:
    """Write ``data`` to ``path`` atomically; ``options`` as for :func:`atomic_open`."""
    with atomic_open(path, "wb", **options) as handle:
        handle.write(data)


def fsync_directory(path: Path | str) -> None:
    """Make a rename inside ``path`` durable (best effort: not every platform can open a directory)."""
    with suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
