"""Tests for summariser.evaluate and `summariser eval`, on tiny hand-written datasets."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from summariser.errors import InputError, SummaryFailed
from summariser.evaluate import (
    EvalDoc,
    GoldEntity,
    GoldStance,
    Prediction,
    extract_entities,
    load_dataset,
    match_participants,
    name_match_score,
    normalise_name,
    run_eval,
    score_doc,
)
from summariser.schema import ArticleSummary

GUM_TEXT = "The United Nations met in Geneva. Secretary-General António Guterres spoke. The police said little."
NEWS_FAIR_TEXT = "Anna Berg runs Nordvik Mining in Oslo. Later, Nordvik Mining hired Tom Lund in Bergen."
ROSE_TEXT = "A storm hit the coast on Monday. Ten homes were destroyed. The mayor asked for federal aid."
BASIL_TEXT = "Senator Jane Doe attacked Governor Max Roe over taxes. An aide praised Roe."
WIKIEVENTS_TEXT = "Rebels attacked a base near Kadar. The army said Colonel Omar Said was killed."


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def datasets(tmp_path: Path) -> dict[str, Path]:
    span_start = NEWS_FAIR_TEXT.index("Later")
    return {
        "rose": write_jsonl(
            tmp_path / "rose.jsonl",
            [{"example_id": "r1", "source": ROSE_TEXT, "reference": "x", "reference_acus": [
                "A storm hit the coast.", "Ten homes were destroyed.", "The mayor asked for federal aid."]}],
        ),
        "gum": write_jsonl(
            tmp_path / "gum.jsonl",
            [{"doc_id": "g1", "text": GUM_TEXT, "human_summaries": ["x"], "entities": [
                {"etype": "organization", "mentions": ["The United Nations"], "n_human_summaries_mentioning": 1},
                {"etype": "person", "mentions": ["Secretary-General António Guterres", "he"], "n_human_summaries_mentioning": 1},
                {"etype": "place", "mentions": ["Geneva"], "n_human_summaries_mentioning": 0},
                {"etype": "abstract", "mentions": ["Peace"], "n_human_summaries_mentioning": 2},
                {"etype": "organization", "mentions": ["The police"], "n_human_summaries_mentioning": 1},
            ]}],
        ),
        "news_fair": write_jsonl(
            tmp_path / "nf.jsonl",
            [{"id": 7, "text": NEWS_FAIR_TEXT, "evaluation_span": [span_start, len(NEWS_FAIR_TEXT)], "named_entities": [
                {"qid": "Q1", "type_group": "organization", "mentions": ["Nordvik Mining"]},
                {"qid": "Q2", "type_group": "person", "mentions": ["Tom Lund"]},
                {"qid": "Q3", "type_group": "location", "mentions": ["Bergen"]},
            ]}],
        ),
        "wikievents": write_jsonl(
            tmp_path / "we.jsonl",
            [{"doc_id": "w1", "text": WIKIEVENTS_TEXT, "events": [], "entities": [
                {"cluster_id": 0, "type": "PER", "mentions": ["Colonel Omar Said", "Said"]},
                {"cluster_id": 1, "type": "GPE", "mentions": ["Kadar"]},
                {"cluster_id": 2, "type": "ORG", "mentions": ["army"]},
                {"cluster_id": 3, "type": "WEA", "mentions": ["Rifle"]},
            ]}],
        ),
        "basil": write_jsonl(
            tmp_path / "basil.jsonl",
            [{"id": "b1", "text": BASIL_TEXT, "quote_stances": [
                {"speaker": "Jane_Doe", "target": "Max_Roe", "polarity": "neg", "txt": "x"},
                {"speaker": "other_pro", "target": "Max_Roe", "polarity": "pos", "txt": "y"},
            ]}],
        ),
    }


# -- datasets -----------------------------------------------------------------------------------


def test_formats_are_detected_from_fields(datasets):
    rose, = load_dataset(datasets["rose"])
    assert rose.gold_acus and rose.gold_participants is None and rose.text == ROSE_TEXT
    gum, = load_dataset(datasets["gum"])
    # key = mentioned by a human summary; people/organisations/places; named only (not "the police")
    assert [e.mentions[0] for e in gum.gold_participants] == ["The United Nations", "Secretary-General António Guterres"]
    we, = load_dataset(datasets["wikievents"])
    assert [e.kind for e in we.gold_participants] == ["person", "country"]  # nominal "army", WEA dropped
    basil, = load_dataset(datasets["basil"])
    assert basil.gold_stances == [GoldStance("Jane Doe", "Max Roe", "neg")]  # other_ speakers skipped
    assert all(d.dataset == p.stem for p in datasets.values() for d in load_dataset(p))


def test_news_fair_scores_only_entities_inside_the_span(datasets):
    doc, = load_dataset(datasets["news_fair"])
    assert doc.id == "7"
    assert [e.mentions for e in doc.gold_participants] == [("Nordvik Mining",), ("Tom Lund",), ("Bergen",)]
    # Anna Berg and Oslo are outside the span: not gold, and not held against precision either.
    prediction = Prediction(participants=[["Anna Berg"], ["Oslo"], ["Nordvik Mining"], ["Tom Lund"]])
    result = score_doc(doc, prediction)
    assert result.participant_recall == pytest.approx(2 / 3)
    assert result.participant_precision == 1.0


def test_unknown_format_and_missing_file_are_input_errors(tmp_path):
    bad = write_jsonl(tmp_path / "odd.jsonl", [{"title": "x", "body": "y"}])
    with pytest.raises(InputError, match=r"odd\.jsonl.*expected one of.*reference_acus"):
        load_dataset(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "missing.jsonl")


# -- matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "mention"),
    [
        ("UN", "United Nations"),  # acronym
        ("U.S.", "the United States"),  # dotted acronym, leading "the"
        ("Obama", "Barack Obama"),  # last name
        ("President Barack Obama", "Obama"),  # token subset the other way, title ignored
        ("Trump's", "Donald Trump"),  # possessive
        ("the Taliban", "Taliban"),  # leading "the"
        ("Recep Tayyip Erdogan", "Recep Tayyip Erdoğan"),  # accents
        ("Zabiullah Mujahid", "Zabihullah Mujahid"),  # fuzzy spelling
    ],
)
def test_name_matching_rules(predicted, mention):
    assert name_match_score(predicted, mention) > 0


@pytest.mark.parametrize(("predicted", "mention"), [("Obama", "Joe Biden"), ("We", "we"), ("Paris", "Berlin")])
def test_name_matching_rejects(predicted, mention):
    assert name_match_score(predicted, mention) == 0


def test_match_tiers_prefer_exact_over_subset_and_fuzzy():
    assert name_match_score("Obama", "Obama") > name_match_score("UN", "United Nations") > name_match_score(
        "Obama", "Barack Obama"
    ) > name_match_score("Zabiullah Mujahid", "Zabihullah Mujahid")
    assert normalise_name("The Afghan team 's") == "afghan team"


def test_each_cluster_matches_once_best_first():
    clusters = [["Barack Obama"], ["Michelle Obama"]]
    assigned, matching = match_participants([["Obama"], ["Barack Obama"]], clusters)
    # In list order "Obama" would take cluster 0 and leave "Barack Obama" nothing; best-first gives
    # cluster 0 to the exact match, and "Obama" gets Michelle's cluster through the subset rule.
    assert assigned == {1: 0, 0: 1}
    assert matching == {0, 1}
    assigned, _ = match_participants([["Obama"], ["Obama"]], [["Barack Obama"]])
    assert len(assigned) == 1


def test_invented_names_and_aliases():
    doc = EvalDoc("d", "t", "Moscow and Beijing signed a deal.", gold_participants=[GoldEntity(("Russia", "Moscow"), "country")])
    prediction = Prediction(participants=[["Russia", "Moscow"], ["Atlantis"]])
    result = score_doc(doc, prediction)
    assert result.participant_recall == 1.0
    assert result.invented_rate == 0.5  # "Russia" is not in the text but its alias "Moscow" is
    assert result.participant_precision == 0.5


# -- key facts and stances ------------------------------------------------------------------------


def test_acu_recall_with_the_fuzzy_matcher(datasets):
    doc, = load_dataset(datasets["rose"])
    prediction = Prediction(summary_text="Ten homes were destroyed when a storm hit the coast.", fact_texts=["Storm damage."])
    result = score_doc(doc, prediction, acu_threshold=75)
    assert result.keyfact_recall == pytest.approx(2 / 3)
    assert len(result.acu_scores) == 3 and result.acu_scores[2] < 75
    # A paraphrase scores lower: the threshold trades recall for precision (calibrate it on a judge).
    paraphrase = Prediction(summary_text="A storm struck the coast on Monday, destroying ten homes.")
    assert score_doc(doc, paraphrase, acu_threshold=75).keyfact_recall == pytest.approx(1 / 3)
    assert score_doc(doc, paraphrase, acu_threshold=50).keyfact_recall == pytest.approx(2 / 3)


def test_judge_hook_is_reported_next_to_the_fuzzy_recall(datasets):
    doc, = load_dataset(datasets["rose"])
    seen = []

    def judge(acu: str, summary_text: str) -> bool:
        seen.append(acu)
        return "mayor" in acu

    result = score_doc(doc, Prediction(summary_text="A storm hit the coast.", fact_texts=[]), judge=judge)
    assert seen == doc.gold_acus
    assert result.keyfact_recall_judge == pytest.approx(1 / 3)
    assert result.judge_agreement is not None


def test_stance_triples_and_polarity():
    doc = EvalDoc("b", "basil", BASIL_TEXT, gold_stances=[GoldStance("Jane Doe", "Max Roe", "neg"), GoldStance("Max Roe", "Jane Doe", "pos")])
    prediction = Prediction(
        stances=[
            (["Jane Doe", "Doe"], "Governor Roe's tax plan", "neg"),  # free-text target holding the surname
            (["Roe"], "Senator Doe", None),  # mixed: the pair matches, the polarity cannot
        ]
    )
    result = score_doc(doc, prediction)
    assert result.stance_recall == 0.5
    assert result.stance_polarity_accuracy == 0.5


# -- runner and report -----------------------------------------------------------------------------


def make_summary(participants: list[str], *, attempts: int = 1, tokens: int = 900) -> ArticleSummary:
    return ArticleSummary.model_validate(
        {
            "headline": "A storm hit the coast",
            "summary": "A storm hit the coast on Monday. Ten homes were destroyed.",
            "key_facts": [{"statement": "Ten homes were destroyed.", "quote": "Ten homes were destroyed."}],
            "participants": [{"name": n, "kind": "person", "role": "x", "aliases": []} for n in participants],
            "stances": [{"holder": "Jane Doe", "target": "Max Roe", "position": "opposes", "quote": "attacked"}],
            "provenance": {
                "prompt": "article", "prompt_version": 2, "prompt_sha256": "0" * 64, "schema_version": "1.0",
                "model": "fake-model", "endpoint": "127.0.0.1:1", "attempts": attempts,
                "usage": {"prompt_tokens": tokens - 100, "completion_tokens": 100, "total_tokens": tokens},
                "duration_s": 2.5, "source": {"path": None, "sha256": "0" * 64, "length": 10},
                "created_at": datetime(2025, 1, 1, tzinfo=timezone.utc).isoformat(),
            },
            "grounding": {"verified": [], "unverified": [], "grounding_rate": 0.75, "fuzzy_matches": 0},
        }
    )


def test_run_eval_report_shape(datasets):
    docs = [d for p in datasets.values() for d in load_dataset(p)]

    def llm(doc: EvalDoc) -> ArticleSummary:
        if doc.dataset == "we":
            raise SummaryFailed("replies still invalid after 3 attempts", attempts=3)
        return make_summary(["Jane Doe", "United Nations"], attempts=2 if doc.dataset == "gum" else 1)

    def names_only(doc: EvalDoc) -> Prediction:
        return Prediction(participants=[["Tom Lund"], ["UN"]])

    report = run_eval(docs, {"article@2": llm, "names": names_only}, limit=1)
    metrics = report.metrics()
    assert set(metrics) == {"article@2", "names"}
    assert set(metrics["names"]) == {"rose", "gum", "nf", "we", "basil", "overall"}
    llm_metrics = metrics["article@2"]
    assert llm_metrics["we"]["failures"] == 1 and llm_metrics["we"]["participant_recall"] == 0.0
    assert llm_metrics["basil"]["stance_recall"] == 1.0
    assert llm_metrics["overall"]["grounding_rate"] == 0.75
    assert llm_metrics["overall"]["valid_first_attempt"] == pytest.approx(3 / 5)  # gum took 2, we failed
    assert llm_metrics["overall"]["tokens"] == 900
    assert metrics["names"]["rose"]["keyfact_recall"] is None  # not applicable

    markdown = report.to_markdown()
    assert "| article@2 | fake-model | article@2 | 5 | 1 |" in markdown
    assert "### Participant recall" in markdown and "### Stance triple recall" in markdown
    assert "| system | rose | gum | nf | we | basil | overall |" in markdown
    names_recall_row = next(line for line in markdown.splitlines() if line.startswith("| names |"))
    assert "\u2013" in names_recall_row
    assert "SummaryFailed: replies still invalid" in markdown
    payload = json.loads(report.to_json())
    assert set(payload) == {"created_at", "settings", "datasets", "systems", "metrics", "documents"}
    assert payload["datasets"] == {"rose": 1, "gum": 1, "nf": 1, "we": 1, "basil": 1}
    assert len(payload["documents"]) == 10
    assert ROSE_TEXT not in report.to_json()  # reports never carry article texts


# -- the NER baseline (real spaCy model) --------------------------------------------------------------


def test_ner_baseline_on_a_short_text():
    pytest.importorskip("spacy")
    text = "Barack Obama met Angela Merkel in Berlin on Tuesday. Obama praised the United Nations."
    groups = extract_entities(text)
    flat = [n for g in groups for n in g]
    assert "Berlin" in flat and "Angela Merkel" in flat
    obama = next(g for g in groups if "Barack Obama" in g)
    assert "Obama" in obama  # the short name is merged into the long one
    assert "Tuesday" not in flat  # dates are not participants


# -- the CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def eval_app():
    import typer

    from summariser.cli.eval import eval_command

    app = typer.Typer()
    app.command("eval")(eval_command)
    app.command("noop")(lambda: None)  # two commands, so "eval" stays a subcommand as in the real app
    return app


def test_cli_writes_reports_with_a_fake_system(datasets, tmp_path, monkeypatch, eval_app):
    from typer.testing import CliRunner

    import summariser.extract

    calls = []

    def fake_summarise_article(text, *, settings=None, source=None, prompt=None, store=None):
        calls.append((source, prompt.ref))
        return make_summary(["Tom Lund"])

    monkeypatch.setattr(summariser.extract, "summarise_article", fake_summarise_article)
    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    out = tmp_path / "report"
    result = CliRunner().invoke(
        eval_app,
        ["eval", str(datasets["news_fair"]), str(datasets["rose"]), "-p", "article@1", "-p", "article@2",
         "--no-baseline", "--no-store", "--base-url", "http://127.0.0.1:9/v1", "-m", "fake", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert {p for _, p in calls} == {"article@1", "article@2"} and len(calls) == 4
    assert ("nf:7", "article@1") in calls
    markdown = (out / "report.md").read_text()
    assert "| article@1 |" in markdown and "| article@2 |" in markdown
    assert json.loads((out / "report.json").read_text())["metrics"]["article@2"]["nf"]["participant_recall"] == pytest.approx(1 / 3)
    assert "# Evaluation report" in result.output


def test_cli_missing_dataset_is_an_input_error(tmp_path, eval_app):
    from typer.testing import CliRunner

    result = CliRunner().invoke(eval_app, ["eval", str(tmp_path / "nope.jsonl"), "--no-llm"])
    assert isinstance(result.exception, InputError)
    assert "nope.jsonl does not exist" in str(result.exception)


def test_cli_unknown_prompt_fails_before_any_document(datasets, tmp_path, monkeypatch, eval_app):
    from typer.testing import CliRunner

    from summariser.errors import PromptError

    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(
        eval_app, ["eval", str(datasets["rose"]), "-p", "article@99", "--no-baseline", "--no-store",
                   "--base-url", "http://127.0.0.1:9/v1", "-m", "fake", "--out", str(tmp_path / "r")],
    )
    assert isinstance(result.exception, PromptError) and "no prompt article@99" in str(result.exception)
    assert not (tmp_path / "r").exists()


def test_llm_judge_asks_the_endpoint_yes_or_no(tmp_path, monkeypatch):
    from summariser.config import Settings
    from summariser.evaluate import llm_judge
    from summariser.testing import ScriptedLLM, reply

    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    with ScriptedLLM() as llm:
        llm.enqueue(reply({"supported": True}), reply({"supported": False}), reply("not json"))
        judge = llm_judge(Settings.load(env={}, base_url=llm.base_url, model="judge"))
        assert judge("Tom Lund won.", "Tom Lund won the race.") is True
        assert judge("It rained.", "Tom Lund won the race.") is False
        assert judge("It rained.", "Tom Lund won the race.") is False  # unreadable verdict: not supported
        body = llm.requests[0]
        assert body["response_format"]["json_schema"]["name"] == "verdict"
        assert "Fact: Tom Lund won." in body["messages"][1]["content"]


# Every public name the single-module summariser/evaluate.py had (before it became a package).
EVALUATE_NAMES_BEFORE_THE_SPLIT = (
    "DASH DEFAULT_ACU_THRESHOLD DEFAULT_NAME_FUZZY_THRESHOLD DocResult EvalDoc EvalReport GUM_KINDS GoldEntity "
    "GoldStance Judge METRICS Metric NER_LABELS NER_MODEL_LABEL NEWS_FAIR_KINDS OVERALL Prediction SystemFn "
    "SystemInfo WIKIEVENTS_KINDS detect_format extract_entities is_named_cluster llm_judge load_dataset "
    "load_datasets match_participants name_match_score ner_baseline normalise_name occurs_in run_eval score_doc"
).split()


@pytest.mark.parametrize("name", EVALUATE_NAMES_BEFORE_THE_SPLIT)
def test_evaluate_package_keeps_every_name_the_module_had(name):
    namespace: dict[str, object] = {}
    exec(f"from summariser.evaluate import {name}", namespace)  # what a user or bench/ writes
    assert namespace[name] is not None


def test_evaluate_all_names_only_what_the_package_has():
    import summariser.evaluate as evaluate

    assert evaluate.__all__ == sorted(evaluate.__all__)
    added_since = {"model_judge", "plan_eval", "EvalPlan"}  # the judge over any ChatModel; what the CLI calls
    assert set(evaluate.__all__) <= set(EVALUATE_NAMES_BEFORE_THE_SPLIT) | added_since
    assert all(hasattr(evaluate, name) for name in evaluate.__all__)


def test_evaluate_submodules_import_one_way():
    """datasets and matching are the base of the package: they import no scoring, report or run code."""
    import ast
    import importlib

    order = ["matching", "datasets", "judge", "metrics", "report", "baseline", "run"]
    for position, name in enumerate(order):
        module = importlib.import_module(f"summariser.evaluate.{name}")
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        siblings = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
        assert siblings <= set(order[:position]), f"evaluate/{name}.py imports {siblings - set(order[:position])}"


def test_model_judge_goes_through_the_models_transport_policy():
    """A 429 is retried by the ChatClient's one RetryPolicy, as for summaries; the body is the verdict request."""
    from summariser.evaluate import model_judge
    from summariser.testing import FakeModel, error, reply

    fake = FakeModel()
    fake.enqueue(error(429, headers={"Retry-After": "0"}), reply({"supported": True}), reply({"supported": False}))
    judge = model_judge(fake.client(fake.settings(model="judge-model")))
    assert judge("Tom Lund won.", "Tom Lund won the race.") is True
    assert fake.chat_count == 2  # the 429, then the verdict
    assert judge("It rained.", "Tom Lund won the race.") is False
    body = fake.requests[-1]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["max_tokens"] == 12
    assert body["response_format"]["json_schema"]["name"] == "verdict"
    assert body["messages"][1]["content"] == "Summary:\nTom Lund won the race.\n\nFact: It rained."


