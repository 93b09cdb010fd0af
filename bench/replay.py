"""Serve a run store's stored replies again, so post-processing changes are re-scored for free.

An eval on the embedded model costs about a minute a document; most changes after it touch only
what code does with a reply (names, merging, trimming), not the request. This script starts a
local OpenAI-compatible server (``summariser.testing.ScriptedLLM``) that answers each chat
request with the reply the store recorded for the same messages, and prints its base URL:

    python bench/replay.py --db /work/evalhome/summariser.db &
    summariser eval ../shared/eval/*_dev.jsonl -p article@6 --base-url http://127.0.0.1:8765/v1 \\
        --no-store --out replayed/

A request whose messages were never stored (a changed prompt, hint list or repair) is answered
with HTTP 400, so the document fails visibly instead of silently calling a model; the server
counts hits and misses and prints them when stopped (Ctrl-C). Usage figures are replayed too,
so tokens per article stay those of the original run; seconds do not (they are the replay's).
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

from summariser.testing import ScriptedLLM, error, reply


def _key(messages: Any) -> str:
    return json.dumps([{"role": m.get("role"), "content": m.get("content")} for m in messages], sort_keys=True)


def load_replies(db: Path) -> dict[str, list[tuple[str, str | None, int, int]]]:
    """Messages (as a canonical JSON key) -> the stored replies to them, oldest first, each as
    (reply, finish_reason, prompt_tokens, completion_tokens).

    One conversation can send the same messages twice: a repair whose merged reply is the one it
    repaired is sent again at a raised temperature, and the model answers differently. So the
    n-th request with the same messages gets the n-th stored reply: start one server per replayed
    run."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT messages, reply, finish_reason, prompt_tokens, completion_tokens FROM attempts "
            "WHERE reply IS NOT NULL ORDER BY run_id, number"
        ).fetchall()
    finally:
        con.close()
    found: dict[str, list[tuple[str, str | None, int, int]]] = {}
    for messages, content, finish, prompt_tokens, completion_tokens in rows:
        found.setdefault(_key(json.loads(messages)), []).append((content, finish, prompt_tokens, completion_tokens))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="the run store (summariser.db) to replay")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--misses", type=Path, help="append each request that was not stored to this JSONL file")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"error: no run store at {args.db}", file=sys.stderr)
        return 2
    replies = load_replies(args.db)
    seen = {"hit": 0, "miss": 0}

    served: dict[str, int] = {}
    lock = threading.Lock()

    def responder(body: dict[str, Any]) -> Any:
        key = _key(body.get("messages") or [])
        stored = replies.get(key)
        found = None
        if stored:
            with lock:  # the n-th time these messages come, the n-th stored reply (then the last again)
                n = served.get(key, 0)
                served[key] = n + 1
            found = stored[min(n, len(stored) - 1)]
        if found is None:
            seen["miss"] += 1
            if args.misses:
                with args.misses.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(body) + "\n")
            return error(400, message="replay: these messages were never stored")
        seen["hit"] += 1
        content, finish, prompt_tokens, completion_tokens = found
        return reply(content, finish_reason=finish or "stop", usage=(prompt_tokens, completion_tokens))

    server = ScriptedLLM(responder=responder, port=args.port).start()
    print(f"replaying {sum(map(len, replies.values()))} stored replies at {server.base_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(f"hits {seen['hit']} misses {seen['miss']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
