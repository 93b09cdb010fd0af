"""The chaos run of bench/bench_chaos.py, scaled down: faults, a kill -9, a rerun; nothing lost,
nothing finished paid twice, no claim left behind (issue 14)."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_chaos", REPO / "bench" / "bench_chaos.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("twins", [False, True], ids=["kill-9", "twins"])
def test_a_small_chaos_run_loses_nothing_and_pays_no_finished_article_twice(tmp_path, twins):
    figures = _bench().run_chaos(articles=100, seed=14, jobs=8, twins=twins, workdir=tmp_path)
    assert figures["lost"] == 0 and figures["paid_twice"] == 0 and figures["stuck_claims"] == 0
    assert figures["summarised"] + figures["reported"] == 100
    assert figures["reported"] >= 1 and figures["reported"] == figures["reported_by_rerun"]  # the invented ones
    assert figures["requests"] > 100  # faults were injected and retried
