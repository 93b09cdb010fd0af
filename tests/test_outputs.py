"""What summarise writes per article (summariser.outputs) and the summarise job (summariser.job)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from summariser.article import Article
from summariser.errors import InputError, SummaryFailed
from summariser.extract import Outcome
from summariser.job import SummariseJob
from summariser.outputs import OutputDir, failure_record, outcome_failure_record
from summariser.schema import ArticleSummary
from summariser.schemafiles import published_schemas
from summariser.testing import FakeModel, error
from test_store import make_article, make_summary

from conftest import SEEDS


def test_output_dir_names_each_file_after_its_source_once(tmp_path: Path) -> None:
    out = OutputDir(tmp_path / "new" / "dir")  # made with its parents
    paths = []
    for source in ("a/story.txt", "b/story.html", None, "https://x.example/p?q=1 two", ""):
        article = Article(text=f"text of {source}", source=source)
        paths.append(out.write(make_summary(article), article))
    assert [p.name for p in paths] == ["story.json", "story-2.json", "stdin.json", "p_q_1_two.json", "stdin-2.json"]
    assert out.files == 5 and out.pages == 0
    assert ArticleSummary.model_validate_json(paths[0].read_text(encoding="utf-8")).provenance.source.path == "a/story.txt"
    assert paths[0].read_text(encoding="utf-8").endswith("}\n")


def test_output_dir_writes_the_evidence_page_beside_the_json(tmp_path: Path) -> None:
    out = OutputDir(tmp_path)
    article = make_article(1)
    path = out.write(make_summary(article), article, page=True)
    assert path.with_suffix(".html").read_text(encoding="utf-8").lower().startswith("<!doctype html>")
    assert (out.files, out.pages) == (1, 1)


def test_output_dir_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"--out .*f is a file: pass a directory"):
        OutputDir(tmp_path / "f")


def test_failure_records_follow_the_published_schema() -> None:
    schema = published_schemas()["article-error.schema.json"]
    record = failure_record("x.txt", "InputError", "cannot read x.txt")
    Draft202012Validator(schema).validate(record)
    assert record["error"] == {"path": "x.txt", "kind": "InputError", "message": "cannot read x.txt", "attempts": 0}
    failed = SummaryFailed("no valid reply").with_cost(attempts=3, usage=None, attempt_log=[1, 2])
    from_outcome = outcome_failure_record(Outcome(article=make_article(2), error=failed), "explained")
    Draft202012Validator(schema).validate(from_outcome)
    assert from_outcome["error"]["kind"] == "SummaryFailed" and from_outcome["error"]["attempts"] == 2  # the log wins


def _articles() -> list[Article]:
    return [Article(text=p.read_text(encoding="utf-8"), source=str(p)) for p in sorted(SEEDS.glob("*.txt"))[:2]]


def test_a_job_summarises_into_the_store_and_closes_it(tmp_path: Path) -> None:
    fake = FakeModel()
    settings = fake.settings(db_path=tmp_path / "runs.db")
    articles = _articles()
    with SummariseJob(articles, settings, client=fake.client(settings)) as job:
        outcomes = list(job.outcomes())
        assert job.stored and job.store is not None
    assert [o.article.source for o in outcomes] == [a.source for a in articles]  # concurrency 1: input order
    assert all(o.summary is not None for o in outcomes) and fake.chat_count == 2
    with pytest.raises(Exception):  # closed with the job
        job.store.list_runs()
    with SummariseJob(articles, settings, client=fake.client(settings)) as again:
        assert all(o.cached for o in again.outcomes()) and fake.chat_count == 2  # read from the store


def test_a_job_without_a_store_or_articles_opens_none(tmp_path: Path) -> None:
    fake = FakeModel()
    settings = fake.settings(db_path=tmp_path / "runs.db")
    fake.enqueue(error(400, code="context_length_exceeded"))  # fails this article, not the run
    with SummariseJob(_articles()[:1], settings, use_store=False, client=fake.client(settings)) as job:
        (outcome,) = job.outcomes()
    assert not job.stored and outcome.error is not None and not (tmp_path / "runs.db").exists()
    with SummariseJob([], settings, client=fake.client(settings)) as empty:
        assert list(empty.outcomes()) == [] and not empty.stored
    assert not (tmp_path / "runs.db").exists()


def test_a_job_hands_out_outcomes_only_inside_its_with_block() -> None:
    fake = FakeModel()
    job = SummariseJob([], fake.settings())
    with pytest.raises(RuntimeError, match="inside `with SummariseJob"):
        job.outcomes()
