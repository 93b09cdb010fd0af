"""No API key ever reaches the store, logs, exports or output, on success or failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from summariser.testing import error

from conftest import SEED_ARTICLE, SEEDS

CANARY = "sk-test-CANARY-0123456789abcdef"


def _run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "summariser", *args], capture_output=True, env=env, timeout=120)


def test_a_recognisable_key_is_nowhere_after_runs_failures_and_exports(llm, tmp_path):
    home = Path(os.environ["SUMMARISER_HOME"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update({"OPENAI_API_KEY": CANARY, "OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted", "SUMMARISER_DEBUG": "1"})
    outputs = []
    outputs.append(_run("summarise", str(SEED_ARTICLE), *map(str, sorted(SEEDS.glob("wikinews-i*.txt"))), "--out", str(tmp_path / "json"), env=env))
    llm.enqueue(error(401), error(500), error(500), error(500))
    outputs.append(_run("summarise", str(SEEDS / "wikinews-taxes.txt"), env=env))  # auth failure, with traceback
    for fmt, table in (("jsonl", "summaries"), ("csv", "facts"), ("json", "participants")):
        outputs.append(_run("export", "--format", fmt, "--table", table, "--out", str(tmp_path / f"export.{fmt}"), env=env))
    outputs.append(_run("runs", "list", env=env))
    outputs.append(_run("runs", "show", "1", "--format", "json", env=env))
    assert outputs[0].returncode == 0 and outputs[1].returncode == 2
    assert all(o.returncode == 0 for o in outputs[2:]), [o.stderr.decode() for o in outputs[2:]]

    # The key did reach the server (that is its job) ...
    assert llm.chat_count >= 3
    # ... and nothing else.
    files = [p for p in [*home.rglob("*"), *tmp_path.rglob("*")] if p.is_file()]
    assert any(p.suffix == ".db" for p in files) and any(p.name.startswith("export") for p in files)
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
    for output in outputs:
        assert CANARY.encode() not in output.stdout + output.stderr
