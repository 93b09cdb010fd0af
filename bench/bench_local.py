"""Speed and memory of summarising on the embedded model (issue: offline by default).

Prints, for the seed article and then for every article in seeds/, in one process:
cold time (server start included), warm time per article, requests, prompt and completion
tokens, where the server's time went (prompt processing vs generation, from llama.cpp's own
timings, and how many prompt tokens its prompt cache reused: a repair should pay prefill only
for its own tail), and peak memory of this process and of the llama.cpp server.
Baselines, same process, same server, raw openai client (no validation, no retries): the
identical first request, and one plain-prompt request ("summarise this article", no schema, no
grammar); it prints summariser's warm time over the plain request's (target <= 1.5).

    .venv/bin/python bench/bench_local.py            # seed + all of seeds/
    .venv/bin/python bench/bench_local.py --seed-only
    .venv/bin/python bench/bench_local.py --prompt article@6
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
        f"{label:<34} {seconds:7.1f} s  requests {p.attempts}  prompt {p.usage.prompt_tokens:5d}  "
        f"completion {p.usage.completion_tokens:5d}  {gen:5.1f} completion tok/s  "
        f"grounding {summary.grounding.grounding_rate:.0%} ({len(summary.grounding.unverified)} kept out)"
        f"{time_split(summary)}"
    )


def time_split(summary) -> str:
    """Server-side prompt processing vs generation over the run's requests, when reported."""
    requests = summary.provenance.requests
    prefill = [r.prompt_s for r in requests if r.prompt_s is not None]
    generation = [r.generation_s for r in requests if r.generation_s is not None]
    if not prefill:
        return ""
    cached = sum(r.cached_prompt_tokens or 0 for r in requests)
    return f"  [prompt processing {sum(prefill):.1f} s, generation {sum(generation):.1f} s, cache reused {cached} prompt tokens]"


def request_lines(summary) -> list[str]:
    lines = []
    for r in summary.provenance.requests:
        what = f"repair of {', '.join(r.repaired)}" if r.kind == "repair" else "full reply"
        timing = f"prefill {r.prompt_s:.1f} s, generation {r.generation_s:.1f} s" if r.prompt_s is not None else "no server timings"
        cached = r.cached_prompt_tokens if r.cached_prompt_tokens is not None else "?"
        lines.append(
            f"    request {r.number}: {what}: prompt {r.prompt_tokens} tokens ({cached} from the cache), "
            f"completion {r.completion_tokens}, {r.latency_s:.1f} s ({timing})"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-only", action="store_true", help="only the seed article")
    parser.add_argument("--prompt", default=None, help="prompt NAME[@VERSION] (default: the default article version)")
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
        from summariser.llm.local import shared_server

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

        # Plain prompt, same article, no schema, no grammar: what one raw summary request costs.
        plain_body = {
            "model": body["model"],
            "messages": [
                {"role": "system", "content": "Summarise the news article in three sentences."},
                {"role": "user", "content": seed.text},
            ],
            "max_tokens": 350,
            "temperature": 0,
        }
        # Sent twice, timed the second time: the warm run above also found its article in the
        # server's prompt cache, so both sides are compared warm (seeds/ below are not cached).
        raw.chat.completions.create(**plain_body)
        started = time.monotonic()
        plain = raw.chat.completions.create(**plain_body)
        plain_s = time.monotonic() - started
        plain_tokens = plain.usage.completion_tokens
        timings = (plain.model_extra or {}).get("timings") or {}
        print(
            f"{'seed, raw plain prompt (1 request)':<34} {plain_s:7.1f} s  completion {plain_tokens} tokens: "
            f"{plain_tokens / plain_s:.1f} tok/s  [prompt processing {timings.get('prompt_ms', 0) / 1000:.1f} s, "
            f"generation {timings.get('predicted_ms', 0) / 1000:.1f} s]"
        )
        print(f"summariser warm / raw plain prompt = {warm_s / plain_s:.2f} (target <= 1.5)")
        print("seed, warm, request by request:")
        for line in request_lines(warm.summary):
            print(line)

        if not args.seed_only:
            times, failures, requests, completion = [], 0, [], []
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
                requests.append(result.summary.provenance.attempts)
                completion.append(result.summary.provenance.usage.completion_tokens)
                print(row(path.name, seconds, result.summary))
                if result.summary.provenance.attempts > 1:
                    for line in request_lines(result.summary):
                        print(line)
            if times:
                print(
                    f"seeds/: {len(times)} ok, {failures} failed; warm per article: median {statistics.median(times):.1f} s, "
                    f"mean {statistics.mean(times):.1f} s, max {max(times):.1f} s; requests per article {statistics.mean(requests):.2f}, "
                    f"completion tokens per article {statistics.mean(completion):.0f}; load average {os.getloadavg()[0]:.2f}"
                )
        print(f"peak memory: summariser process {self_peak_mb():.0f} MB, llama.cpp server {vm_hwm_mb(server.pid):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
