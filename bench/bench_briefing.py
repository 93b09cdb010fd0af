"""Benchmark: a briefing over 100 articles (10 failing) against ScriptedLLM, then a rerun.

    .venv/bin/python bench/bench_briefing.py [--articles 100] [--failing 10] [--latency 0.02]

The rerun must make no model call for the 90 good articles (nor the briefing call): only the
10 failing articles are tried again.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from summariser.briefing import BriefingBuilder
from summariser.config import Settings
from summariser.store import Store
from summariser.testing import ScriptedLLM, briefing_responder, error, is_briefing_request, is_story_request

FAIL = "FAILME"


def responder(body: dict):
    if is_briefing_request(body) or is_story_request(body):
        return briefing_responder(body)
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return error(400, "injected failure") if FAIL in user else briefing_responder(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--failing", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every model reply")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(responder=responder, latency_s=args.latency) as llm:
        inbox = Path(tmp) / "inbox"
        inbox.mkdir()
        for i in range(args.articles):
            mark = f" {FAIL}" if i < args.failing else ""
            (inbox / f"a{i:03d}.txt").write_text(
                f"Harbour works {i}\n\nOfficials in Lisbon said on Monday that pier {i} would reopen.{mark} "
                f"Mayor Carla Duarte said the repairs on pier {i} were finished.", encoding="utf-8")
        settings = Settings.load(base_url=llm.base_url, model="scripted", home=str(Path(tmp) / "home"),
                                 concurrency=args.concurrency, max_attempts=2)
        with Store(settings.store_path) as store:
            for label in ("first run", "rerun"):
                llm.reset()
                started = time.perf_counter()
                with BriefingBuilder(settings, store=store, context_budget=100_000) as builder:
                    result = builder.build([str(inbox)])
                elapsed = time.perf_counter() - started
                b = result.briefing
                good_calls = sum(1 for body in llm.requests if FAIL not in json.dumps(body["messages"][1]["content"])
                                 and not is_briefing_request(body) and not is_story_request(body))
                print(f"{label:9}: {llm.chat_count:3} model calls ({good_calls} for the {len(b.articles)} good articles, "
                      f"{result.briefing_calls} briefing), {len(b.failures)} failures, exit {result.exit_code}, {elapsed:.2f}s")
        if good_calls:
            print("FAIL: the rerun called the model for articles already summarised", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
