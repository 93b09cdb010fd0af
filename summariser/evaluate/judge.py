"""The LLM judge: does a summary support a reference fact? (the RoSE protocol's yes/no question).

The judge asks any ``llm.ChatModel`` (``model_judge``), so it goes through the same transport
policy as summaries (``llm.retry.RetryPolicy`` inside ``ChatClient``) and a unit test can hand it
``testing.FakeModel().client()`` or a tiny model of its own. ``llm_judge(settings)`` gets that
model the way a summary does, from ``Summariser`` (the embedded model's server included).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings
    from ..llm import ChatModel, Reply

Judge = Callable[[str, str], bool]
"""``judge(acu, summary_text) -> bool``: does the summary support this atomic fact?"""


_VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"supported": {"type": "boolean"}},
    "required": ["supported"],
    "additionalProperties": False,
}
_JUDGE_SYSTEM = (
    "You check summaries against reference facts. Answer whether the summary states or clearly "
    'implies the fact. Reply with JSON: {"supported": true} or {"supported": false}.'
)


def verdict_request(acu: str, summary_text: str, model: str | None = None) -> dict[str, Any]:
    """The chat-completions body that asks whether ``summary_text`` supports ``acu``.

    ``model`` None leaves the name out, so the ChatModel's own model (or the endpoint's default) answers."""
    body: dict[str, Any] = {"model": model} if model is not None else {}
    body.update(
        temperature=0.0,
        max_tokens=12,
        messages=[
            {"role": "system", "content": _JUDGE_SYSTEM},
            {"role": "user", "content": f"Summary:\n{summary_text}\n\nFact: {acu}"},
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": _VERDICT_SCHEMA}},
    )
    return body


def read_verdict(reply: "Reply") -> bool:
    """True only for ``{"supported": true}``: an unreadable verdict counts as "not supported"."""
    try:
        return json.loads(reply.content or "").get("supported") is True
    except (ValueError, AttributeError):
        return False


def model_judge(model: "ChatModel", *, model_name: str | None = None) -> Judge:
    """The yes/no judge over any ChatModel: one short request a fact, retried as the model retries.

    ``model_name`` goes into each request (default: the model's own ``model``)."""

    def judge(acu: str, summary_text: str) -> bool:
        return read_verdict(model.complete(verdict_request(acu, summary_text, model_name or model.model)))

    return judge


def llm_judge(settings: "Settings") -> Judge:
    """The RoSE protocol's yes/no judge, through the same endpoint (the embedded model included).

    Each call is one short request; transport retries as for summaries. An unreadable verdict
    counts as "not supported" (the judge never inflates recall). The model is made on the first
    question, so a run that gives the judge nothing to judge never starts the embedded model."""
    from ..extract import Summariser

    summariser = Summariser(settings)
    asked: list[Judge] = []

    def judge(acu: str, summary_text: str) -> bool:
        if not asked:
            asked.append(model_judge(summariser.client, model_name=summariser.model))
        return asked[0](acu, summary_text)

    return judge
