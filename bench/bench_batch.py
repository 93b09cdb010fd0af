"""Benchmark ``batch prepare`` + ``batch import`` on generated articles with scripted results.

    .venv/bin/python bench/bench_batch.py                 # 1,000 and 10,000 articles
    .venv/bin/python bench/bench_batch.py --sizes 100000

Each size runs in a fresh process, twice: once for wall time and throughput (no tracing), once
under tracemalloc for the Python heap peak of each phase (tracing slows it down, so its times are
not reported). ru_maxrss is the process's resident peak from the timed run. The results file is
generated in-process with ``grounded_responder`` (every reply valid and grounded) and is not
part of the timed import. Target: import >= 500 results/s on 2 cores; memory flat in N.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from summariser.article import Article  # noqa: E402
from summariser.batch import import_results, prepare_batch  # noqa: E402
from summariser.config import Settings  # noqa: E402
from summariser.store import Store  # noqa: E402
from summariser.testing import grounded_responder  # noqa: E402

SEEDS = [p.read_text(encoding="utf-8").strip() for p in sorted((REPO / "seeds").glob("*.txt"))]


def articles(n: int):
    for i in range(n):
        yield Article(f"{SEEDS[i % len(SEEDS)]}\n\nThis is generated article number {i}.", source=f"gen/{i:06d}.txt")


def write_results(requests: Path, results: Path) -> None:
    with requests.open() as src, results.open("w") as dst:
        for text in src:
            line = json.loads(text)
            content = json.dumps(grounded_responder(line["body"]))
            body = {"id": "chatcmpl-b", "object": "chat.completion", "created": 0, "model": line["body"]["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 250, "total_tokens": 1450}}
            dst.write(json.dumps({"id": "r", "custom_id": line["custom_id"], "response": {"status_code": 200, "body": body}, "error": None}) + "\n")


def child(n: int, trace: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        settings = Settings.load(env={}, base_url="http://127.0.0.1:9/v1", model="gpt-4o-mini", home=tmp_path, db_path=tmp_path / "store.db")
        out: dict = {"n": n}
        with Store(settings.store_path) as store:
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            report = prepare_batch(articles(n), tmp_path / "requests.jsonl", store=store, settings=settings)
            out["prepare_s"] = time.perf_counter() - started
            if trace:
                out["prepare_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
            assert report.requests == n
            write_results(report.files[0], tmp_path / "results.jsonl")
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            imported = import_results(tmp_path / "results.jsonl", store=store)
            out["import_s"] = time.perf_counter() - started
            if trace:
                out["import_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
            assert imported.stored == n and imported.ok, imported.to_dict()
            out["cost"] = imported.cost
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--child", type=int)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.trace)))
        return
    print(f"{'articles':>9} {'prepare s':>10} {'prep/s':>8} {'import s':>9} {'import/s':>9} {'prep peak MB':>13} {'import peak MB':>15} {'maxrss MB':>10}  est. cost")
    for n in args.sizes:
        def run(*extra: str) -> dict:
            done = subprocess.run([sys.executable, __file__, "--child", str(n), *extra], check=True, capture_output=True, text=True)
            return json.loads(done.stdout.strip().splitlines()[-1])
        timed, traced = run(), run("--trace")
        print(f"{n:>9,} {timed['prepare_s']:>10.2f} {n / timed['prepare_s']:>8,.0f} {timed['import_s']:>9.2f} {n / timed['import_s']:>9,.0f} "
              f"{traced['prepare_peak_mb']:>13.1f} {traced['import_peak_mb']:>15.1f} {timed['maxrss_mb']:>10.0f}  {timed['cost']}", flush=True)


if __name__ == "__main__":
    main()
