"""The LLM judge: does a summary support a reference fact? (the RoSE protocol's yes/no question)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

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


def llm_judge(settings: Any) -> Judge:
    """The RoSE protocol's yes/no judge, through the same endpoint (the embedded model included).

    Each call is one short request; transport retries as for summaries. An unreadable verdict
    counts as "not supported" (the judge never inflates recall)."""
    from ..extract import Summariser

    summariser = Summariser(settings)

    def judge(acu: str, summary_text: str) -> bool:
        body = {
            "model": summariser.model,
            "temperature": 0.0,
            "max_tokens": 12,
            "messages": [
                {"role": "system", "content": _JUDGE_SYSTEM},
                {"role": "user", "content": f"Summary:\n{summary_text}\n\nFact: {acu}"},
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": _VERDICT_SCHEMA}},
        }
        reply = summariser.client.complete(body)
        try:
            return json.loads(reply.content or "").get("supported") is True
        except (ValueError, AttributeError):
            return False

    return judge
