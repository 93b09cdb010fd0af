"""Speed and memory of summarising on the embedded model (issue: offline by default).

Prints, for the seed article and then for every article in seeds/, in one process:
cold time (server start included), warm time per article, prompt and completion tokens,
generation speed, attempts, and peak memory of this process and of the llama.cpp server.
As a baseline it also sends the identical first request straight to the same server with the
raw openai client (no validation, no retries) and prints summariser's time over it.

    .venv/bin/python bench/bench_local.py            # seed + all of seeds/
    .venv/bin/python bench/bench_local.py --seed-only
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from summariser.article import Article  # noqa: E402
from summariser.config import Settings  # noqa: E402
from summariser.extract import Summariser  # noqa: E402
from summariser.sources import read_article  # noqa: E402

SEED = REPO / "seeds" / "reuters-moscow-beijing-ukraine.txt"


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of a live process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(label: str, seconds: float, summary) -> str:
    p = summary.provenance
    gen = p.usage.completion_tokens / seconds if seconds else 0.0
    return (
        f"{label:<34} {seconds:7.1f} s  attempts {p.attempts}  prompt {p.usage.prompt_tokens:5d}  "
        f"completion {p.usage.completion_tokens:5d}  {gen:5.1f} completion tok/s  "
        f"grounding {summary.grounding.grounding_rate:.0%} ({len(summary.grounding.unverified)} kept out)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-only", action="store_true", help="only the seed article")
    parser.add_argument("--prompt", default=None, help="prompt NAME[@VERSION] (default: newest)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="summariser-bench-"))
    settings = Settings.load(env={k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}, home=str(home), prompt=args.prompt)
    seed = Article(SEED.read_text(encoding="utf-8"), source=str(SEED.relative_to(REPO)))
    print(f"summariser bench_local: prompt {args.prompt or 'default'}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    with Summariser(settings) as summariser:
        started = time.monotonic()
        outcome = summariser.run(seed)
        cold = time.monotonic() - started
        if outcome.error:
            print(f"cold run failed: {outcome.error}")
            return 1
        from summariser.local import shared_server

        server = shared_server(settings)
        print(f"server: pid {server.pid}, start {server.startup_s:.1f} s, log {server.log_path}")
        print(row("seed, cold (server start included)", cold, outcome.summary))

        started = time.monotonic()
        warm = summariser.run(seed, refresh=True)
        warm_s = time.monotonic() - started
        print(row("seed, warm", warm_s, warm.summary))

        # Baseline: the same first request, raw openai, same server, no checks.
        import openai

        from summariser.session import ArticleTask, Session

        body = Session(ArticleTask(seed), summariser.prompt, model=summariser.model).request()
        raw = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0, timeout=900)
        started = time.monotonic()
        response = raw.chat.completions.create(**body)
        raw_s = time.monotonic() - started
        first_attempt_s = warm.summary.provenance.duration_s / max(1, warm.summary.provenance.attempts)
        print(
            f"{'seed, raw openai (1 request)':<34} {raw_s:7.1f} s  completion {response.usage.completion_tokens} tokens; "
            f"summariser per attempt / raw = {first_attempt_s / raw_s:.2f}"
        )

        # The machine's ceiling: plain text, no grammar, no article: how fast can this CPU generate?
        started = time.monotonic()
        plain = raw.chat.completions.create(
            model=body["model"], messages=[{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
            max_tokens=200, temperature=0,
        )
        plain_s = time.monotonic() - started
        plain_tokens = plain.usage.completion_tokens
        print(
            f"{'raw generation (no grammar)':<34} {plain_s:7.1f} s  completion {plain_tokens} tokens: "
            f"{plain_tokens / plain_s:.1f} tok/s; at that rate 12 s holds ~{int(12 * plain_tokens / plain_s)} tokens of reply"
        )

        if not args.seed_only:
            times, failures = [], 0
            for path in sorted((REPO / "seeds").glob("*.txt")):
                article = read_article(path)
                started = time.monotonic()
                result = summariser.run(article, refresh=True)
                seconds = time.monotonic() - started
                if result.error:
                    failures += 1
                    print(f"{path.name:<34} {seconds:7.1f} s  FAILED: {result.error}")
                    continue
                times.append(seconds)
                print(row(path.name, seconds, result.summary))
            if times:
                print(
                    f"seeds/: {len(times)} ok, {failures} failed; warm per article: median {statistics.median(times):.1f} s, "
                    f"mean {statistics.mean(times):.1f} s, max {max(times):.1f} s"
                )
        print(f"peak memory: summariser process {self_peak_mb():.0f} MB, llama.cpp server {vm_hwm_mb(server.pid):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
