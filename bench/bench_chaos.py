"""Chaos run: N distinct articles through the scripted server with a seeded mix of faults, a
kill -9 at a random point, and a rerun; then what happened to every article.

    python bench/bench_chaos.py                      # 1,000 articles, one process, kill -9, rerun
    python bench/bench_chaos.py --articles 100 --twins   # two processes over the same store at once

Prints: summarised / reported (failed with an error) / lost (neither), requests sent, finished
articles paid twice (more than one ok run), and wall time. Faults (per request, seeded): 500,
429 with Retry-After, invalid JSON, a schema violation, a cut-off reply, a slow reply; 1 % of
the articles always get an invented reply (below the floor) and must end up reported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from summariser.testing import ScriptedLLM, delay, error, grounded_responder, reply

INVENTED = {
    "headline": "The moon is made of green cheese",
    "summary": "Astronauts confirmed the dairy composition of the lunar surface.",
    "key_facts": [{"quote": "the moon is mostly cheddar", "statement": "The moon is mostly cheddar."}],
    "participants": [{"name": "Wallace Gromit", "kind": "person", "role": "expert", "aliases": []}],
    "stances": [],
}


def write_articles(directory: Path, n: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (directory / f"a{i:05d}.txt").write_text(
            f"Mayor Ann Lee of Springfield opened bridge number {i} on Monday. "
            f"Lee said the bridge cost {i + 3} million dollars and took {i % 7 + 2} years to build. "
            f"The city council approved a second bridge, number {i + 1}, for next year.\n",
            encoding="utf-8",
        )


class FaultyResponder:
    """Seeded faults per (article, request number for it); thread-safe."""

    def __init__(self, seed: int, rate: float) -> None:
        self.seed, self.rate = seed, rate
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, body: dict):
        text = " ".join(str(m.get("content")) for m in body.get("messages", []))
        marker = text[text.find("bridge number"):][:20]
        with self.lock:
            n = self.counts[marker] = self.counts.get(marker, 0) + 1
        rng = random.Random(hashlib.sha256(f"{self.seed}:{marker}:{n}".encode()).digest())
        if random.Random(f"{self.seed}:{marker}").random() < 0.01:
            return reply(INVENTED)
        if rng.random() >= self.rate:
            return grounded_responder(body)
        good = grounded_responder(body)
        return rng.choice([
            lambda: error(500),
            lambda: error(429, headers={"Retry-After": "0"}),
            lambda: reply("{not json"),
            lambda: reply({**good, "participants": [{"name": "x", "kind": "nation", "role": "r", "aliases": []}]}),
            lambda: reply(json.dumps(good)[:80], finish_reason="length"),
            lambda: delay(0.05, good),
        ])()


def _command(inbox: Path, db: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "summariser", "summarise", str(inbox), "-j", str(jobs), "--format", "json",
            "--db", str(db), "--retry-budget", "5", "--max-attempts", "3", "--quiet"]


def _env(base_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARISER_"))}
    env.update(OPENAI_BASE_URL=base_url, SUMMARISER_MODEL="chaos", SUMMARISER_HOME=str(home))
    return env


def run_chaos(*, articles: int = 1000, seed: int = 14, rate: float = 0.19, jobs: int = 8, twins: bool = False,
              kill: bool = True, workdir: Path | None = None) -> dict[str, float]:
    """Run the chaos scenario; return the figures."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="chaos-"))
    inbox, db = workdir / "inbox", workdir / "chaos.db"
    write_articles(inbox, articles)
    rng = random.Random(seed)
    started = time.monotonic()
    with ScriptedLLM(responder=FaultyResponder(seed, rate)) as llm:
        env = _env(llm.base_url, workdir / "home")
        first = [subprocess.Popen(_command(inbox, db, jobs), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                 for _ in range(2 if twins else 1)]
        if kill:  # kill -9 the first process after a random share of its articles came out
            stop_after = rng.randint(articles // 4, max(articles // 4, articles // 2))
            assert first[0].stdout is not None
            for n, _line in enumerate(first[0].stdout, 1):
                if n >= stop_after:
                    first[0].kill()
                    break
        for process in first:
            process.communicate()
        rerun = subprocess.run(_command(inbox, db, jobs), env=env, capture_output=True)
        requests = llm.chat_count
    wall = time.monotonic() - started
    with sqlite3.connect(db) as conn:
        ok = {sha for (sha,) in conn.execute("SELECT DISTINCT article_sha256 FROM runs WHERE status = 'ok'")}
        failed = {sha for (sha,) in conn.execute("SELECT DISTINCT article_sha256 FROM runs WHERE status = 'failed'")} - ok
        twice = conn.execute(
            "SELECT COUNT(*) FROM (SELECT article_sha256 FROM runs WHERE status = 'ok' GROUP BY article_sha256 HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        stuck = conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
    reported = sum(1 for line in rerun.stdout.decode().splitlines() if line.startswith('{"error"'))
    return {
        "articles": articles,
        "summarised": len(ok),
        "reported": len(failed),
        "reported_by_rerun": reported,
        "lost": articles - len(ok) - len(failed),
        "requests": requests,
        "paid_twice": twice,
        "stuck_claims": stuck,
        "rerun_exit": rerun.returncode,
        "wall_s": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--fault-rate", type=float, default=0.19)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--twins", action="store_true", help="two processes over the same articles and store at once")
    parser.add_argument("--no-kill", action="store_true", help="no kill -9 of the first process")
    args = parser.parse_args(argv)
    figures = run_chaos(articles=args.articles, seed=args.seed, rate=args.fault_rate, jobs=args.jobs, twins=args.twins, kill=not args.no_kill)
    print(
        f"{figures['articles']} articles: {figures['summarised']} summarised, {figures['reported']} reported, "
        f"{figures['lost']} lost; {figures['requests']} requests; {figures['paid_twice']} finished articles paid twice; "
        f"{figures['stuck_claims']} stuck claims; {figures['wall_s']} s"
    )
    print(json.dumps(figures))
    return 0 if figures["lost"] == 0 and figures["paid_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
