"""The conversation with the model, as pure functions of data: build a request, check a reply.

``summarise``, ``briefing`` and ``batch`` all share this one code path (one prompt, one
validation), whether the reply comes back over HTTP a second later or from a batch file a day
later. Nothing here does I/O; drivers (extract.py, batch/) send ``session.request()`` and feed
what came back to ``session.accept(reply)``.

The conversation never grows without bound: a re-ask is exactly
``[system, user(article), assistant(last reply), user(problems)]``.

Why one module of ~700 lines: both reply shapes (the whole draft and evidence by
reference) go through the same check, re-ask, repeated-reply and floor rules, kept side by side
so they cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from .article import Article, cache_key
from .errors import RefusalError, SummaryFailed, TruncationError
from .floor import floor_problems
from .grounding import ArticleText, GroundingResult, candidate_names, check_draft, drop_items, located_items, quotable_spans
from . import wire
from .llm import Reply
from .injection import Injection, find_injections, mask, strip, warnings_for
from .prompts import Prompt
from .schema import (
    SCHEMA_VERSION,
    ArticleSummary,
    Attempt,
    DroppedItem,
    Grounding,
    Provenance,
    RequestInfo,
    SummaryDraft,
    Usage,
    draft_json_schema,
    draft_schema_text,
    evidence_last,
)

Draft = TypeVar("Draft", bound=BaseModel)
MAX_PROBLEMS_LISTED = 12
MAX_CANDIDATE_HINTS = 25  # as many names as the other hint sources give
REASK_TEMPERATURE_STEP = 0.2
_RUN_ON = re.compile(r"(.{24,}?)\1{2,}", re.DOTALL)



def _runs_on(text: str) -> bool:
    """``_RUN_ON.search(text)``: does a span of 24+ characters repeat 3+ times in a row?

    Same answer as the regex without its backtracking (about 2 ms per reply, the hot spot of a
    batch import): a repetition of length L at i needs the 24 characters at i to recur at i + L,
    so only pairs of equal 24-character windows are checked.
    """
    windows: dict[str, list[int]] = {}
    for i in range(len(text) - 23):
        windows.setdefault(text[i : i + 24], []).append(i)
    for positions in windows.values():
        for n, start in enumerate(positions):
            for other in positions[n + 1 :]:
                length = other - start
                if length < 24:
                    continue
                if start + 3 * length > len(text):
                    break
                if text[start : start + 2 * length] == text[other : other + 2 * length]:
                    return True
    return False

class ReplyRejected(Exception):
    """The reply was unusable but another attempt may fix it (internal: drives the re-ask loop)."""

    def __init__(self, problems: list[str], *, reask: bool = True, final: bool = False) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.reask = reask
        self.final = final  # no further attempt can help (the model repeated a rejected reply)


class Task(Protocol[Draft]):
    """What a session needs to know about the thing being produced."""

    output_model: type[Draft]
    schema_name: str

    def variables(self, prompt: Prompt) -> dict[str, Any]: ...
    def json_schema(self) -> dict[str, Any]: ...
    def schema_text(self) -> str: ...
    def check(self, draft: Draft) -> GroundingResult: ...
    def drop(self, draft: Draft, items: set[str]) -> Draft: ...


@dataclass
class ArticleTask:
    """Summarise one article into a ``SummaryDraft`` grounded in its text."""

    article: Article
    fuzzy_threshold: float = 95.0
    output_model: type[SummaryDraft] = SummaryDraft
    schema_name: str = "article_summary"

    def __post_init__(self) -> None:
        # Instruction-like passages (injection.py) are withheld from the model and blanked in the
        # citable text: a quote or a name found only there fails grounding. Offsets are unchanged.
        self.injections = _injections(self.article.text)
        self.citable = mask(self.article.text, self.injections)
        self._text = _article_text(self.citable, self.fuzzy_threshold)

    @property
    def warnings(self) -> list[str]:
        return warnings_for(self.injections)

    def variables(self, prompt: Prompt) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if prompt.hints in ("candidates", "phrase-candidates"):
            from .names import candidate_hints, candidates

            use_spacy = False if prompt.hints == "phrase-candidates" else None  # None: where installed
            found = candidates(self.citable, use_spacy=use_spacy, limit=MAX_CANDIDATE_HINTS)
            names = [c.mention for c in found]
            # "Russia (country; also Russian, Moscow)": each candidate with its kind and other names.
            hints = candidate_hints(self.citable, limit=MAX_CANDIDATE_HINTS, found=found, guess_kinds=use_spacy is False)
            extra = {"candidates": found, "candidate_hints": hints}
        elif prompt.hints == "ner":
            from .ner import hint_names

            names = hint_names(self.citable)
        else:
            names = candidate_names(self.citable, bare=prompt.hints == "bare-names")
        variables = {"article": strip(self.article.text, self.injections), "title": self.article.title, "names": names, **extra}
        if prompt.reply == "refs":
            from .sentences import number_sentences

            variables["sentences"] = number_sentences(self.citable)  # withheld passages show blanked
        return variables

    def sentence_count(self) -> int:
        return wire.sentence_count(self.citable)

    def json_schema(self) -> dict[str, Any]:
        return draft_json_schema()

    def constrained_schema(self) -> dict[str, Any]:
        """The draft schema with every ``quote`` limited to verbatim spans of this article, so a
        grammar-constrained model cannot misquote (the grounding check still runs)."""
        return _quote_constrained_schema(self.citable)

    def schema_text(self) -> str:
        return draft_schema_text()

    def check(self, draft: SummaryDraft) -> GroundingResult:
        return check_draft(draft, self._text)

    def has_name(self, name: str) -> bool:
        """Whether the article (withheld passages blanked) names ``name``, as grounding checks it."""
        return self._text.has_name(name)

    def drop(self, draft: SummaryDraft, items: set[str]) -> SummaryDraft:
        return drop_items(draft, items)

    def floor(self, draft: SummaryDraft) -> list[str]:
        """Why the grounded ``draft`` is still no summary of the article (see floor.py); [] if it is."""
        return floor_problems(draft, self.citable)  # words only in a withheld passage do not count


@functools.lru_cache(maxsize=256)
def _injections(text: str) -> list[Injection]:
    # Looked for once per article text, however many sessions (re-asks, batch lines) it goes through.
    return find_injections(text)


@functools.lru_cache(maxsize=64)
def _article_text(text: str, fuzzy_threshold: float) -> ArticleText:
    # Normalised once per article, not once per request (ArticleText is read-only).
    return ArticleText(text, fuzzy_threshold=fuzzy_threshold)


@functools.lru_cache(maxsize=256)
def _quote_constrained_schema(text: str) -> dict[str, Any]:
    # Built once per article, shared and never mutated: only the two quote properties differ
    # from the draft schema.
    schema = draft_json_schema()
    spans = quotable_spans(text, max_chars=schema["$defs"]["KeyFact"]["properties"]["quote"]["maxLength"])
    if not spans:
        return schema
    defs = dict(schema["$defs"], Quote={"type": "string", "enum": list(spans)})
    for model in ("KeyFact", "Stance"):
        definition = dict(defs[model])
        definition["properties"] = dict(definition["properties"], quote={"$ref": "#/$defs/Quote"})
        defs[model] = definition
    return dict(schema, **{"$defs": defs})


def format_problems(problems: list[str], *, refs: bool = False) -> str:
    """The re-ask message: only the failures, short, with what to do."""
    shown = problems[:MAX_PROBLEMS_LISTED]
    more = len(problems) - len(shown)
    lines = [f"Your reply had {len(problems)} problem{'s' if len(problems) != 1 else ''}:"]
    lines += [f"- {p}" for p in shown]
    if more:
        lines.append(f"- ... and {more} more of the same kind")
    if refs:
        lines.append("Reply again with the complete JSON object, fixing these. Cite sentences by their numbers.")
    else:
        lines.append(
            "Reply again with the complete JSON object, fixing these. Copy every quote exactly from the "
            "article; leave out an item that no quote supports."
        )
    return "\n".join(lines)


def _json_problem(content: str) -> list[str]:
    """The one problem to report when ``content`` is not JSON at all, else nothing."""
    try:
        json.loads(content)
    except json.JSONDecodeError as exc:
        return [f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"]
    return []


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(root)"
        problems.append(f"{path}: {err['msg']}")
    return problems


class Session(Generic[Draft]):
    """One structured-output conversation: request -> reply -> check -> (re-ask | result)."""

    def __init__(
        self,
        task: Task[Draft],
        prompt: Prompt,
        *,
        model: str,
        mode: str = "json_schema",
        max_attempts: int = 3,
        strict: bool = False,
    ) -> None:
        self.task = task
        self.prompt = prompt
        self.model = model
        self.mode = mode
        self.max_attempts = max_attempts
        self.strict = strict
        self.max_tokens = prompt.max_tokens
        self.attempts: list[Attempt] = []
        self.usage = Usage()
        self.transport_retries = 0
        self.draft: Draft | None = None
        self.grounding: GroundingResult | None = None
        self.dropped: list[DroppedItem] = []
        self._last_reply: str | None = None
        self._problems: list[str] = []
        self._raised_limit = False
        # Evidence by reference (prompt ``reply = "refs"``): the reply is wire.WireReply; after it,
        # re-asks are repairs that ask only for replacements of the failed items.
        self.refs = prompt.reply == "refs"
        self.requests: list[RequestInfo] = []
        self._wire: wire.WireReply | None = None  # the whole reply so far, repairs merged in
        self._repair: dict[str, list[str]] = {}  # failed item -> reasons, while a repair is asked
        self._wire_text: str | None = None  # the assistant turn a repair follows
        self._base = self._base_messages()

    # -- building requests -------------------------------------------------------------
    def _base_messages(self) -> list[dict[str, str]]:
        schema = None
        if self.mode == "json_object":
            schema = wire.schema_text(**self._wire_caps()) if self.refs else self.task.schema_text()
        system, user = self.prompt.render(schema=schema, **self.task.variables(self.prompt))
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _wire_caps(self) -> dict[str, int]:
        return {"max_facts": self.prompt.max_facts, "max_stances": self.prompt.max_stances}

    def set_mode(self, mode: str) -> None:
        """Switch between ``json_schema`` and ``json_object`` (the schema then goes into the prompt)."""
        self.mode = mode
        self._base = self._base_messages()

    def messages(self) -> list[dict[str, str]]:
        # The system prompt and the article stay byte-identical in every request of a
        # conversation, so a server's prompt cache (llama.cpp cache_prompt) reuses their prefill.
        if self.refs and self._repair and self._wire is not None:
            return [
                *self._base,
                {"role": "assistant", "content": self._wire_text or wire.dump(self._wire)},
                {"role": "user", "content": wire.repair_message(self._wire, self._repair)},
            ]
        if self._last_reply is None or not self._problems:
            return list(self._base)
        return [
            *self._base,
            {"role": "assistant", "content": self._last_reply},
            {"role": "user", "content": format_problems(self._problems, refs=self.refs)},
        ]

    def response_format(self) -> dict[str, Any]:
        if self.mode == "json_object":
            return {"type": "json_object"}
        if self.refs:
            sentences = getattr(self.task, "sentence_count", lambda: None)()
            if self._repair:
                schema, name = wire.repair_schema(wire.counts(list(self._repair)), sentences), wire.REPAIR_SCHEMA_NAME
            else:
                schema, name = wire.reply_schema(sentences, **self._wire_caps()), wire.REPLY_SCHEMA_NAME
            return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}
        constrained = getattr(self.task, "constrained_schema", None)
        schema = constrained() if self.prompt.constrain_quotes and constrained else self.task.json_schema()
        if self.prompt.evidence == "last":
            schema = evidence_last(schema)
        return {
            "type": "json_schema",
            "json_schema": {"name": self.task.schema_name, "strict": True, "schema": schema},
        }

    def temperature(self) -> float:
        """The prompt's temperature, raised a little on each re-ask: at temperature 0 the same
        conversation gives the same wrong reply again, which would waste every further attempt."""
        if not self._problems:
            return self.prompt.temperature
        return round(min(1.0, self.prompt.temperature + REASK_TEMPERATURE_STEP * len(self.attempts)), 2)

    def request(self) -> dict[str, Any]:
        """The chat-completions body for the next attempt (exactly what a batch line carries)."""
        return {
            "model": self.model,
            "messages": self.messages(),
            "temperature": self.temperature(),
            "max_tokens": self._request_max_tokens(),
            "response_format": self.response_format(),
            **self.prompt.params,
        }

    def _request_max_tokens(self) -> int:
        if self.refs and self._repair:
            return min(self.max_tokens, wire.repair_tokens(wire.counts(list(self._repair))))
        return self.max_tokens

    # -- carrying a conversation across processes (batch files) --------------------------
    def checkpoint(self) -> dict[str, Any]:
        """The conversation so far as JSON-able data; :meth:`resume` continues from it in a later
        process (batch import keeps it between a rejected reply and the reply to its re-ask)."""
        return {
            "mode": self.mode,
            "max_tokens": self.max_tokens,
            "raised_limit": self._raised_limit,
            "last_reply": self._last_reply,
            "problems": list(self._problems),
            "transport_retries": self.transport_retries,
            "usage": self.usage.model_dump(),
            "attempts": [attempt.model_dump(mode="json") for attempt in self.attempts],
            "requests": [request.model_dump(mode="json") for request in self.requests],
            "wire": self._wire.model_dump() if self._wire is not None else None,
            "repair": dict(self._repair),
            "wire_text": self._wire_text,
        }

    def resume(self, state: dict[str, Any]) -> "Session[Draft]":
        """Continue from a :meth:`checkpoint`: ``request()`` gives the same body as it did then,
        and attempts, usage and retries carry over (so ``max_attempts`` still bounds the total)."""
        if state.get("mode", self.mode) != self.mode:
            self.set_mode(state["mode"])
        self.max_tokens = int(state.get("max_tokens", self.max_tokens))
        self._raised_limit = bool(state.get("raised_limit", False))
        self._last_reply = state.get("last_reply")
        self._problems = list(state.get("problems") or [])
        self.transport_retries = int(state.get("transport_retries", 0))
        self.usage = Usage.model_validate(state.get("usage") or {})
        self.attempts = [Attempt.model_validate(a) for a in state.get("attempts") or []]
        self.requests = [RequestInfo.model_validate(r) for r in state.get("requests") or []]
        self._wire = wire.WireReply.model_validate(state["wire"]) if state.get("wire") else None
        self._repair = {k: list(v) for k, v in (state.get("repair") or {}).items()}
        self._wire_text = state.get("wire_text")
        return self

    @property
    def attempts_left(self) -> int:
        return self.max_attempts - len(self.attempts)

    # -- checking replies --------------------------------------------------------------
    def accept(self, reply: Reply) -> Draft:
        """Check one reply. Returns the accepted draft, raises ReplyRejected to ask again,
        or a SummariserError when no further attempt can help."""
        sent = self.messages()
        repaired = list(self._repair) if self.refs else []
        self.usage = self.usage + reply.usage
        self.transport_retries += reply.transport_retries
        try:
            draft = self._check(reply)
        except ReplyRejected as exc:
            self._record(sent, reply, exc.problems, repaired)
            if self.attempts_left <= 0 or exc.final:
                if not exc.reask:
                    raise self._failure(TruncationError, f"the reply was cut off at the token limit on the last attempt ({self.max_attempts}); allow more attempts (--max-attempts; for batch files, at batch prepare) or use a prompt made for small models", exc.problems) from None
                if self.attempts_left > 0:
                    message = f"the model sent the same rejected reply again, word for word, on attempt {len(self.attempts)}: {exc.problems[0]}"
                else:
                    message = f"still invalid after {len(self.attempts)} attempts: {exc.problems[0]}"
                raise self._failure(SummaryFailed, message, exc.problems) from None
            raise
        except (RefusalError, TruncationError) as exc:
            self._record(sent, reply, [str(exc)], repaired)
            raise self._failure(type(exc), str(exc), [str(exc)]) from None
        self._record(sent, reply, [], repaired)
        self.draft = draft
        return draft

    def _check(self, reply: Reply) -> Draft:
        if reply.refusal:
            raise RefusalError(f"the model refused: {reply.refusal.strip()[:200]}")
        content = (reply.content or "").strip()
        if self.refs and self._repair and self._wire is not None:
            return self._check_repair(reply, content)
        if reply.finish_reason == "length":
            return self._truncated(content)
        if not content:
            raise ReplyRejected(["the reply was empty: reply with the JSON object"])
        # A re-ask answered with the very same reply: the model ignored the feedback, and in the
        # eval runs it then repeated itself again 6 times in 8 (byte for byte, even at the raised
        # temperature). Grounding problems are settled by keeping the grounded items now, not
        # after another whole reply; a repeated schema error or floor failure ends the run now.
        repeated = bool(self._problems) and content == self._last_reply
        if self.refs:
            parsed = self._validated(content, wire.WireReply, repeated=repeated)
            self._last_reply = content
            return self._settle_refs(wire.dedupe(parsed), content, repeated=False)
        draft = self._validated(content, self.task.output_model, repeated=repeated)
        self._last_reply = content
        grounding = self.task.check(draft)
        if grounding.problems and self._may_reask(repeated):
            self._problems = [str(p) for p in grounding.problems]
            self.grounding = grounding
            raise ReplyRejected(self._problems)
        self.grounding = grounding
        return self._keep_above_floor(draft, grounding, repeated=repeated)

    def _may_reask(self, repeated: bool) -> bool:
        """Whether failed items are asked for again rather than kept out now."""
        return self.strict or (self.attempts_left > 1 and not repeated)

    def _keep_above_floor(self, draft: Draft, grounding: GroundingResult, *, repeated: bool) -> Draft:
        """The grounded part of ``draft``, if it clears the task's floor; else the reply is rejected
        (and what it dropped is not the result's)."""
        dropped_before = len(self.dropped)
        kept = self._keep_grounded(draft, grounding)
        floor = getattr(self.task, "floor", None)
        below = floor(kept) if floor is not None else []
        if below:
            del self.dropped[dropped_before:]
            self._problems = below
            raise ReplyRejected(below, final=repeated)
        return kept

    def _validated(self, content: str, model: type[BaseModel], *, repeated: bool) -> Any:
        """``content`` parsed and validated as ``model``, or raise: a looping reply as truncation,
        any other invalid reply as ReplyRejected with its problems (final when it is a repeat)."""
        # A reply that loops is only looked for once it fails (the check costs more than parsing,
        # and a loop that still validates is cut by the schema's caps anyway).
        # pydantic parses and validates in one pass (faster than json.loads + model_validate);
        # json.loads runs only on a broken reply, for the line/column the re-ask message gives.
        try:
            return model.model_validate_json(content)
        except ValidationError as exc:
            if _runs_on(content[-400:]):
                return self._truncated(content)
            self._last_reply = content
            self._problems = _json_problem(content) or _pydantic_problems(exc)
            raise ReplyRejected(self._problems, final=repeated) from None

    # -- evidence by reference: whole replies, then repairs of the failed items only ---------
    def _check_repair(self, reply: Reply, content: str) -> Draft:
        """A repair reply: merge its replacements in, or, when it is unusable, keep asking for the
        same items while attempts remain; the whole reply so far is never lost to a bad repair."""
        assert self._wire is not None
        broken = None
        if reply.finish_reason == "length":
            broken = "the reply was cut off at the token limit: give shorter replacements"
        elif not content:
            broken = "the reply was empty: reply with the JSON object of replacements"
        else:
            try:
                repair = wire.WireRepair.model_validate_json(content)
            except ValidationError as exc:
                broken = (_json_problem(content) or _pydantic_problems(exc))[0]
        repeated = content == self._last_reply
        self._last_reply = content
        if broken is not None:
            if self.attempts_left > 1 and not repeated:
                self._problems = [broken]
                raise ReplyRejected(self._problems)
            return self._settle_refs(self._wire, self._wire_text, repeated=True)
        merged = wire.dedupe(wire.merge(self._wire, list(self._repair), repair))
        return self._settle_refs(merged, wire.dump(merged), repeated=repeated)

    def _settle_refs(self, reply: "wire.WireReply", text: str | None, *, repeated: bool) -> Draft:
        """Map a whole wire reply onto the draft and ground it: accept it, ask to repair the items
        that failed, or (last attempt, or the model repeated itself) keep what is grounded."""
        citable = getattr(self.task, "citable", self.task.article.text)  # sentences as numbered for the model
        bylines = wire.byline_only(reply, citable)
        if bylines:  # settled by code, not by a repair: a byline name is never a participant
            for i in bylines:
                self.dropped.append(DroppedItem(path=f"participants[{i}]", reason="named only in the byline: a reporter or editor, not a participant",
                                                item=json.dumps(reply.participants[i].model_dump(), ensure_ascii=False, separators=(",", ":"))))
            reply = wire.WireReply.model_construct(**{**dict(reply), "participants": [p for i, p in enumerate(reply.participants) if i not in bylines]})
        is_named = getattr(self.task, "has_name", None)
        if is_named is not None:  # a holder the article names is listed by code, not repaired
            reply = wire.with_holders(reply, is_named)
        draft, invalid = wire.to_draft(reply, citable)
        grounding = self.task.check(draft)
        failed = wire.failed_items(grounding.problems)
        for item, message in invalid.items():
            failed[item] = [f"{message}: cite a sentence number shown in the article"]
        self._wire = reply
        self.grounding = grounding
        if failed and self._may_reask(repeated):
            self._repair = failed
            self._wire_text = text
            self._problems = [f"{item}: {reasons[0]}" for item, reasons in failed.items()]
            raise ReplyRejected(self._problems)
        self._repair = {}
        try:
            return self._keep_above_floor(draft, grounding, repeated=repeated)
        except ReplyRejected:  # nothing left worth repairing item by item: ask for a whole reply again
            self._wire, self._wire_text = None, None
            raise

    def _truncated(self, content: str) -> Draft:
        # A cut-off or looping reply is not a schema error: re-asking with the same limit would
        # loop again. Raise the limit once and resend the original request, else fail clearly.
        if not self._raised_limit and self.max_tokens < self.prompt.max_tokens_cap:
            self._raised_limit = True
            self.max_tokens = self.prompt.max_tokens_cap
            self._last_reply, self._problems = None, []
            raise ReplyRejected([f"the reply was cut off at the token limit; retrying once with max_tokens={self.max_tokens}"], reask=False)
        raise TruncationError(
            f"the reply was cut off at {self.max_tokens} tokens (or kept repeating itself): "
            "try a prompt version made for small models, a larger model, or a shorter article"
        )

    def _keep_grounded(self, draft: Draft, grounding: GroundingResult) -> Draft:
        """Last attempt: keep what is grounded, report the rest in ``grounding.unverified``."""
        if not grounding.problems:
            return draft
        by_item: dict[str, list[str]] = {}
        for problem in grounding.problems:
            if problem.item is not None:
                by_item.setdefault(problem.item, []).append(problem.message)
        payload = draft.model_dump()
        for item, reasons in by_item.items():
            self.dropped.append(DroppedItem(path=item, reason="; ".join(reasons), item=_item_json(payload, item)))
        kept = self.task.drop(draft, set(by_item))
        self.grounding = GroundingResult(
            verified=[q for q in grounding.verified if not any(q.path.startswith(i + ".") for i in by_item)],
            problems=grounding.problems,
            quotes_checked=grounding.quotes_checked,
        )
        return kept

    def record_failure(self, message: str, *, requests: int = 1, latency_s: float = 0.0) -> None:
        """A request that got no usable reply at all (a transport error ended it): kept as an
        attempt with no reply and the error, so a failed run shows what it tried and why."""
        self.attempts.append(
            Attempt(
                number=len(self.attempts) + 1,
                messages=self.messages(),
                reply=None,
                finish_reason=None,
                errors=[message],
                usage=Usage(),
                latency_s=round(latency_s, 4),
                transport_retries=max(0, requests - 1),
            )
        )
        self.transport_retries += max(0, requests - 1)

    def _record(self, sent: list[dict[str, str]], reply: Reply, problems: list[str], repaired: list[str] | None = None) -> None:
        self.requests.append(
            RequestInfo(
                number=len(self.attempts) + 1,
                kind="repair" if repaired else "full",
                repaired=list(repaired or []),
                prompt_tokens=reply.usage.prompt_tokens,
                completion_tokens=reply.usage.completion_tokens,
                cached_prompt_tokens=reply.cached_tokens,
                prompt_s=reply.prompt_s,
                generation_s=reply.generation_s,
                latency_s=round(reply.latency_s, 4),
            )
        )
        self.attempts.append(
            Attempt(
                number=len(self.attempts) + 1,
                messages=sent,
                reply=reply.content,
                finish_reason=reply.finish_reason,
                errors=problems,
                usage=reply.usage,
                latency_s=round(reply.latency_s, 4),
                transport_retries=reply.transport_retries,
            )
        )

    def _failure(self, kind: type, message: str, problems: list[str]):
        return kind(
            message,
            attempts=len(self.attempts),
            usage=self.usage,
            last_reply=self.attempts[-1].reply if self.attempts else None,
            errors=problems,
            attempt_log=self.attempts,
        )


def _item_json(payload: dict[str, Any], item: str) -> str:
    node: Any = payload
    for key, index in re.findall(r"(\w+)\[(\d+)\]", item):
        node = node[key][int(index)]
    return json.dumps(node, ensure_ascii=False, separators=(",", ":"))


def summary_key(article: Article, prompt: Prompt, model: str, settings: Any = None) -> str:
    """The cache key; ``settings`` (a ``Settings``) adds the options that change the result."""
    options = result_options(settings) if settings is not None else ""
    return cache_key(
        article_sha256=article.sha256, prompt_sha256=prompt.sha256, model=model, schema_version=SCHEMA_VERSION, options=options
    )


def result_options(settings: Any) -> str:
    """The settings that change what a successful run returns, where they differ from the defaults.

    strict drops nothing (it fails instead), json_object asks differently, the fuzzy threshold
    decides which quotes stay. "auto" counts as json_schema, what it sends first. max_attempts
    and timeouts only decide whether a run succeeds, not what it returns, so they are left out.
    """
    from .config import Settings

    parts = []
    if settings.mode == "json_object":
        parts.append("mode=json_object")
    if settings.strict:
        parts.append("strict")
    if settings.fuzzy_threshold != Settings.fuzzy_threshold:
        parts.append(f"fuzzy={settings.fuzzy_threshold:g}")
    return ",".join(parts)


def tidy_participants(draft: SummaryDraft, text: str, prompt: Prompt | None = None) -> SummaryDraft:
    """After grounding, one entry per participant: "Moscow", "Russia" and "Russian" become one
    "Russia", "Lavrov" joins "Sergei Lavrov", and stance holders are renamed to match
    (``names.normalise_draft_names``). Grounding ran first, on the names as the model wrote
    them: a canonical name the article does not write ("United States") keeps the alias it does.
    ``text`` is what grounding checked against (withheld passages blanked), so no alias comes
    from a passage the model was not shown."""
    from .names import fill_participants, normalise_draft_names

    draft = normalise_draft_names(draft, text)
    if prompt is not None and prompt.reply == "refs":
        # A stance whose holder the article does not name near its cited sentence is no stance
        # of that holder (wire.attributed_stances); checked before fill keeps holders listed.
        draft = draft.model_copy(update={"stances": wire.attributed_stances(list(draft.stances), list(draft.participants), text)})
    if prompt is not None and prompt.fill_participants and isinstance(draft, SummaryDraft):
        holders = [stance.holder for stance in draft.stances]
        filled = fill_participants(draft.participants, text, upto=prompt.fill_participants, min_count=prompt.fill_min_count, keep=holders)
        draft = draft.model_copy(update={"participants": filled})
    return draft


def build_summary(
    session: Session[SummaryDraft],
    article: Article,
    *,
    endpoint: str,
    duration_s: float,
    created_at: datetime | None = None,
) -> ArticleSummary:
    """The validated draft plus provenance and grounding: the finished result."""
    if session.draft is None or session.grounding is None:
        raise ValueError("build_summary needs an accepted session")
    provenance = Provenance(
        prompt=session.prompt.name,
        prompt_version=session.prompt.version,
        prompt_sha256=session.prompt.sha256,
        schema_version=SCHEMA_VERSION,
        model=session.model,
        endpoint=endpoint,
        attempts=len(session.attempts),
        transport_retries=session.transport_retries,
        usage=session.usage,
        requests=session.requests,
        duration_s=round(duration_s, 3),
        source=article.source_info(),
        created_at=created_at or datetime.now(timezone.utc),
    )
    draft = tidy_participants(session.draft, getattr(session.task, "citable", article.text), session.prompt)
    verified = session.grounding.verified
    if session.prompt.reply == "refs":  # a cited date line or picture credit is no key fact (wire.drop_non_facts)
        draft = draft.model_copy(update={"key_facts": wire.drop_non_facts(list(draft.key_facts))})
        quotes = {f.quote for f in draft.key_facts} | {s.quote for s in draft.stances}
        verified = [q for q in verified if q.quote in quotes]
    grounding = Grounding(
        verified=verified,
        unverified=session.dropped,
        grounding_rate=round(session.grounding.rate, 4),
        fuzzy_matches=sum(1 for q in verified if q.match == "fuzzy"),
        warnings=list(getattr(session.task, "warnings", ())),
    )
    # The draft's fields are already validated (ArticleSummary adds no validator to them), so
    # they are reused as they are instead of being dumped and validated a second time.
    fields = {name: getattr(draft, name) for name in SummaryDraft.model_fields}
    fields["key_facts"], fields["stances"] = located_items(draft, verified)
    return ArticleSummary.model_construct(**fields, provenance=provenance, grounding=grounding)