class _TinyModel:
    """The smallest ChatModel: answers from a list, remembers each body."""

    def __init__(self, *contents: str | None, model: str | None = "tiny") -> None:
        self.contents, self.bodies, self._model = list(contents), [], model

    @property
    def model(self) -> str | None:
        return self._model

    def complete(self, body):
        from summariser.llm import Reply

        self.bodies.append(body)
        return Reply(content=self.contents.pop(0))

    async def acomplete(self, body):
        return self.complete(body)

    def close(self) -> None:
        pass


def test_model_judge_counts_only_a_clear_yes():
    from summariser.evaluate import model_judge
    from summariser.llm import ChatModel

    model = _TinyModel('{"supported": true}', '{"supported": "yes"}', "[true]", None, "not json", '{"supported": false}')
    assert isinstance(model, ChatModel)
    judge = model_judge(model, model_name="named")
    assert [judge("fact", "summary") for _ in range(6)] == [True, False, False, False, False, False]
    assert {body["model"] for body in model.bodies} == {"named"}


def test_model_judge_without_a_name_asks_the_models_own():
    from summariser.evaluate import model_judge

    named, unnamed = _TinyModel('{"supported": true}'), _TinyModel('{"supported": true}', model=None)
    assert model_judge(named)("fact", "summary") and model_judge(unnamed)("fact", "summary")
    assert named.bodies[0]["model"] == "tiny"
    assert "model" not in unnamed.bodies[0]  # the ChatModel (or the endpoint) picks its default


