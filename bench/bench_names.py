#!/usr/bin/env python
"""How well code alone finds who is in the story: ``summariser.names.candidates`` against the
gold participants of the dev sets, side by side with the spaCy NER baseline, in one process.

    .venv/bin/python bench/bench_names.py                       # ../shared/eval, all three sets
    .venv/bin/python bench/bench_names.py --eval-dir DIR --limit 5
    .venv/bin/python bench/bench_names.py --json out.json

Scored with the project's own participant matching (``summariser.evaluate.score_doc``): recall
of gold clusters (each matched once), precision = candidates that match some cluster (on
News-Fair only candidates named inside its ``evaluation_span``), macro-averaged over documents.
Systems: ``candidates`` (spaCy + capitalised phrases, the default where spaCy is installed),
``candidates@25`` (the first 25, as many as a prompt's hints carry), ``candidates-nospacy``
(capitalised phrases only) and ``ner`` (the eval baseline). Needs the eval extra (spaCy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from summariser.evaluate import Prediction, load_dataset, ner_baseline, run_eval  # noqa: E402
from summariser.names import candidates  # noqa: E402

DATASETS = ("gum_news_dev", "news_fair_dev", "wikievents_dev")


def _system(**options):
    def run(doc) -> Prediction:
        found = candidates(doc.text, **options)
        return Prediction(participants=[list(c.names) for c in found], model="summariser.names")

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "eval")
    parser.add_argument("--limit", type=int, default=None, help="at most this many documents per set")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.eval_dir.is_dir():
        alt = Path("/work/shared/eval")
        if alt.is_dir():
            args.eval_dir = alt
        else:
            print(f"Error: {args.eval_dir} does not exist: pass --eval-dir with the dev sets", file=sys.stderr)
            return 2
    docs = [doc for name in DATASETS for doc in load_dataset(args.eval_dir / f"{name}.jsonl")]
    systems = {
        "candidates": _system(use_spacy=True),
        "candidates@25": _system(use_spacy=True, limit=25),
        "candidates-nospacy": _system(use_spacy=False),
        "ner": ner_baseline(),
    }
    started = time.perf_counter()
    report = run_eval(docs, systems, limit=args.limit)
    metrics = report.metrics()
    columns = [*report.datasets, "overall"]
    print(f"{len(docs)} documents ({', '.join(f'{d} {n}' for d, n in report.datasets.items())}), {time.perf_counter() - started:.1f} s")
    print()
    print(f"{'system':<20}" + "".join(f"{c:>22}" for c in columns))
    print(f"{'':<20}" + "".join(f"{'recall / precision':>22}" for _ in columns))
    for system in systems:
        cells = []
        for column in columns:
            row = metrics[system][column]
            recall, precision = row.get("participant_recall"), row.get("participant_precision")
            cells.append(f"{recall:.3f} / {precision:.3f}" if recall is not None and precision is not None else "-")
        seconds = report.systems[system].seconds
        print(f"{system:<20}" + "".join(f"{c:>22}" for c in cells) + f"   {seconds:.1f} s")
    print()
    print("predicted per document (mean): " + ", ".join(
        f"{s} {sum(r.n_predicted_participants or 0 for r in report.results if r.system == s) / max(1, sum(1 for r in report.results if r.system == s)):.1f}"
        for s in systems
    ))
    if args.json:
        args.json.write_text(json.dumps({"metrics": metrics, "datasets": report.datasets}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
