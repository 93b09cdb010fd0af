"""Atomic file writes: a reader sees the old file or the complete new one, never half of it.

Every writer of an output, cache or sidecar file goes through here. The data goes to a temp file
in the same directory (``.{name}.XXXX.tmp``, so ``os.replace`` stays on one file system and is
atomic), which is renamed over the target only when the block completes; on any error the temp
file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "fsync_directory"]

# mkstemp makes the temp file private (0o600); outputs and caches are ordinary readable files.
DEFAULT_PERMISSIONS = 0o644


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
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
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
