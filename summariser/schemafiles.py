"""The published JSON Schema files (``schemas/`` in the repository, ``summariser schema --out``).

Downstream systems validate against these files, so they are generated from the Pydantic models
and checked in; a test fails when the models change and the files were not regenerated.
To publish another model, add one line to ``PUBLISHED_MODELS``.

``lint_strict`` checks a schema against OpenAI structured-output strict-mode rules, which the
schema sent to the model (``schema.draft_json_schema()``) must follow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .files import atomic_write_text
from .schema import ArticleError, ArticleSummary, Briefing, output_json_schema

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

ARTICLE_SUMMARY_FILE = "article-summary.schema.json"  # what ``summariser schema`` prints

# File name -> the output model it publishes.
PUBLISHED_MODELS: dict[str, type[BaseModel]] = {
    ARTICLE_SUMMARY_FILE: ArticleSummary,
    "article-error.schema.json": ArticleError,
    "briefing.schema.json": Briefing,
}

STRICT_MAX_DEPTH = 10
STRICT_MAX_PROPERTIES = 5000


def published_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (with ``$schema`` and the model's ``$id``) for every published model."""
    return {name: published_schema(name) for name in PUBLISHED_MODELS}


def published_schema(name: str = ARTICLE_SUMMARY_FILE) -> dict[str, Any]:
    """The JSON Schema of one published file (only that model's schema is generated)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **output_json_schema(PUBLISHED_MODELS[name])}


def published_schema_text(name: str = ARTICLE_SUMMARY_FILE) -> str:
    """The exact text of one published schema file: what ``summariser schema`` prints."""
    return schema_text(published_schema(name))


def schema_text(schema: dict[str, Any]) -> str:
    """The exact text a schema file holds (stable, so checked-in files can be compared)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schema_files(directory: Path | str) -> list[Path]:
    """Write every published schema into ``directory`` (created if missing); return the paths."""
    directory = Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in published_schemas().items():
        path = directory / name
        atomic_write_text(path, schema_text(schema), newline="\n", fsync=False)
        written.append(path)
    return written


def lint_strict(schema: dict[str, Any]) -> list[str]:
    """Problems that would make OpenAI strict mode reject ``schema``; empty when it is fine.

    Checks every object (following ``$ref``s into ``$defs``): ``additionalProperties: false``,
    ``required`` listing exactly its properties, at most 10 levels of object nesting and at most
    5000 properties in all. The root must be an object.
    """
    problems: dict[str, None] = {}  # ordered and without duplicates (a $def may be reached twice)
    defs = schema.get("$defs", {})
    counted: set[str] = set()
    total_properties = 0

    def is_object(node: dict[str, Any]) -> bool:
        kind = node.get("type")
        return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node

    def visit(node: Any, path: str, depth: int, refs: frozenset[str]) -> None:
        nonlocal total_properties
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/$defs/")
            if not ref.startswith("#/$defs/"):
                problems[f"{path}: $ref {ref!r} is not a local #/$defs/ reference"] = None
            elif name not in defs:
                problems[f"{path}: $ref {ref!r} points at no $defs entry"] = None
            elif name not in refs:  # recursion is allowed; walk each cycle once
                visit(defs[name], f"$defs.{name}", depth, refs | {name})
        if is_object(node):
            depth += 1
            if depth > STRICT_MAX_DEPTH:
                problems[f"{path}: objects are nested {depth} deep; strict mode allows {STRICT_MAX_DEPTH}"] = None
            properties = node.get("properties", {})
            if path not in counted:
                counted.add(path)
                total_properties += len(properties)
            if node.get("additionalProperties") is not False:
                problems[f"{path}: additionalProperties must be false"] = None
            required = node.get("required", [])
            missing = [name for name in properties if name not in required]
            unknown = [name for name in required if name not in properties]
            if missing:
                problems[f"{path}: required must list every property; missing {', '.join(missing)}"] = None
            if unknown:
                problems[f"{path}: required names unknown properties {', '.join(unknown)}"] = None
            for name, sub in properties.items():
                visit(sub, f"{path}.properties.{name}", depth, refs)
        if isinstance(node.get("items"), dict):
            visit(node["items"], f"{path}.items", depth, refs)
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for index, sub in enumerate(node.get(key) or []):
                visit(sub, f"{path}.{key}[{index}]", depth, refs)

    if not (schema.get("type") == "object" and "anyOf" not in schema):
        problems["$: the root must be an object (type: object), not anyOf"] = None
    visit(schema, "$", 0, frozenset())
    for name, sub in defs.items():  # definitions nothing refers to are still sent to the model
        visit(sub, f"$defs.{name}", 0, frozenset({name}))
    if total_properties > STRICT_MAX_PROPERTIES:
        problems[f"$: {total_properties} properties in all; strict mode allows {STRICT_MAX_PROPERTIES}"] = None
    return list(problems)
