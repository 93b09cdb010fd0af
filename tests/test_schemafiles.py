"""The published schema files: checked in, current, valid, and strict-mode lint."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import typer
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from summariser.cli.schema import schema_command
from summariser.schema import ARTICLE_SUMMARY_ID, draft_json_schema, output_json_schema
from summariser.schemafiles import lint_strict, published_schemas, schema_text, write_schema_files
from test_store import make_article, make_summary

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
REGENERATE = "run `summariser schema --out schemas/` and commit the result"


def test_checked_in_schema_files_are_current() -> None:
    for name, schema in published_schemas().items():
        path = SCHEMAS_DIR / name
        assert path.is_file(), f"schemas/{name} is missing: {REGENERATE}"
        assert path.read_text(encoding="utf-8") == schema_text(schema), f"schemas/{name} is stale: {REGENERATE}"


def test_published_schema_is_the_output_schema_with_its_id() -> None:
    schema = published_schemas()["article-summary.schema.json"]
    assert schema["$id"] == ARTICLE_SUMMARY_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {k: v for k, v in schema.items() if k != "$schema"} == output_json_schema()
    Draft202012Validator.check_schema(schema)


def test_a_summary_validates_against_the_checked_in_file() -> None:
    schema = json.loads((SCHEMAS_DIR / "article-summary.schema.json").read_text(encoding="utf-8"))
    record = make_summary(make_article()).model_dump(mode="json")
    Draft202012Validator(schema).validate(record)
    record["provenance"]["usage"]["total_tokens"] = "many"
    assert not Draft202012Validator(schema).is_valid(record)


def test_write_schema_files(tmp_path: Path) -> None:
    paths = write_schema_files(tmp_path / "out")
    assert [p.name for p in paths] == list(published_schemas())
    for path in paths:
        assert json.loads(path.read_text(encoding="utf-8")) == published_schemas()[path.name]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(published_schemas())  # no temp files


def test_the_schema_sent_to_the_model_passes_strict_lint() -> None:
    assert lint_strict(draft_json_schema()) == []


def test_lint_catches_a_broken_schema() -> None:
    broken = copy.deepcopy(draft_json_schema())
    broken["$defs"]["Participant"]["additionalProperties"] = True
    broken["$defs"]["Stance"]["required"].remove("quote")
    broken["required"].append("verdict")
    problems = lint_strict(broken)
    assert "$defs.Participant: additionalProperties must be false" in problems
    assert "$defs.Stance: required must list every property; missing quote" in problems
    assert "$: required names unknown properties verdict" in problems
    assert len(problems) == 3  # a $def reached twice is reported once


def _nested(depth: int) -> dict:
    node: dict = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    for _ in range(depth - 1):
        node = {"type": "object", "properties": {"child": node}, "required": ["child"], "additionalProperties": False}
    return node


def test_lint_limits_depth_size_and_root() -> None:
    assert lint_strict(_nested(10)) == []
    assert any("nested 11 deep" in p for p in lint_strict(_nested(11)))
    names = [f"p{n}" for n in range(5001)]
    wide = {
        "type": "object",
        "properties": {name: {"type": "string"} for name in names},
        "required": names,
        "additionalProperties": False,
    }
    assert lint_strict(wide) == ["$: 5001 properties in all; strict mode allows 5000"]
    assert any("root must be an object" in p for p in lint_strict({"anyOf": [_nested(1), _nested(2)]}))
    through_refs = {**_nested(1), "properties": {"a": {"$ref": "#/$defs/Missing"}}, "required": ["a"]}
    assert lint_strict(through_refs) == ["$.properties.a: $ref '#/$defs/Missing' points at no $defs entry"]


def test_lint_follows_recursive_refs_without_looping() -> None:
    schema = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "required": ["node"],
        "additionalProperties": False,
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "required": ["children"],
                "additionalProperties": False,
            }
        },
    }
    assert lint_strict(schema) == []


def _schema_app() -> typer.Typer:
    app = typer.Typer()
    app.command("schema")(schema_command)
    app.command("noop")(lambda: None)
    return app


def test_schema_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(_schema_app(), ["schema"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["$id"] == ARTICLE_SUMMARY_ID
    written = runner.invoke(_schema_app(), ["schema", "--out", str(tmp_path / "s")])
    assert written.exit_code == 0, written.output
    assert "article-summary.schema.json" in written.output
    assert (tmp_path / "s" / "article-summary.schema.json").read_text(encoding="utf-8") == printed.stdout


def test_schema_command_help_teaches_by_example() -> None:
    assert schema_command.__doc__ and "summariser schema --out schemas/" in schema_command.__doc__


def test_the_one_printed_schema_is_the_published_file():
    from summariser.schemafiles import ARTICLE_SUMMARY_FILE, published_schema_text, published_schemas, schema_text

    assert published_schema_text() == schema_text(published_schemas()[ARTICLE_SUMMARY_FILE])
    for name, schema in published_schemas().items():
        assert published_schema_text(name) == schema_text(schema)
