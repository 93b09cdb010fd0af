"""Versioned prompt templates: released files never change; selection and rendering work."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from summariser.errors import PromptError
from summariser.prompts import diff_prompts, list_prompts, load_prompt, load_prompt_file

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"

# A released version is never edited: change a prompt by adding a new version file.
RELEASED = {
    "article/v1.toml": "a6fbb1de0cb4",
    "article/v2.toml": "bbcc074bd978",
    "article/v6.toml": "bb291804b0c2",
    "article/v7.toml": "3885d6a77fc6",
    "article/v8.toml": "0d781cfff29d",
    "briefing/v1.toml": "10a9bee0b04e",
    "briefing/v2.toml": "1a881361a96a",
    "story/v1.toml": "a8a503c7638c",
}


@pytest.mark.parametrize("relpath,prefix", sorted(RELEASED.items()))
def test_released_prompt_files_are_unchanged(relpath, prefix):
    digest = hashlib.sha256((PROMPTS / relpath).read_bytes()).hexdigest()
    assert digest.startswith(prefix), f"{relpath} was edited after release: restore it and add a new version"


def test_every_prompt_file_is_pinned_or_new_files_are_listed():
    found = {str(p.relative_to(PROMPTS)) for p in PROMPTS.glob("*/v*.toml")}
    assert found <= set(RELEASED), (
        "pin new prompt versions in RELEASED once released"
    )


def test_default_version_and_versions_are_selectable():
    from summariser.prompts import DEFAULT_VERSIONS

    assert load_prompt("article").version == DEFAULT_VERSIONS["article"]
    assert load_prompt("article@1").version == 1
    assert load_prompt("article@6").reply == "refs"
    assert load_prompt("briefing").version == max(p.version for p in list_prompts() if p.name == "briefing")


def test_a_newer_version_stays_opt_in_until_it_is_the_default(tmp_path):
    from summariser.prompts import DEFAULT_VERSIONS

    default = DEFAULT_VERSIONS["article"]
    for version in (default, default + 1):
        path = tmp_path / "article" / f"v{version}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f'version = {version}\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\nsystem = "s"\nuser = "u"\n')
    assert load_prompt("article", dirs=[tmp_path]).version == default
    assert load_prompt(f"article@{default + 1}", dirs=[tmp_path]).version == default + 1


@pytest.mark.parametrize("ref,message", [("nope", "no prompt named 'nope'"), ("article@99", "no prompt article@99"), ("Bad Ref!", "bad prompt reference")])
def test_bad_references(ref, message):
    with pytest.raises(PromptError, match=message):
        load_prompt(ref)


def test_render_puts_article_in_tags_and_schema_only_when_asked():
    prompt = load_prompt("article@2")
    system, user = prompt.render(article="Some text.", title=None, schema=None, names=["Ann Lee", "Oslo"])
    assert user == "Names in the article: Ann Lee, Oslo\n\n<article>\nSome text.\n</article>"
    assert "JSON Schema" not in system
    system, _ = prompt.render(article="x", title=None, schema='{"type":"object"}', names=[])
    assert '{"type":"object"}' in system


def test_template_with_unknown_variable_fails_clearly(tmp_path):
    path = tmp_path / "demo" / "v1.toml"
    path.parent.mkdir()
    path.write_text('version = 1\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\nsystem = "{{ nope }}"\nuser = "u"\n')
    with pytest.raises(PromptError, match="does not render"):
        load_prompt_file(path).render(article="x")


def test_mismatched_version_and_file_name(tmp_path):
    path = tmp_path / "demo" / "v2.toml"
    path.parent.mkdir()
    path.write_text('version = 1\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\nsystem = "s"\nuser = "u"\n')
    with pytest.raises(PromptError, match="named v2.toml"):
        load_prompt_file(path)


def test_diff_shows_changes():
    text = diff_prompts(load_prompt("article@1"), load_prompt("article@2"))
    assert text.startswith("--- article@1\n+++ article@2\n") and "+version = 2" in text


def test_a_broken_sibling_blocks_only_the_newest(tmp_path):
    root = tmp_path / "prompts"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "v1.toml").write_text('version = 1\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\nsystem = "s"\nuser = "u"\n')
    (root / "demo" / "v2.toml").write_text('version = 2\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\nsurprise = 1\nsystem = "s"\nuser = "u"\n')
    assert load_prompt("demo@1", dirs=[root]).ref == "demo@1"  # a pinned version still loads
    with pytest.raises(PromptError, match="v2.toml is invalid: surprise"):
        load_prompt("demo", dirs=[root])  # "newest" cannot be decided past a broken file


def test_unknown_hint_source_is_rejected(tmp_path):
    path = tmp_path / "demo" / "v1.toml"
    path.parent.mkdir()
    path.write_text('version = 1\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\nhints = "crystal-ball"\nsystem = "s"\nuser = "u"\n')
    with pytest.raises(PromptError, match="hints"):
        load_prompt_file(path)


def _rendered_names(prompt_text: str, article: str, tmp_path: Path) -> str:
    from summariser.article import Article
    from summariser.session import ArticleTask, Session

    path = tmp_path / "demo" / "v1.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(prompt_text)
    session = Session(ArticleTask(Article(article)), load_prompt_file(path), model="m")
    return session.messages()[1]["content"]


NER_ARTICLE = (
    "Lisbon mayor Carla Duarte met the European Commission in Brussels on Monday. "
    "Duarte said the port of Lisbon would reopen with help from the Portuguese navy."
)


def test_ner_hints_come_from_spacy_and_fold_short_names(tmp_path):
    pytest.importorskip("spacy")
    body = 'version = 1\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\n{hints}system = "s"\nuser = "{{{{ names | join(\'; \') }}}}"\n'
    ner = _rendered_names(body.format(hints='hints = "ner"\n'), NER_ARTICLE, tmp_path).split("; ")
    assert "Carla Duarte" in ner and "Duarte" not in ner  # the surname folds into the full name
    assert {"Lisbon", "Brussels"} <= set(ner) and "European Commission" in ner
    assert "Monday" not in ner  # a DATE entity is no participant
    assert "Portuguese" not in ner  # a nationality (NORP) is not hinted
    heuristic = _rendered_names(body.format(hints=""), NER_ARTICLE, tmp_path).split("; ")
    assert "Portuguese" in heuristic  # the default source, the capitalisation heuristic, has it


def test_ner_hints_without_spacy_fail_with_what_to_install(tmp_path, monkeypatch):
    import sys

    from summariser import ner
    from summariser.errors import SummariserError

    monkeypatch.setitem(sys.modules, "spacy", None)  # import spacy -> ImportError
    ner.load_spacy.cache_clear()
    ner._hint_names.cache_clear()
    try:
        with pytest.raises(SummariserError, match=r"pip install 'summariser\[eval\]'"):
            _rendered_names('version = 1\ndescription = "d"\nschema = "SummaryDraft"\nmax_tokens = 100\nhints = "ner"\nsystem = "s"\nuser = "{{ names }}"\n',
                            "Another text about Carla Duarte in Lisbon.", tmp_path)
    finally:
        ner.load_spacy.cache_clear()


def test_prompts_list_marks_the_default():
    from typer.testing import CliRunner

    from summariser.cli.prompts import app

    out = CliRunner().invoke(app, ["list"], env={"COLUMNS": "200"}).output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│") and "article@" in line}
    assert rows["article@8"] == "yes" and rows["article@7"] == "" and rows["article@2"] == ""


def test_list_prompts_with_defaults_marks_what_name_alone_loads():
    from summariser.prompts import list_prompts_with_defaults

    rows = list_prompts_with_defaults()
    assert [p.ref for p, _ in rows] == [p.ref for p in list_prompts()]
    defaults = [p.ref for p, default in rows if default]
    assert defaults == [load_prompt(name).ref for name in dict.fromkeys(p.name for p, _ in rows)]
    assert "article@8" in defaults and "article@7" not in defaults


def test_diff_prompts_takes_refs_as_well_as_prompts():
    assert diff_prompts("article@1", "article@2") == diff_prompts(load_prompt("article@1"), load_prompt("article@2"))
    assert diff_prompts("article@2", load_prompt("article@2")) == ""
