"""Shared fixtures: a clean environment, a temp data dir, and a scripted OpenAI-compatible server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from summariser.config import Settings
from summariser.testing import ScriptedLLM

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_ARTICLE = SEEDS / "reuters-moscow-beijing-ukraine.txt"
# Tests script whole replies as SummaryDraft JSON (quotes copied): the reply format of
# article@2, so they run on article@2 (SUMMARISER_PROMPT, set for every test below). The default
# prompt (article@8, evidence by reference) has its own tests: the `default_prompt` fixture
# unsets the variable, and the scripted server's default responder answers both formats.
DRAFT_PROMPT = "article@2"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No OPENAI_*/SUMMARISER_* leaks from the developer's shell; data dir in a temp folder.

    The embedded model's cache dir is kept (assembling 1.1 GB per test would be absurd)."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "SUMMARISER_")) and name != "SUMMARISER_CACHE_DIR":
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("SUMMARISER_HOME", str(home))
    monkeypatch.setenv("SUMMARISER_PROMPT", DRAFT_PROMPT)
    return home


@pytest.fixture
def default_prompt(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> str:
    """The released default prompt, as a user without settings gets it."""
    from summariser.prompts import load_prompt

    monkeypatch.delenv("SUMMARISER_PROMPT", raising=False)
    return load_prompt("article").ref


@pytest.fixture
def llm():
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def settings(llm: ScriptedLLM, clean_env: Path) -> Settings:
    return Settings.load(base_url=llm.base_url, model="scripted", retry_budget_s=20.0)


@pytest.fixture
def seed_text() -> str:
    return SEED_ARTICLE.read_text(encoding="utf-8")
