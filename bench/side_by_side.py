"""One table from several `summariser eval` report.json files, over the documents they share.

Eval runs on the embedded model take hours, so systems are often measured on different days and
different document sets. This script puts them side by side fairly: for each system it averages
the per-document figures of only the documents every chosen system has (mean over documents that
have the metric, as the report does), and says how many those are.

    python bench/side_by_side.py docs/eval/2026-11-27-article-v1-v2-v4-20docs.json:article@1,article@2 \\
        full/report.json:ner-baseline,article@6,article@7

Each argument is REPORT.json[:SYSTEM,SYSTEM...] (all its systems when none are named); write
SYSTEM=LABEL to show a system under another column name (the same prompt from two runs).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

METRICS = [
    ("participant recall", "participant_recall", "{:.2f}"),
    ("participant precision", "participant_precision", "{:.2f}"),
    ("invented participants", "invented_rate", "{:.2f}"),
    ("key-fact recall, fuzzy (RoSE)", "keyfact_recall", "{:.2f}"),
    ("stance triple recall (BASIL)", "stance_recall", "{:.2f}"),
    ("grounding rate", "grounding_rate", "{:.2f}"),
    ("valid at first attempt", "valid_first_attempt", "{:.2f}"),
    ("mean attempts", "attempts", "{:.2f}"),
    ("tokens per article", "tokens", "{:,.0f}"),
    ("seconds per article", "seconds", "{:.1f}"),
]


def load(arg: str) -> dict[str, dict[tuple[str, str], dict]]:
    path, _, names = arg.partition(":")
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    wanted = [n for n in names.split(",") if n] or list(report["systems"])
    labels = dict(n.partition("=")[::2] for n in wanted)
    labels = {system: label or system for system, label in labels.items()}
    rows: dict[str, dict[tuple[str, str], dict]] = {label: {} for label in labels.values()}
    for doc in report["documents"]:
        if doc["system"] in labels:
            rows[labels[doc["system"]]][(doc["dataset"], doc["doc_id"])] = doc
    missing = [n for n, docs in rows.items() if not docs]
    if missing:
        raise SystemExit(f"error: {path} has no documents for {', '.join(missing)}")
    return rows


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    systems: dict[str, dict[tuple[str, str], dict]] = {}
    for arg in argv:
        systems.update(load(arg))
    shared = set.intersection(*(set(docs) for docs in systems.values()))
    if not shared:
        print("error: the chosen systems share no document", file=sys.stderr)
        return 1
    datasets = sorted({d for d, _ in shared})
    print(f"{len(shared)} documents shared by every system ({', '.join(f'{d} {sum(1 for s, _ in shared if s == d)}' for d in datasets)})\n")
    print("| metric | " + " | ".join(systems) + " |")
    print("| --- |" + " ---: |" * len(systems))
    for label, key, fmt in METRICS:
        cells = []
        for docs in systems.values():
            values = [docs[k][key] for k in sorted(shared) if docs[k].get(key) is not None]
            if key in ("keyfact_recall", "stance_recall") and values:
                cells.append(f"{fmt.format(statistics.mean(values))} ({len(values)})")
            else:
                cells.append(fmt.format(statistics.mean(values)) if values else "–")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
