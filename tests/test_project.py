"""Project promises: the README's two commands, CI, public API and CLI help."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import tomllib

import pytest

import typer
from typer.testing import CliRunner

import summariser
from summariser.cli import app

from conftest import REPO


def _quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [c.strip() for c in re.findall(r"```sh\n(.*?)\n\s*```", section, re.DOTALL)]


def test_readme_has_exactly_two_quick_start_commands_and_ci_runs_the_second():
    commands = _quick_start_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    setup_and_summarise, setup_and_test = commands
    assert "summariser summarise seeds/" in setup_and_summarise and "[local]" in setup_and_summarise
    assert "pytest" in setup_and_test
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert setup_and_test in ci.splitlines()


def _own_docstring(obj: object) -> str:
    """``obj``'s docstring unless it is the ``Name(field: type, ...)`` line dataclasses make up."""
    doc = (obj.__doc__ or "").strip()
    return "" if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}(") else doc


def test_public_api_is_sorted_importable_and_documented():
    assert summariser.__all__ == sorted(summariser.__all__)
    assert len(set(summariser.__all__)) == len(summariser.__all__)
    for name in summariser.__all__:
        namespace: dict[str, object] = {}
        exec(f"from summariser import {name}", namespace)  # what a user writes
        obj = namespace[name]
        if inspect.isclass(obj) or inspect.isroutine(obj):
            # Its own docstring: a class's __doc__ is never inherited from its base.
            assert obj.__module__.startswith("summariser."), f"{name} comes from {obj.__module__}"
            assert _own_docstring(obj), f"{name} has no docstring"
        else:
            assert isinstance(obj, (str, int, float, tuple, frozenset)), f"{name} is neither documented nor a constant"


def test_public_api_has_what_the_readme_and_docs_show():
    """The store, briefing, export and batch calls the docs show are importable from the package."""
    shown = {
        "Store", "build_briefing", "write_briefing", "parse_since", "load_previous", "export_results",
        "prepare_batch", "import_results", "load_articles", "run_batch_file", "price_for",
    }  # fmt: skip
    assert shown <= set(summariser.__all__)
    assert set(summariser.__all__) <= set(dir(summariser))
    from summariser import batch, store

    assert summariser.prepare_batch is batch.prepare_batch and summariser.Store is store.Store


def test_unknown_names_and_submodules_still_behave():
    with pytest.raises(AttributeError, match="no_such_name"):
        summariser.no_such_name  # noqa: B018
    namespace: dict[str, object] = {}
    exec("from summariser import prompts, testing", namespace)  # submodules, not lazy names
    assert inspect.ismodule(namespace["prompts"]) and inspect.ismodule(namespace["testing"])


def test_import_summariser_leaves_the_heavy_parts_for_first_use():
    # drive and llm.retry: only a summary needs them (issue 13: the renovation had made
    # ``import summariser`` load them).
    code = (
        "import sys, summariser; "
        "print(sorted(m for m in ('summariser.batch', 'summariser.store', 'summariser.export', "
        "'summariser.briefing', 'summariser.render', 'summariser.drive', 'summariser.llm.retry', "
        "'jsonschema', 'jinja2', 'sqlite3', 'openai') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _walk(command: typer.main.TyperGroup | object, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


def test_every_import_line_in_the_readme_imports():
    """A reader copies the README's examples: each ``from summariser... import`` names what exists."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^\s*from (summariser[\w.]*) import ([\w, ]+)$", readme, re.MULTILINE)
    assert found, "the README shows no import line"
    for module_name, names in found:
        module = importlib.import_module(module_name)
        missing = [n.strip() for n in names.split(",") if not hasattr(module, n.strip())]
        assert not missing, f"README: from {module_name} import {names}: {missing} missing"


def test_every_command_has_help_text_that_teaches():
    root = typer.main.get_command(app)
    runner = CliRunner()
    seen = []
    for path, command in _walk(root):
        if not path:
            continue
        seen.append(" ".join(path))
        assert (command.help or "").strip(), f"`summariser {' '.join(path)}` has no help text"
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"{path}: {result.output}"
    for expected in ("summarise", "schema", "prompts list", "prompts show", "prompts diff"):
        assert expected in seen


def test_install_hints_name_extras_that_exist():
    from summariser import ner
    from summariser.llm import local

    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for hint in (ner.INSTALL_HINT, local.INSTALL_HINT):
        wanted = re.fullmatch(r"pip install 'summariser\[(\w+)\]'", hint)
        assert wanted and wanted.group(1) in extras, f"{hint!r} names no extra of pyproject.toml"
