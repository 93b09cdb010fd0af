"""Batch files end to end: prepare -> (Batch API | batch run | any engine) -> import -> repair.

Real openai client against ScriptedLLM, real SQLite through Store in tmp dirs, real files.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from summariser import batch as batch_lib
from summariser.article import Article
from summariser.batch import import_results, make_custom_id, prepare_batch, run_batch_file
from summariser.cli import main
from summariser.cli.batch import app as batch_app
from summariser.config import Settings
from summariser.extract import Summariser
from summariser.schema import Usage
from summariser.store import Store
from summariser.testing import delay, error, grounded_responder

from conftest import SEEDS

SEED_TEXTS = [p.read_text(encoding="utf-8").strip() for p in sorted(SEEDS.glob("*.txt"))]


def generated_articles(n: int, *, start: int = 0) -> Iterator[Article]:
    """Seed texts with a numbered sentence appended: distinct articles, realistic prompts."""
    for i in range(start, start + n):
        text = f"{SEED_TEXTS[i % len(SEED_TEXTS)]}\n\nThis is generated article number {i}."
        yield Article(text, source=f"gen/{i:05d}.txt")


def completion(content: str, *, model: str = "scripted", usage: tuple[int, int] = (1000, 200)) -> dict[str, Any]:
    return {
        "id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def result_line(custom_id: str, body: dict[str, Any], status: int = 200) -> str:
    return json.dumps({"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": {"status_code": status, "body": body}, "error": None})


def answer_file(requests: Path, out: Path, content_for: Callable[[str, dict[str, Any]], str] | None = None) -> list[str]:
    """What an engine would write for ``requests``: grounded replies unless ``content_for`` says otherwise."""
    ids = []
    with requests.open() as src, out.open("w") as dst:
        for text in src:
            line = json.loads(text)
            body = line["body"]
            content = content_for(line["custom_id"], body) if content_for else None
            content = content if content is not None else json.dumps(grounded_responder(body))
            dst.write(result_line(line["custom_id"], completion(content, model=body["model"])) + "\n")
            ids.append(line["custom_id"])
    return ids


def bad_reply(kind: int, body: dict[str, Any]) -> str:
    """Three ways a reply is invalid: not JSON, schema violation, ungrounded quote."""
    good = grounded_responder(body)
    if kind == 0:
        return '{"headline": "cut off'
    if kind == 1:
        del good["summary"]
        return json.dumps(good)
    good["key_facts"][0]["quote"] = "a treaty on grain exports that the article never mentions at all"
    return json.dumps(good)


def table_counts(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("articles", "runs", "attempts", "results", "batch_requests")}
        counts["statuses"] = dict(conn.execute("SELECT status, COUNT(*) FROM batch_requests GROUP BY status").fetchall())
        return counts
    finally:
        conn.close()


@pytest.fixture
def batch_settings(tmp_path: Path) -> Settings:
    return Settings.load(base_url="http://127.0.0.1:9/v1", model="scripted", db_path=tmp_path / "store.db")


@pytest.fixture
def store(batch_settings: Settings) -> Iterator[Store]:
    with Store(batch_settings.store_path) as s:
        yield s


def keys_of(articles: list[Article], settings: Settings) -> list[str]:
    with Summariser(settings) as s:
        return [s.key_for(a) for a in articles]


# -- prepare ----------------------------------------------------------------------------------


def test_prepare_writes_exactly_what_summarise_would_send(tmp_path, store, batch_settings):
    articles = list(generated_articles(3))
    report = prepare_batch(iter(articles), tmp_path / "requests.jsonl", store=store, settings=batch_settings)
    assert report.requests == 3 and report.files == [tmp_path / "requests.jsonl"]
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    with Summariser(batch_settings) as summariser:
        for article, line in zip(articles, lines):
            assert line["custom_id"] == make_custom_id(summariser.key_for(article), 1)
            assert len(line["custom_id"]) == 35 and line["method"] == "POST" and line["url"] == "/v1/chat/completions"
            session = summariser._session(article)
            session.set_mode("json_schema")
            assert line["body"] == session.request()
    assert table_counts(batch_settings.store_path)["articles"] == 3  # import rebuilds from these


def test_prepare_again_rewrites_in_flight_requests_and_skips_stored_ones(tmp_path, store, batch_settings):
    prepare_batch(generated_articles(4), tmp_path / "a.jsonl", store=store, settings=batch_settings)
    answer_file(tmp_path / "a.jsonl", tmp_path / "a.results.jsonl")
    import_results(tmp_path / "a.results.jsonl", store=store)
    report = prepare_batch(generated_articles(6), tmp_path / "b.jsonl", store=store, settings=batch_settings)
    assert (report.cached, report.requests, report.in_flight) == (4, 2, 0)
    again = prepare_batch(generated_articles(6), tmp_path / "c.jsonl", store=store, settings=batch_settings)
    assert (again.cached, again.requests, again.in_flight) == (4, 2, 2)
    assert (tmp_path / "b.jsonl").read_text() == (tmp_path / "c.jsonl").read_text()


def test_prepare_splits_files_at_the_line_limit(tmp_path, store, batch_settings):
    report = prepare_batch(generated_articles(7), tmp_path / "requests.jsonl", store=store, settings=batch_settings, max_lines=3)
    assert [p.name for p in report.files] == ["requests-001.jsonl", "requests-002.jsonl", "requests-003.jsonl"]
    assert [len(p.read_text().splitlines()) for p in report.files] == [3, 3, 1]
    assert not (tmp_path / "requests.jsonl").exists()


def test_prepare_splits_files_at_the_byte_limit(tmp_path, store, batch_settings):
    one = len((Path(prepare_batch(generated_articles(1), tmp_path / "one.jsonl", store=store, settings=batch_settings).files[0])).read_bytes())
    report = prepare_batch(generated_articles(4, start=1), tmp_path / "r.jsonl", store=store, settings=batch_settings, max_bytes=int(one * 2.5))
    assert all(p.stat().st_size <= one * 2.5 for p in report.files) and len(report.files) >= 2
    assert sum(len(p.read_text().splitlines()) for p in report.files) == 4


def test_prepare_memory_is_streamed(tmp_path, store, batch_settings):
    consumed = []

    def lazy() -> Iterator[Article]:
        for article in generated_articles(1200):
            consumed.append(1)
            yield article

    seen_progress = []
    prepare_batch(lazy(), tmp_path / "r.jsonl", store=store, settings=batch_settings,
                  on_progress=lambda r: seen_progress.append((r.articles, r.requests)))
    # Lines reach the file chunk by chunk while the generator is still being consumed.
    assert seen_progress[0] == (500, 500) and len(consumed) == 1200


# -- import and repair -------------------------------------------------------------------------


def test_100_articles_with_15_invalid_results_repair_exactly_those(tmp_path, store, batch_settings):
    prepare_batch(generated_articles(100), tmp_path / "requests.jsonl", store=store, settings=batch_settings)
    ids = [json.loads(line)["custom_id"] for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    invalid = {cid: n % 3 for n, cid in enumerate(ids[::7][:15])}
    answer_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl",
                lambda cid, body: bad_reply(invalid[cid], body) if cid in invalid else None)

    report = import_results(tmp_path / "results.jsonl", store=store)
    assert (report.stored, report.to_repair, report.failed, report.unknown, report.mismatched) == (85, 15, [], [], [])
    assert report.usage == Usage(prompt_tokens=100_000, completion_tokens=20_000, total_tokens=120_000)
    repair = tmp_path / "results.repair.jsonl"
    assert report.repair_files == [repair]
    lines = [json.loads(line) for line in repair.read_text().splitlines()]
    assert sorted(line["custom_id"] for line in lines) == sorted(cid.replace("-a1", "-a2") for cid in invalid)
    for line in lines:  # the bounded re-ask: article, last reply, only the problems
        messages = line["body"]["messages"]
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
        assert messages[3]["content"].startswith("Your reply had ")

    fixed = import_results(answer_file_path := tmp_path / "repair.results.jsonl", store=store) if answer_file(repair, tmp_path / "repair.results.jsonl") else None
    assert fixed is not None and (fixed.stored, fixed.repaired, fixed.to_repair) == (15, 15, 0)
    assert answer_file_path.exists()
    keys = keys_of(list(generated_articles(100)), batch_settings)
    assert store.cached_keys(keys) == set(keys)
    repaired_run = store.list_runs(limit=1)[0]
    detail = store.get_run(repaired_run.id)
    assert detail.run.status == "ok" and detail.run.attempts == 2 and len(detail.attempts) == 2
    assert detail.attempts[0].errors and not detail.attempts[1].errors
    assert detail.summary is not None and detail.summary.provenance.attempts == 2
    assert detail.summary.provenance.usage.total_tokens == 2400  # both attempts' tokens
    counts = table_counts(batch_settings.store_path)
    assert (counts["runs"], counts["results"], counts["statuses"]) == (100, 100, {"done": 100, "repair": 15})


def test_importing_the_same_file_twice_changes_nothing(tmp_path, store, batch_settings):
    prepare_batch(generated_articles(20), tmp_path / "requests.jsonl", store=store, settings=batch_settings)
    answer_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl",
                lambda cid, body: bad_reply(2, body) if cid.startswith(("0", "1", "2", "3", "4")) else None)
    first = import_results(tmp_path / "results.jsonl", store=store)
    before = table_counts(batch_settings.store_path)
    repair_before = (tmp_path / "results.repair.jsonl").read_bytes()
    second = import_results(tmp_path / "results.jsonl", store=store)
    assert table_counts(batch_settings.store_path) == before
    assert (tmp_path / "results.repair.jsonl").read_bytes() == repair_before  # the same re-asks again
    assert second.stored == 0 and second.already == 20 and second.to_repair == first.to_repair
    assert second.usage.total_tokens == 0


def test_unknown_and_mismatched_ids_are_reported_not_guessed(tmp_path, store, batch_settings):
    prepare_batch(generated_articles(3), tmp_path / "requests.jsonl", store=store, settings=batch_settings)
    ids = answer_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl")
    good = (tmp_path / "results.jsonl").read_text().splitlines()
    other = json.loads(good[1])
    other["response"]["body"]["model"] = "some-other-model"
    lines = [
        good[0],
        good[0],  # the same custom_id twice
        json.dumps(other),  # answered by another model
        result_line("0" * 32 + "-a1", completion("{}")),  # never prepared here
        result_line(ids[2].replace("-a1", "-a5"), completion("{}")),  # an attempt never issued
        "{not json",
        json.dumps({"response": {}}),
    ]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    report = import_results(tmp_path / "mixed.jsonl", store=store)
    assert report.stored == 1
    assert sorted(report.unknown) == sorted(["0" * 32 + "-a1", ids[2].replace("-a1", "-a5")])
    reasons = dict(report.mismatched)
    assert "more than once" in reasons[ids[0]]
    assert "some-other-model" in reasons[ids[1]]
    assert reasons["line 6"].startswith("not valid JSON") and reasons["line 7"] == "no custom_id"
    assert not report.ok
    assert table_counts(batch_settings.store_path)["results"] == 1


def test_attempts_carry_over_and_stop_at_max_attempts(tmp_path, store, tmp_path_factory):
    settings = Settings.load(base_url="http://127.0.0.1:9/v1", model="scripted", max_attempts=2, db_path=tmp_path / "store.db")
    prepare_batch(generated_articles(2), tmp_path / "r1.jsonl", store=store, settings=settings)
    answer_file(tmp_path / "r1.jsonl", tmp_path / "o1.jsonl", lambda cid, body: bad_reply(1, body))
    first = import_results(tmp_path / "o1.jsonl", store=store)
    assert first.to_repair == 2
    answer_file(tmp_path / "o1.repair.jsonl", tmp_path / "o2.jsonl", lambda cid, body: bad_reply(1, body))
    second = import_results(tmp_path / "o2.jsonl", store=store)
    assert second.to_repair == 0 and second.stored == 0 and len(second.failed) == 2
    assert all("still invalid after 2 attempts" in reason for _, _, reason in second.failed)
    assert not (tmp_path / "o2.repair.jsonl").exists()
    runs = store.list_runs()
    assert [r.status for r in runs] == ["failed", "failed"] and all(r.attempts == 2 for r in runs)
    assert runs[0].usage.total_tokens == 2400
    # A final failure is prepared afresh next time.
    again = prepare_batch(generated_articles(2), tmp_path / "r3.jsonl", store=store, settings=settings)
    assert again.requests == 2 and all(json.loads(l)["custom_id"].endswith("-a1") for l in (tmp_path / "r3.jsonl").read_text().splitlines())


def test_engine_errors_are_resent_or_failed(tmp_path, store, batch_settings):
    prepare_batch(generated_articles(3), tmp_path / "requests.jsonl", store=store, settings=batch_settings)
    ids = [json.loads(line)["custom_id"] for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    lines = [
        result_line(ids[0], {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}, status=429),
        json.dumps({"id": "x", "custom_id": ids[1], "response": None, "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}),
        result_line(ids[2], {"error": {"message": "This model's maximum context length is 4096 tokens", "code": "context_length_exceeded"}}, status=400),
    ]
    (tmp_path / "results.jsonl").write_text("\n".join(lines) + "\n")
    report = import_results(tmp_path / "results.jsonl", store=store)
    assert report.resent == 2 and len(report.failed) == 1 and "maximum context length" in report.failed[0][2]
    resend = [json.loads(line)["custom_id"] for line in (tmp_path / "results.repair.jsonl").read_text().splitlines()]
    assert resend == ids[:2]  # unchanged: no attempt was used


# -- the Batch API ------------------------------------------------------------------------------


def test_files_and_batches_flow_end_to_end(tmp_path, llm, batch_settings):
    settings = Settings.load(base_url=llm.base_url, api_key="test", model="scripted", db_path=tmp_path / "store.db")
    with Store(settings.store_path) as store:
        prepare_batch(generated_articles(5), tmp_path / "requests.jsonl", store=store, settings=settings)
        llm.enqueue(error(500), delay(0), {"headline": "no"})  # one engine error, one invalid reply
        job = batch_lib.submit_batch(tmp_path / "requests.jsonl", store=store, settings=settings)
        assert job["status"] == "validating" and store.get_batch_job(job["id"]).input_file == str(tmp_path / "requests.jsonl")
        updates = []
        done = batch_lib.wait_for_batch(job["id"], store=store, settings=settings, interval_s=0.01, on_update=lambda j: updates.append(j["status"]))
        assert done["status"] == "completed" and updates[-1] == "completed"
        # A later (cron) run finds the job in the store and collects it.
        [pending] = store.list_batch_jobs(uncollected=True)
        result = batch_lib.collect_batch(pending.id, store=store, settings=settings, out_dir=tmp_path / "out")
        assert [p.name for p in result.files] == [f"{job['id']}-output.jsonl", f"{job['id']}-errors.jsonl"]
        report = result.report
        assert (report.stored, report.to_repair, report.resent) == (3, 1, 1)
        assert store.list_batch_jobs(uncollected=True) == []
        summary = store.list_runs(limit=1)[0]
        assert summary.endpoint == f"127.0.0.1:{llm.port}"

        # The repair file goes through the same flow and finishes the job.
        repair = report.repair_files[0]
        job2 = batch_lib.submit_batch(repair, store=store, settings=settings)
        batch_lib.wait_for_batch(job2["id"], store=store, settings=settings, interval_s=0.01)
        second = batch_lib.collect_batch(job2["id"], store=store, settings=settings, out_dir=tmp_path / "out").report
        assert (second.stored, second.repaired, second.to_repair) == (2, 1, 0)
        keys = keys_of(list(generated_articles(5)), settings)
        assert store.cached_keys(keys) == set(keys)


def test_collect_leaves_a_running_job_alone(tmp_path, llm):
    settings = Settings.load(base_url=llm.base_url, api_key="test", model="scripted", db_path=tmp_path / "store.db")
    with Store(settings.store_path) as store:
        prepare_batch(generated_articles(2), tmp_path / "requests.jsonl", store=store, settings=settings)
        job = batch_lib.submit_batch(tmp_path / "requests.jsonl", store=store, settings=settings)
        result = batch_lib.collect_batch(job["id"], store=store, settings=settings, out_dir=tmp_path)
        assert result.report is None and result.job["status"] == "in_progress"
        assert [j.id for j in store.list_batch_jobs(uncollected=True)] == [job["id"]]


def test_collect_batches_takes_every_uncollected_job_once(tmp_path, llm):
    settings = Settings.load(base_url=llm.base_url, api_key="test", model="scripted", db_path=tmp_path / "store.db")
    with Store(settings.store_path) as store:
        prepare_batch(generated_articles(2), tmp_path / "requests.jsonl", store=store, settings=settings)
        job = batch_lib.submit_batch(tmp_path / "requests.jsonl", store=store, settings=settings)
        [(first, running)] = batch_lib.collect_batches(None, store=store, settings=settings, out_dir=tmp_path)
        assert first == job["id"] and running.report is None  # still running: asked again next time
        batch_lib.wait_for_batch(job["id"], store=store, settings=settings, interval_s=0.01)
        [(_, done)] = batch_lib.collect_batches(None, store=store, settings=settings, out_dir=tmp_path)
        assert done.report is not None and done.report.stored == 2
        assert list(batch_lib.collect_batches(None, store=store, settings=settings, out_dir=tmp_path)) == []


# -- the local runner ---------------------------------------------------------------------------


def test_run_with_injected_429s_completes_everything(tmp_path, llm):
    settings = Settings.load(base_url=llm.base_url, model="scripted", db_path=tmp_path / "store.db", retry_budget_s=30.0)
    with Store(settings.store_path) as store:
        prepare_batch(generated_articles(30), tmp_path / "requests.jsonl", store=store, settings=settings)
        llm.enqueue(
            error(429, headers={"Retry-After": "0.2"}),
            error(429, headers={"retry-after-ms": "150"}),
            error(429, headers={"x-ratelimit-reset-requests": "100ms", "x-ratelimit-remaining-requests": "0"}),
            error(503),
        )
        report = run_batch_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl", settings=settings, concurrency=4)
        assert (report.requests, report.ok, report.errors, report.rate_limited, report.retries) == (30, 30, 0, 3, 4)
        assert llm.chat_count == 34
        assert report.waited_s > 0  # the other workers paused too
        lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
        assert len(lines) == 30 and {line["response"]["status_code"] for line in lines} == {200}
        imported = import_results(tmp_path / "results.jsonl", store=store, endpoint=report.endpoint)
        assert imported.stored == 30 and imported.ok


def test_run_honours_rpm_and_gives_up_after_the_budget(tmp_path, llm):
    settings = Settings.load(base_url=llm.base_url, model="scripted", db_path=tmp_path / "store.db", retry_budget_s=0.5, max_transport_retries=2)
    with Store(settings.store_path) as store:
        prepare_batch(generated_articles(3), tmp_path / "requests.jsonl", store=store, settings=settings)
    llm.enqueue(error(429, headers={"Retry-After": "0.05"}), error(429, headers={"Retry-After": "0.05"}), error(429, headers={"Retry-After": "0.05"}))
    report = run_batch_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl", settings=settings, concurrency=1, rpm=600)
    assert report.errors == 1 and report.ok == 2
    first = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[0])
    assert first["response"]["status_code"] == 429
    # --resume sends only what is missing.
    again = run_batch_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl", settings=settings, resume=True)
    assert (again.skipped, again.ok) == (2, 1)


def test_rate_limit_helpers():
    assert batch_lib.parse_reset("6m0s") == 360 and batch_lib.parse_reset("20ms") == 0.02 and batch_lib.parse_reset("1.5s") == 1.5
    assert __import__("summariser.llm", fromlist=["x"]).retry_after_s({"retry-after": "2"}) == 2.0


def test_price_table():
    from genai_prices import Usage as TokenUsage, calc_price

    listed = calc_price(TokenUsage(input_tokens=10**6, output_tokens=10**6), model_ref="gpt-4o-mini", provider_id="openai")
    assert batch_lib.price_for("gpt-4o-mini") == (float(listed.input_price), float(listed.output_price))
    assert batch_lib.price_for("gpt-4o-mini-2024-07-18") == batch_lib.price_for("openai/gpt-4o-mini") == batch_lib.price_for("gpt-4o-mini")
    assert batch_lib.price_for("gpt-4o") != batch_lib.price_for("gpt-4o-mini")
    assert batch_lib.price_for("Qwen/Qwen2.5-7B-Instruct") is None
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, total_tokens=2_000_000)
    full = float(listed.input_price + listed.output_price)
    assert batch_lib.estimate_cost("gpt-4o-mini", usage) == pytest.approx(full / 2)  # Batch API: half price
    assert batch_lib.estimate_cost("gpt-4o-mini", usage, batch=False) == pytest.approx(full)
    assert batch_lib.format_cost({"scripted": None}) == "n/a"


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_prepare_run_import(tmp_path, llm, capsys):
    articles = tmp_path / "articles"
    articles.mkdir()
    for article in generated_articles(4):
        (articles / Path(article.source).name).write_text(article.text)
    db = str(tmp_path / "store.db")
    assert main(["batch", "prepare", str(articles), "--out", str(tmp_path / "requests.jsonl"), "--model", "scripted", "--db", db]) == 0
    code = main(["batch", "run", str(tmp_path / "requests.jsonl"), "--out", str(tmp_path / "results.jsonl"),
                 "--base-url", llm.base_url, "--db", db, "--import", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ok"] == 4 and report["import"]["stored"] == 4 and report["import"]["estimated_cost"] == "n/a"
    assert main(["batch", "import", str(tmp_path / "results.jsonl"), "--db", db, "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip())
    assert again["stored"] == 0 and again["already_imported"] == 4


def test_cli_collect_imports_each_finished_job_then_has_nothing_to_collect(tmp_path, llm, capsys):
    settings = Settings.load(base_url=llm.base_url, api_key="test", model="scripted", db_path=tmp_path / "store.db")
    with Store(settings.store_path) as store:
        prepare_batch(generated_articles(2), tmp_path / "requests.jsonl", store=store, settings=settings)
        job = batch_lib.submit_batch(tmp_path / "requests.jsonl", store=store, settings=settings)
        batch_lib.wait_for_batch(job["id"], store=store, settings=settings, interval_s=0.01)
    args = ["batch", "collect", "--out-dir", str(tmp_path), "--base-url", llm.base_url, "--db", str(settings.store_path)]
    assert main([*args, "--json"]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    collected = json.loads(line)
    assert (collected["id"], collected["collected"], collected["report"]["stored"]) == (job["id"], True, 2)
    assert main(args) == 0
    assert "Nothing to collect" in capsys.readouterr().err


def test_cli_import_of_unknown_ids_exits_1(tmp_path, capsys):
    (tmp_path / "results.jsonl").write_text(result_line("f" * 32 + "-a1", completion("{}")) + "\n")
    assert main(["batch", "import", str(tmp_path / "results.jsonl"), "--db", str(tmp_path / "s.db")]) == 1
    assert "unknown" in capsys.readouterr().err


def test_every_batch_command_has_help():
    command = typer.main.get_command(batch_app)
    for name, sub in command.commands.items():
        assert sub.help and sub.help.strip(), name


def test_run_on_check_matches_the_regex_it_replaces():
    """session._runs_on is the import hot-spot fix: it must answer exactly like _RUN_ON."""
    import random

    from summariser.session import _RUN_ON, _runs_on

    rng = random.Random(7)
    for _ in range(3000):
        alphabet = rng.choice(["ab", "abcdefgh", 'xyz "{}:,'])
        noise = lambda: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))  # noqa: E731
        unit = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        text = (noise() + unit * rng.randint(1, 5) + noise())[-400:]
        assert _runs_on(text) == bool(_RUN_ON.search(text)), text
    assert _runs_on('{"a": "' + "the same long phrase again, " * 3 + '"}')
    assert not _runs_on("")


async def test_rate_limiter_buckets_and_server_pause():
    import time as clock

    limiter = batch_lib.RateLimiter(tpm=600)  # a full bucket of 600 tokens, refilled at 10 a second
    await limiter.acquire(600)
    started = clock.monotonic()
    await limiter.acquire(5)  # ~0.5 s until 5 tokens have leaked back
    assert 0.3 < clock.monotonic() - started < 3 and limiter.waited_s > 0.3
    limiter = batch_lib.RateLimiter(rpm=600)
    limiter.pause(0.3)  # the server said: wait
    started = clock.monotonic()
    await limiter.acquire(1)
    assert clock.monotonic() - started >= 0.29


# -- evidence by reference (article@6): one request per attempt, repairs of failed items ----------


def test_refs_prompt_batch_repairs_only_the_failed_items(tmp_path):
    settings = Settings.load(base_url="http://127.0.0.1:9/v1", model="scripted", db_path=tmp_path / "store.db", prompt="article@6")
    articles = list(generated_articles(6))
    with Store(settings.store_path) as store:
        prepare_batch(iter(articles), tmp_path / "requests.jsonl", store=store, settings=settings)
        lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
        assert {line["body"]["response_format"]["json_schema"]["name"] for line in lines} == {"article_refs"}
        broken = {lines[1]["custom_id"], lines[4]["custom_id"]}

        def invented_name(cid: str, body: dict[str, Any]) -> str | None:
            if cid not in broken:
                return None
            good = grounded_responder(body)
            good["participants"].insert(1, {"name": "Zanzibar Trading Company", "kind": "organisation", "role": "invented"})
            return json.dumps(good)

        answer_file(tmp_path / "requests.jsonl", tmp_path / "results.jsonl", invented_name)
        report = import_results(tmp_path / "results.jsonl", store=store)
        assert (report.stored, report.to_repair) == (4, 2)
        repair = [json.loads(line) for line in (tmp_path / "results.repair.jsonl").read_text().splitlines()]
        for line in repair:
            body = line["body"]
            original = next(l["body"] for l in lines if l["custom_id"] == line["custom_id"].replace("-a2", "-a1"))
            assert body["messages"][:2] == original["messages"][:2]  # same prefix: prompt cache
            assert body["messages"][3]["content"].startswith("1 item of your reply must be replaced:\n- participants[1] ")
            assert body["response_format"]["json_schema"]["name"] == "article_repair"

        def replacement(cid: str, body: dict[str, Any]) -> str:
            first_name = json.loads(body["messages"][2]["content"])["participants"][0]
            return json.dumps({"participants": [{**first_name, "role": "named again"}]})

        answer_file(tmp_path / "results.repair.jsonl", tmp_path / "repair.results.jsonl", replacement)
        fixed = import_results(tmp_path / "repair.results.jsonl", store=store)
        assert (fixed.stored, fixed.repaired, fixed.to_repair) == (2, 2, 0)
        assert store.cached_keys(keys_of(articles, settings)) == set(keys_of(articles, settings))
        run = store.list_runs(limit=1)[0]
        summary = store.get_run(run.id).summary
        assert summary is not None and summary.provenance.attempts == 2
        assert [(r.kind, r.repaired) for r in summary.provenance.requests] == [("full", []), ("repair", ["participants[1]"])]
        assert "Zanzibar Trading Company" not in [p.name for p in summary.participants]
        assert all(f.quote_start is not None for f in summary.key_facts)


# -- the runner's transport loop (batch.runner._send) under llm.retry.RetryPolicy -----------------


def _sent(handler, *, policy, limiter=None):
    import asyncio

    import httpx

    from summariser.batch.runner import RunReport, _send
    from summariser.llm.retry import RetryPolicy

    report = RunReport()

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await _send(client, "http://engine/v1/chat/completions", {"messages": []},
                               limiter=limiter or batch_lib.RateLimiter(), policy=RetryPolicy(**policy), report=report)

    response, error = asyncio.run(go())
    return response, error, report


def test_the_runner_retries_what_the_policy_retries_and_keeps_the_last_answer():
    import httpx

    statuses = iter([503, 429, 200])
    response, error, report = _sent(lambda request: httpx.Response(next(statuses), headers={"retry-after": "0"}, json={}),
                                    policy={"max_retries": 5, "budget_s": 10.0})
    assert response.status_code == 200 and error is None and (report.retries, report.rate_limited) == (2, 1)
    response, error, report = _sent(lambda request: httpx.Response(400, json={}), policy={"max_retries": 5, "budget_s": 10.0})
    assert response.status_code == 400 and report.retries == 0  # not worth another try
    response, error, report = _sent(lambda request: httpx.Response(500, headers={"retry-after": "0"}, json={}),
                                    policy={"max_retries": 2, "budget_s": 10.0})
    assert response.status_code == 500 and report.retries == 2  # the last answer is kept for the result line


def test_the_runner_gives_a_refused_connection_the_policy_s_few_quick_tries():
    import httpx

    from summariser.llm.retry import CONNECT_TRIES

    calls = []

    def refuse(request):
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    response, error, report = _sent(refuse, policy={"max_retries": 10, "budget_s": 60.0})
    assert response is None and error["code"] == "connection_error"
    assert len(calls) == CONNECT_TRIES and report.retries == CONNECT_TRIES - 1


def test_prepare_sources_lists_unreadable_inputs_then_refused_articles(tmp_path, store):
    settings = Settings.load(base_url="http://127.0.0.1:9/v1", model="scripted", db_path=tmp_path / "store.db", max_chars=5000)
    folder = tmp_path / "articles"
    folder.mkdir()
    article = next(generated_articles(1))
    (folder / "good.txt").write_text(article.text)
    (folder / "long.txt").write_text("A sentence that goes on. " * 400)
    report = batch_lib.prepare_sources([str(folder), str(tmp_path / "missing.txt")], tmp_path / "requests.jsonl", store=store, settings=settings)
    assert (report.articles, report.requests) == (2, 1)
    assert [e.split(":")[0] for e in report.input_errors] == [str(tmp_path / "missing.txt"), str(folder / "long.txt")]
    as_json = report.to_dict()  # what `batch prepare --json` prints
    assert list(as_json) == ["articles", "requests", "cached", "in_flight", "duplicates", "files", "model", "prompt", "input_errors"]
    assert as_json["files"] == [str(tmp_path / "requests.jsonl")] and as_json["input_errors"] == report.input_errors
