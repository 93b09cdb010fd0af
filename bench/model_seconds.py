"""Put a model run's own seconds back into a replayed eval report.

A replay (``bench/replay.py``) re-scores stored replies through new code in seconds, so the
report's "seconds per article" are the replay's, not the model's. This script replaces them, for
one system, with each document's ``duration_s`` as the run store recorded it when the model
answered (runs are matched by their source, ``DATASET:DOC_ID``), and rewrites ``report.md`` and
``report.json`` beside each other:

    python bench/model_seconds.py final/report.json --db /work/evalhome/summariser.db --system article@8

Documents the store has no finished run for keep the replay's seconds and are counted on stderr.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from summariser.evaluate.metrics import DocResult
from summariser.evaluate.report import EvalReport, SystemInfo


def stored_seconds(db: Path) -> dict[str, float]:
    """``DATASET:DOC_ID`` -> the seconds of its newest finished run."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT source, duration_s FROM runs WHERE status = 'ok' AND duration_s IS NOT NULL ORDER BY id").fetchall()
    finally:
        con.close()
    return {source: seconds for source, seconds in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="the replayed eval's report.json")
    parser.add_argument("--db", type=Path, required=True, help="the run store of the model run")
    parser.add_argument("--system", required=True, help="the system whose seconds to replace, e.g. article@8")
    args = parser.parse_args(argv)
    data = json.loads(args.report.read_text(encoding="utf-8"))
    seconds = stored_seconds(args.db)
    results = [DocResult(**doc) for doc in data["documents"]]
    missing = 0
    for result in results:
        if result.system != args.system:
            continue
        found = seconds.get(f"{result.dataset}:{result.doc_id}")
        if found is None:
            missing += 1
        else:
            result.seconds = round(found, 3)
    systems = {label: SystemInfo(**info) for label, info in data["systems"].items()}
    systems[args.system].seconds = round(sum(r.seconds or 0.0 for r in results if r.system == args.system), 1)
    settings = data["settings"]
    report = EvalReport(
        results=results,
        systems=systems,
        datasets=data["datasets"],
        acu_threshold=settings["acu_threshold"],
        fuzzy_threshold=settings["name_fuzzy_threshold"],
        judge=settings["judge"],
        created_at=data["created_at"],
    )
    report.write(args.report.parent)
    print(f"{args.system}: model seconds for {sum(r.system == args.system for r in results) - missing} documents", file=sys.stderr)
    if missing:
        print(f"{missing} documents had no finished run in {args.db}: their seconds are the replay's", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
