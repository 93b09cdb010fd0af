"""Stories by code: how the clustering groups the seeds and the event fixtures, and how fast.

Summaries come from each article's own text (``summariser.testing.grounded_responder``: first
sentences as facts, capitalised names as participants); no model is run. The expected groups are
one per seed, with each file of tests/fixtures/events/ joining the seed its name's prefix names.

    .venv/bin/python bench/bench_stories.py
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from summariser.briefing import merge_participants  # noqa: E402
from summariser.stories import _features, _weights, cluster_articles, pair_score  # noqa: E402
from test_stories import EVENTS, expected_groups, story_articles  # noqa: E402


def pairs(groups) -> set[frozenset[str]]:
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}


def main() -> int:
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    for label, paths in (("13 seeds", seeds), ("seeds + 6 event fixtures", seeds + sorted(EVENTS.glob("*.txt")))):
        articles = story_articles(paths)
        who = merge_participants([(a.id, a.summary) for a in articles])
        started = time.perf_counter()
        groups = cluster_articles(articles, who)
        elapsed = time.perf_counter() - started
        expected = expected_groups(paths)
        got, want = pairs(groups), pairs(expected)
        precision = len(got & want) / len(got) if got else 1.0
        recall = len(got & want) / len(want) if want else 1.0
        features = _features(articles, who)
        weight = _weights(features)
        same = {frozenset(p) for p in want}
        scores = {frozenset((a.id, b.id)): pair_score(features[a.id], features[b.id], weight)
                  for a, b in itertools.combinations(articles, 2)}
        inside = min((s for p, s in scores.items() if p in same), default=None)
        across = max(s for p, s in scores.items() if p not in same)
        print(f"{label}: {len(articles)} articles -> {len(groups)} stories (expected {len(expected)}); "
              f"groups exact: {sum(1 for g in groups if frozenset(g) in expected)}/{len(expected)}; "
              f"pair precision {precision:.2f}, recall {recall:.2f}; "
              f"weakest same-story pair {inside if inside is None else round(inside, 2)}, "
              f"strongest cross-story pair {across:.2f} (threshold 2.5); {elapsed * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
