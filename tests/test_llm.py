"""summariser.llm: the model interface (ChatModel, Reply) and the direction of its imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from summariser.llm import ChatModel, Reply


def test_session_depends_on_llm_not_the_reverse():
    from summariser import llm, session

    assert session.Reply is llm.Reply is Reply
    for path in Path(llm.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {"session", "extract", "batch"} & {name.split(".")[-1] for name in imported}, path.name


def test_importing_the_interface_does_not_import_openai():
    code = "import sys, summariser.llm; assert 'openai' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_openai_client_is_a_chat_model():
    from summariser.testing import FakeModel

    fake = FakeModel()
    client = fake.client()
    try:
        assert isinstance(client, ChatModel)
        assert client.model == fake.settings().model
    finally:
        client.close()


def test_public_names_still_import_from_summariser_llm():
    from summariser import llm
    from summariser.llm import openai as llm_openai, retry

    assert llm.ChatClient is llm_openai.ChatClient
    assert llm.translate_error is llm_openai.translate_error
    assert llm.Transient is retry.Transient
    for name in llm.__all__:
        assert getattr(llm, name) is not None, name