def test_llm_judge_sends_nothing_until_asked(monkeypatch, tmp_path):
    """Making the judge starts no model: a run whose systems give it nothing to judge costs nothing."""
    from summariser.config import Settings
    from summariser.evaluate import llm_judge
    import summariser.extract

    made = []
    monkeypatch.setattr(summariser.extract.Summariser, "client", property(lambda self: made.append(self) or _TinyModel('{"supported": true}', '{"supported": false}')))
    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    judge = llm_judge(Settings.load(env={}, base_url="http://127.0.0.1:9/v1", model="judge"))
    assert made == []
    assert judge("fact", "summary") is True and judge("fact", "summary") is False
    assert len(made) == 1  # one model for the whole run


def test_plan_eval_builds_one_system_per_prompt_and_model(datasets, tmp_path, monkeypatch):
    from summariser.config import Settings
    from summariser.evaluate import plan_eval

    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    asked: list[str | None] = []

    def settings(model):
        asked.append(model)
        return Settings.load(env={}, base_url="http://127.0.0.1:9/v1", model=model or "configured")

    plan = plan_eval(
        [datasets["rose"], datasets["news_fair"]], settings, prompts=["article@1", "article@2"], models=["a", "b"],
        baseline=False, judge=True, use_store=False,
    )
    assert list(plan.systems) == ["article@1 · a", "article@1 · b", "article@2 · a", "article@2 · b"]
    assert asked == [None, "a", "b", "a", "b", "a"]  # the configured settings, each system's, the judge's (first model)
    assert plan.judge is not None and plan.store is None
    assert plan.total == 4 * len(plan.docs) and {d.dataset for d in plan.docs} == {"rose", "nf"}


