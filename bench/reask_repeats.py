"""How often a re-ask is answered with the very reply it rejected, and what stopping then saves.

Reads the attempts kept in a run store (read-only) and replays the rule summariser applies since
it stopped re-asking on a repeated reply: a run whose k-th reply repeats its (k-1)-th word for
word, with only grounding problems, ends at attempt k with the grounded items kept. Prints, per
prompt version, re-asks, repeats, and the attempts, completion tokens and model seconds the
rule would have saved on those runs, plus how many of them later got a different reply (the
only runs whose result the rule can change).

    python bench/reask_repeats.py ~/.local/share/summariser/summariser.db
"""

from __future__ import annotations

import argparse
import collections
import json
import sqlite3
import sys

from pydantic import ValidationError

from summariser.schema import SummaryDraft


def _parses(reply: str | None) -> bool:
    try:
        SummaryDraft.model_validate_json(reply or "")
    except ValidationError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", help="a summariser run store (SQLite)")
    args = parser.parse_args(argv)
    conn = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
    version = {}
    for run_id, summary in conn.execute("SELECT run_id, summary FROM results"):
        prov = json.loads(summary)["provenance"]
        version[run_id] = f"{prov['prompt']}@{prov['prompt_version']} ({prov['prompt_sha256'][:8]})"
    runs = collections.defaultdict(list)
    for row in conn.execute(
        "SELECT run_id, reply, errors, completion_tokens, latency_s FROM attempts ORDER BY run_id, number"
    ):
        runs[row[0]].append(row[1:])
    stats: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for run_id, attempts in runs.items():
        if run_id not in version:
            continue  # a failed or unfinished run: no result to compare
        s = stats[version[run_id]]
        s["runs"] += 1
        s["attempts"] += len(attempts)
        s["completion_tokens"] += sum(a[2] for a in attempts)
        s["seconds"] += sum(a[3] or 0 for a in attempts)
        for k in range(1, len(attempts)):
            s["reasks"] += 1
            s["repeats"] += attempts[k][0] == attempts[k - 1][0]
        for k in range(1, len(attempts)):
            if attempts[k][0] == attempts[k - 1][0] and _parses(attempts[k][0]):
                later = attempts[k + 1:]
                if later:
                    s["runs_shortened"] += 1
                    s["attempts_saved"] += len(later)
                    s["tokens_saved"] += sum(a[2] for a in later)
                    s["seconds_saved"] += sum(a[3] or 0 for a in later)
                    s["result_may_differ"] += later[-1][0] != attempts[k][0]
                break
    if not stats:
        print("no finished runs with attempts in this store", file=sys.stderr)
        return 1
    cols = ["runs", "attempts", "reasks", "repeats", "runs_shortened", "attempts_saved", "tokens_saved", "seconds_saved", "result_may_differ"]
    heads = ["runs", "attempts", "re-asks", "repeats", "shortened", "att saved", "tok saved", "s saved", "may differ"]
    print("prompt".ljust(24) + "".join(h.rjust(11) for h in heads) + "  saved: attempts / tokens / s")
    for name, s in sorted(stats.items()):
        share = (f"{s['attempts_saved'] / s['attempts']:.0%} / {s['tokens_saved'] / max(1, s['completion_tokens']):.0%}"
                 f" / {s['seconds_saved'] / max(1e-9, s['seconds']):.0%}")
        print(name.ljust(24) + "".join(f"{s[c]:,.0f}".rjust(11) for c in cols) + "  " + share)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
