"""Project promises: the README's two commands, CI, public API and CLI help."""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib

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


def test_public_api_is_sorted_importable_and_documented():
    assert summariser.__all__ == sorted(summariser.__all__)
    for name in summariser.__all__:
        namespace: dict[str, object] = {}
        exec(f"from summariser import {name}", namespace)  # what a user writes
        obj = namespace[name]
        if inspect.isclass(obj) or inspect.isroutine(obj):
            # Its own docstring: a class's __doc__ is never inherited from its base.
            assert obj.__module__.startswith("summariser.") and (obj.__doc__ or "").strip(), f"{name} has no docstring"
        else:
            assert isinstance(obj, (str, int, float, tuple, frozenset)), f"{name} is neither documented nor a constant"


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
