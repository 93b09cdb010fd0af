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
}


@pytest.mark.parametrize("relpath,prefix", sorted(RELEASED.items()))
def test_released_prompt_files_are_unchanged(relpath, prefix):
    digest = hashlib.sha256((PROMPTS / relpath).read_bytes()).hexdigest()
    assert digest.startswith(prefix), f"{relpath} was edited after release: restore it and add a new version"


def test_every_prompt_file_is_pinned_or_new_files_are_listed():
    found = {str(p.relative_to(PROMPTS)) for p in PROMPTS.glob("*/v*.toml")}
    assert found <= set(RELEASED) | {str(p) for p in found if p.startswith("briefing/")}, (
        "pin new prompt versions in RELEASED once released"
    )


def test_newest_is_default_and_versions_are_selectable():
    assert load_prompt("article").version == max(p.version for p in list_prompts() if p.name == "article")
    assert load_prompt("article@1").version == 1


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
