"""Run ``python -m summariser`` as a real subprocess: on pipes, or on a pseudo-terminal read back
through a terminal emulator (pyte), so a test sees the screen a user would see."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pyte


def cli_env(env: dict | None = None) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARISER_"))}
    full["SUMMARISER_HOME"] = os.environ["SUMMARISER_HOME"]
    if "SUMMARISER_PROMPT" in os.environ:  # conftest: scripted replies are article@2's format
        full["SUMMARISER_PROMPT"] = os.environ["SUMMARISER_PROMPT"]
    full.pop("COLUMNS", None)
    full.pop("LINES", None)
    full.update(env or {})
    return full


def run_cli(*args: str, env: dict | None = None, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "summariser", *args], input=stdin, capture_output=True, env=cli_env(env), timeout=timeout
    )


def run_on_tty(*args: str, env: dict | None = None, columns: int = 100, rows: int = 400) -> tuple[int, list[str], bytes]:
    """(exit code, the screen's lines, raw bytes) of a run with stdout and stderr on one terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = cli_env({"TERM": "xterm-256color", **(env or {})})
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "summariser", *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=full_env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=120)
    os.close(master)
    raw = b"".join(chunks)
    screen = pyte.Screen(columns, rows)
    pyte.ByteStream(screen).feed(raw)
    return code, [line.rstrip() for line in screen.display], raw