def test_plan_eval_one_model_keeps_the_prompt_as_label_and_defaults_to_the_configured_prompt(datasets, tmp_path, monkeypatch):
    from summariser.config import Settings
    from summariser.evaluate import plan_eval

    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    settings = lambda model: Settings.load(env={}, base_url="http://127.0.0.1:9/v1", model=model or "m", prompt="article@1")  # noqa: E731
    assert list(plan_eval([datasets["rose"]], settings, models=["x"], baseline=False, use_store=False).systems) == ["article@1"]
    assert plan_eval([datasets["rose"]], settings, baseline=False, use_store=False, limit=1).docs == load_dataset(datasets["rose"])[:1]


def test_plan_eval_closes_the_store_when_a_prompt_is_bad_and_after_running(datasets, tmp_path, monkeypatch):
    import summariser.store
    from summariser.config import Settings
    from summariser.errors import PromptError
    from summariser.evaluate import plan_eval

    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    closed = []

    class Store:
        def __init__(self, path):
            self.path = path

        def close(self):
            closed.append(self.path)

    monkeypatch.setattr(summariser.store, "Store", Store)
    settings = lambda model: Settings.load(env={}, base_url="http://127.0.0.1:9/v1", model="m", db_path=tmp_path / "runs.db")  # noqa: E731
    with pytest.raises(PromptError):
        plan_eval([datasets["rose"]], settings, prompts=["article@99"], baseline=False)
    assert closed == [tmp_path / "runs.db"]
    plan = plan_eval([datasets["rose"]], settings, prompts=["article@1"], baseline=False)
    plan.systems = {"nothing": lambda doc: Prediction()}  # no model calls
    report = plan.run()
    assert closed == [tmp_path / "runs.db"] * 2 and report.datasets == {"rose": 1}


def test_report_write_makes_the_directory_and_both_files(tmp_path):
    report = run_eval([EvalDoc("d1", "ds", "Anna Berg spoke.", gold_participants=[GoldEntity(("Anna Berg",), "person")])],
                      {"s": lambda doc: Prediction(participants=[["Anna Berg"]])})
    out = tmp_path / "a" / "b"
    markdown = report.write(out)
    assert (out / "report.md").read_text(encoding="utf-8") == markdown + "\n" == report.to_markdown() + "\n"
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["metrics"]["s"]["ds"]["participant_recall"] == 1.0


def test_cli_a_missing_model_name_stops_the_run_before_any_report(datasets, tmp_path, monkeypatch, eval_app):
    """A setting is wrong for every document alike: one error, not one failure per document."""
    from typer.testing import CliRunner

    from summariser.errors import ConfigError

    monkeypatch.setenv("SUMMARISER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SUMMARISER_MODEL", raising=False)
    result = CliRunner().invoke(
        eval_app, ["eval", str(datasets["rose"]), "-p", "article@2", "--no-baseline", "--no-store",
                   "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "r")],
    )
    assert isinstance(result.exception, ConfigError) and "--model" in str(result.exception)
    assert not (tmp_path / "r").exists()
