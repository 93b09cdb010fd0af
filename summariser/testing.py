"""A scripted OpenAI-compatible server for offline tests: real HTTP, no model, no network.

Point the real ``openai`` client (sync or async) at it and script what each request gets back::

    from summariser.testing import ScriptedLLM, delay, error, reply

    with ScriptedLLM() as llm:
        llm.enqueue(error(429, headers={"Retry-After": "1"}), reply({"headline": "..."}))
        client = OpenAI(base_url=llm.base_url, api_key="test", max_retries=0)
        ...
        assert llm.chat_count == 2

Steps are consumed in order, one per chat-completions request (batch lines included); when the
queue is empty the ``responder`` answers, by default :func:`grounded_responder`, which builds a
valid, fully grounded ``SummaryDraft`` from the ``<article>`` in the prompt (for an
evidence-by-reference prompt, a reply in its compact format citing the numbered sentences). A responder may
return a reply text, a dict (sent as compact JSON) or any step, so it can inject faults for
some requests only.

Endpoints: ``POST /v1/chat/completions`` (``stream: true`` too), ``GET /v1/models``,
``GET /health``, and enough of the Files and Batch APIs for ``client.files.*`` and
``client.batches.*``: a batch advances one status per retrieve (validating -> in_progress ->
completed) and runs its lines through the same queue and responder when it completes.
The ``/v1`` prefix is optional on every path. The server uses only the standard library.

Why one module of ~1,170 lines: it is a public test double that users import as one
thing (server, scripted steps, fault helpers, FakeModel); it imports the library only lazily
(the schema, and the client and Summariser for FakeModel), so importing it stays cheap.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DelayStep",
    "ErrorStep",
    "FakeModel",
    "RawStep",
    "ReplyStep",
    "Responder",
    "ScriptedLLM",
    "Step",
    "briefing_responder",
    "delay",
    "error",
    "grounded_responder",
    "raw",
    "reply",
]

DEFAULT_MODEL = "scripted-llm"


# --------------------------------------------------------------------------------------------
# Steps


@dataclass(frozen=True)
class ReplyStep:
    """A successful chat completion. ``content`` is None when the model refused."""

    content: str | None
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None
    refusal: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class ErrorStep:
    """An OpenAI-style error response: ``{"error": {"message", "type", "param", "code"}}``."""

    status: int
    message: str
    code: str | None = None
    type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DelayStep:
    """Sleep, then answer with ``then`` (or the responder when ``then`` is None)."""

    seconds: float
    then: Any = None


@dataclass(frozen=True)
class RawStep:
    """Exactly these bytes, with this status and content type."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


Step = ReplyStep | ErrorStep | DelayStep | RawStep
Responder = Callable[[dict[str, Any]], "str | dict[str, Any] | Step"]

_STEP_TYPES = (ReplyStep, ErrorStep, DelayStep, RawStep)


def reply(
    content: str | dict[str, Any] | None,
    *,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = None,
    refusal: str | None = None,
    model: str | None = None,
) -> ReplyStep:
    """A chat completion whose message is ``content`` (a dict is sent as compact JSON).

    ``usage=(prompt_tokens, completion_tokens)``; by default prompt_tokens is the characters of
    every message content // 4 and completion_tokens is len(content or refusal) // 4. With
    ``refusal=...`` and empty content the message content is null, as OpenAI sends refusals.
    """
    if isinstance(content, dict):
        content = _compact(content)
    if refusal is not None and content == "":
        content = None
    return ReplyStep(content, finish_reason, tuple(usage) if usage else None, refusal, model)


_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("invalid_request_error", "Incorrect API key provided."),
    403: ("invalid_request_error", "You are not allowed to use this model."),
    404: ("invalid_request_error", "The model does not exist or you do not have access to it."),
    409: ("invalid_request_error", "Conflict."),
    422: ("invalid_request_error", "Unprocessable request."),
    429: ("requests", "Rate limit reached for requests. Please try again later."),
}


def error(
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    type: str | None = None,  # noqa: A002 - mirrors the OpenAI error field
    headers: dict[str, str] | None = None,
) -> ErrorStep:
    """An error response, e.g. ``error(429, headers={"Retry-After": "1"})``,
    ``error(400, code="context_length_exceeded")``, ``error(401)``, ``error(503)``."""
    default_type, default_message = _DEFAULT_ERRORS.get(
        status, ("server_error", "The server had an error while processing your request.")
    )
    if message is None and code == "context_length_exceeded":
        message = (
            "This model's maximum context length is 4096 tokens. However, your messages resulted in "
            "9000 tokens. Please reduce the length of the messages."
        )
    return ErrorStep(
        status=status,
        message=message or default_message,
        code=code,
        type=type or default_type,
        headers=tuple((str(k), str(v)) for k, v in (headers or {}).items()),
    )


def delay(seconds: float, then: str | dict[str, Any] | Step | None = None) -> DelayStep:
    """Wait ``seconds`` before answering with ``then`` (or the responder), so a client timeout
    fires first. Inside a batch the wait is skipped: batches have no per-request timeout."""
    return DelayStep(float(seconds), then)


def raw(body: str | bytes, *, status: int = 200, content_type: str = "application/json") -> RawStep:
    """Send ``body`` as is, e.g. ``raw("not json")`` for a reply the client cannot parse."""
    return RawStep(body.encode("utf-8") if isinstance(body, str) else bytes(body), status, content_type)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _as_step(value: Any) -> Step:
    if isinstance(value, _STEP_TYPES):
        return value
    if isinstance(value, (str, dict)):
        return reply(value)
    raise TypeError(f"a responder must return str, dict or a step, not {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# The default responder


_ARTICLE = re.compile(r"<article>(.*)</article>", re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s|$)")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Capitalised words that start sentences or name dates rather than participants.
_NOT_NAMES = frozenset(
    """
    a about after again against all also although among an and another any are as at because
    before being both but by can could despite did do does during each either even every for
    from further had has have he her here hers his how however i if in instead into is it its
    just last later many meanwhile more most much my neither next no nor not now of off on once
    one only or other our out over per several she since so some such than that the their them
    then there these they this those though through thus to today tomorrow too two under unlike
    until up upon us was we were what when where whether which while who whom whose why will
    with within without would yesterday yet you your image photo reporting writing editing
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december mr mrs ms dr
    """.split()
)


def grounded_responder(body: dict[str, Any]) -> dict[str, Any]:
    """A valid, fully grounded ``SummaryDraft`` dict built from the article in ``body``.

    The article is the text between ``<article>`` and ``</article>`` in the last user message
    that has them (else the whole last user message). Every quote and participant name is a
    verbatim substring of the article; odd or empty input still gives a schema-valid draft.
    """
    kind = _refs_request(body)
    if kind is not None:
        return _refs_reply(body, repair=kind == "repair")
    article = _find_article(body)
    sentences = _split_sentences(article)
    if not sentences:
        word = next((m.group() for m in _WORD.finditer(article) if m.group()[0].isupper()), "Unknown")
        return {
            "headline": word,
            "summary": word,
            "key_facts": [{"quote": word if word in article else "", "statement": word}],
            "participants": [_participant(word)],
            "stances": [],
        }
    caps = _caps()
    facts = [_cut_at_word(s, min(caps["KeyFact.quote"], caps["KeyFact.statement"])) for s in sentences[:3]]
    return {
        "headline": _cut_at_word(sentences[0], caps["headline"]),
        "summary": _cut_at_word(" ".join(sentences[:2]), caps["summary"]),
        "key_facts": [{"quote": fact, "statement": fact} for fact in facts],
        "participants": [_participant(name) for name in _find_names(article, limit=5)],
        "stances": [],
    }


_NUMBERED = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def _refs_request(body: dict[str, Any]) -> str | None:
    """"reply"/"repair" for a request of an evidence-by-reference prompt (article@6), else None."""
    fmt = body.get("response_format") if isinstance(body, dict) else None
    name = ((fmt or {}).get("json_schema") or {}).get("name") if isinstance(fmt, dict) else None
    if name == "article_refs":
        return "reply"
    if name == "article_repair":
        return "repair"
    return None


def _refs_reply(body: dict[str, Any], *, repair: bool) -> dict[str, Any]:
    """A grounded reply in the compact format of summariser/wire.py: facts cite the numbered
    sentences of the article; a repair request gets no replacements (every list empty)."""
    if repair:
        schema = body["response_format"]["json_schema"]["schema"]
        return {key: [] for key in schema.get("required", [])}
    numbered = [(int(n), text) for n, text in _NUMBERED.findall(_find_article(body))]
    plain = " ".join(text for _, text in numbered)
    if not numbered:
        return {"headline": "Unknown", "summary": "Unknown.", "facts": [], "participants": [], "stances": []}
    return {
        "headline": _cut_at_word(numbered[0][1], 100),
        "summary": _cut_at_word(" ".join(text for _, text in numbered[:2]), 300),
        "facts": [n for n, _ in numbered[:3]],
        "participants": [{"name": name, "kind": _participant(name)["kind"], "role": "mentioned in the article"} for name in _find_names(plain, limit=5)],
        "stances": [],
    }


def _user_text(body: dict[str, Any]) -> str:
    return next((_message_text(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "user"), "")


def _schema_name(body: dict[str, Any]) -> str | None:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name")


def is_story_request(body: dict[str, Any]) -> bool:
    """A request for one story's words (the ``story`` prompt)."""
    return _schema_name(body) == "story" or "<story>" in _user_text(body)


def is_briefing_request(body: dict[str, Any]) -> bool:
    """A request for a briefing's overview, themes and ranking (the ``briefing`` prompt)."""
    return _schema_name(body) == "briefing" or "<articles>" in _user_text(body)


def _lines(body: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", _user_text(body), re.S)
    return [json.loads(line) for line in match.group(1).splitlines() if line.strip()] if match else []


def story_draft_for(body: dict[str, Any]) -> dict[str, Any]:
    """A valid ``StoryDraft`` for a story request: the lead headline, the summaries joined, headlines as evidence."""
    lines = _lines(body, "story")
    if not lines:
        return {"headline": "Story", "synthesis": "No articles.", "evidence": []}
    synthesis = " ".join(_split_sentences(line.get("summary", ""))[0] for line in lines if line.get("summary"))
    return {
        "headline": _cut_at_word(lines[0].get("headline", "Story"), 140),
        "synthesis": _cut_at_word(synthesis or lines[0].get("headline", "Story"), 700),
        "evidence": [{"article_id": line["id"], "quote": line["headline"]} for line in lines[:3] if line.get("headline")],
    }


def briefing_draft_for(body: dict[str, Any]) -> dict[str, Any]:
    """A valid ``BriefingDraft`` citing the ids (and quoting the headlines) in a briefing request."""
    user = _user_text(body)
    stories = []
    for data in _lines(body, "articles"):
        ids = [data["id"]] if "id" in data else data["article_ids"]
        quote = data.get("headline") or next(iter(data.get("evidence") or []), None)
        stories.append({
            "headline": _cut_at_word(data.get("headline") or data["story"], 140),
            "synthesis": _cut_at_word(data.get("summary") or data["synthesis"], 700),
            "article_ids": ids[:12],
            "evidence": [{"article_id": ids[0], "quote": quote}] if quote else [],
        })
    found = re.search(r"Participants: (.*)", user)
    names = [n for n in (found.group(1).split("; ") if found else []) if n and n != "(none)"]
    all_ids = [i for s in stories for i in s["article_ids"]]
    return {
        "overview": "The day's news in brief.",
        "top_stories": stories[:10],
        "themes": [{"name": "Everything", "summary": "All the articles.", "article_ids": all_ids[:30]}] if all_ids else [],
        "key_people": [{"name": n, "note": f"{n} matters today."} for n in names[:2]],
    }


def briefing_responder(body: dict[str, Any]) -> dict[str, Any]:
    """Valid replies for every request a briefing makes: summaries, story words, the overview."""
    if is_story_request(body):
        return story_draft_for(body)
    if is_briefing_request(body):
        return briefing_draft_for(body)
    return grounded_responder(body)


@functools.cache
def _caps() -> dict[str, int]:
    """The schema's maxLength caps ("headline", "KeyFact.quote", ...), so replies always fit."""
    from .schema import draft_json_schema

    schema = draft_json_schema()
    caps = {name: prop["maxLength"] for name, prop in schema["properties"].items() if "maxLength" in prop}
    for model, definition in schema.get("$defs", {}).items():
        for name, prop in definition.get("properties", {}).items():
            if "maxLength" in prop:
                caps[f"{model}.{name}"] = prop["maxLength"]
    return caps


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return ""


def _find_article(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return ""
    user_texts = [
        _message_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"
    ]
    for text in reversed(user_texts):
        match = _ARTICLE.search(text)
        if match:
            return match.group(1).strip()
    return user_texts[-1].strip() if user_texts else ""


def _split_sentences(text: str) -> list[str]:
    """Sentences as verbatim substrings: split at line breaks, then at sentence ends."""
    sentences = []
    for line in text.splitlines():
        start = 0
        for match in _SENTENCE_END.finditer(line):
            sentences.append(line[start : match.end()].strip())
            start = match.end()
        sentences.append(line[start:].strip())
    return [s for s in sentences if s]


def _cut_at_word(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` that ends at a word boundary."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    if not text[limit].isspace() and re.search(r"\s", head):
        head = re.split(r"\s+(?=\S*$)", head)[0]
    return head.rstrip()


def _find_names(text: str, *, limit: int) -> list[str]:
    """Runs of capitalised words, in order of first appearance, minus common sentence openers.

    A lone capitalised word that only ever opens a sentence ("Recent", "Hackers") is not taken
    for a name unless it also appears capitalised mid-sentence.
    """
    candidates: list[tuple[str, bool]] = []  # (name, only seen opening a sentence)
    run: list[re.Match[str]] = []

    def flush() -> None:
        while run and (run[0].group().lower() in _NOT_NAMES or len(run[0].group()) == 1):
            run.pop(0)
        while run and (run[-1].group().lower() in _NOT_NAMES or len(run[-1].group()) == 1):
            run.pop()
        if run:
            name = text[run[0].start() : run[-1].end()]
            opener = len(run) == 1 and _opens_sentence(text, run[0].start())
            if len(name) <= 80:
                candidates.append((name, opener))
        run.clear()

    for match in _WORD.finditer(text):
        if not match.group()[0].isupper():
            flush()
            continue
        if run and text[run[-1].end() : match.start()] != " ":
            flush()
        run.append(match)
    flush()
    mid_sentence = {name for name, opener in candidates if not opener}
    names: list[str] = []
    for name, opener in candidates:
        if name not in names and (not opener or name in mid_sentence):
            names.append(name)
    if not names:
        first = next((m.group() for m in _WORD.finditer(text) if m.group()[0].isupper()), "Unknown")
        names.append(first)
    return names[:limit]


def _opens_sentence(text: str, index: int) -> bool:
    line_start = text.rfind("\n", 0, index) + 1
    before = text[line_start:index].rstrip(" \t\"'“‘([")
    return not before or before[-1] in ".!?:"


def _participant(name: str) -> dict[str, Any]:
    kind = "person" if len(name.split()) == 2 else "other"
    return {"name": name, "kind": kind, "role": "mentioned in the article", "aliases": []}


# --------------------------------------------------------------------------------------------
# Rendering steps as responses


@dataclass
class _Answer:
    status: int
    payload: Any  # dict (sent as JSON) or bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def to_bytes(self) -> bytes:
        if isinstance(self.payload, bytes):
            return self.payload
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")


def _error_body(
    message: str, *, type: str, code: str | None = None, param: str | None = None  # noqa: A002
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    chars = sum(len(_message_text(m.get("content"))) for m in messages if isinstance(m, dict))
    return chars // 4


def _completion(step: ReplyStep, body: dict[str, Any], *, completion_id: str) -> dict[str, Any]:
    if step.usage is not None:
        prompt_tokens, completion_tokens = step.usage
    else:
        prompt_tokens = _prompt_tokens(body)
        completion_tokens = len(step.content if step.content is not None else step.refusal or "") // 4
    model = step.model or body.get("model") or DEFAULT_MODEL
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": step.content, "refusal": step.refusal},
                "logprobs": None,
                "finish_reason": step.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "scripted",
    }


def _stream(completion: dict[str, Any], *, include_usage: bool) -> bytes:
    """A completion as server-sent events, the way ``stream: true`` delivers it."""
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    choice = completion["choices"][0]
    message = choice["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"]}
    if message["refusal"] is not None:
        delta["refusal"] = message["refusal"]
    chunks = [
        base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
    ]
    if include_usage:
        chunks.append(base | {"choices": [], "usage": completion["usage"]})
    events = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return events.encode("utf-8")


# --------------------------------------------------------------------------------------------
# The server


def _split_path(raw: str) -> tuple[str, dict[str, list[str]]]:
    """A request target as (path without the optional ``/v1`` prefix, query)."""
    url = urlsplit(raw)
    path = url.path.rstrip("/") or "/"
    if path.startswith("/v1/") or path == "/v1":
        path = path[3:] or "/"
    return path, parse_qs(url.query)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # 64+ clients connect at once; the default backlog of 5 drops some

    def __init__(self, address: tuple[str, int], llm: ScriptedLLM) -> None:
        self.llm = llm
        self.connections: set[socket.socket] = set()
        self.accepted = 0
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool reuses sockets
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)
            self.server.accepted += 1

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by design
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        # Read the whole body before answering, whatever the path, so keep-alive stays in sync.
        body = self._read_body()
        path, query = _split_path(self.path)
        try:
            answer = self.server.llm._route(method, path, query, body, dict(self.headers))
        except Exception as exc:  # a bug in a responder: show it to the test, don't hang it
            answer = _Answer(500, _error_body(f"ScriptedLLM failed: {exc!r}", type="server_error"))
        self._send(answer)

    def _send(self, answer: _Answer) -> None:
        data = answer.to_bytes()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", self.server.llm._new_id("req_"))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) and closed the socket
            self.close_connection = True


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


class ScriptedLLM:
    """A scripted OpenAI-compatible chat server on a local port, for tests (see module docs).

    ``latency_s`` is added to every chat request; ``requests`` logs every chat request body
    (batch lines included) in order.
    """

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.responder: Responder = responder or grounded_responder
        self.latency_s = latency_s
        self.host = host
        self.port = port
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()
        self._batch_lock = threading.Lock()  # one status change at a time; taken before _lock
        self._ids = itertools.count(1)
        self._files: dict[str, _File] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The URL to give the client, e.g. ``http://127.0.0.1:54321/v1``."""
        if self._server is None:
            raise RuntimeError("ScriptedLLM is not running: call start() or use it as a context manager")
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ScriptedLLM:
        if self._server is not None:
            raise RuntimeError("ScriptedLLM is already running")
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="ScriptedLLM", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping in delay() or latency
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            connections = list(server.connections)
        for conn in connections:  # idle keep-alive handlers would otherwise wait for the client
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- scripting ----------------------------------------------------------------------------

    def enqueue(self, *steps: str | dict[str, Any] | Step) -> None:
        """Queue answers for the next chat requests, in order (a str or dict is a reply)."""
        normalised = [_as_step(step) for step in steps]
        with self._lock:
            self._queue.extend(normalised)

    @property
    def pending(self) -> int:
        """Queued steps not yet consumed."""
        with self._lock:
            return len(self._queue)

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since start (lower than requests when keep-alive works)."""
        server = self._server
        return server.accepted if server is not None else 0

    @property
    def chat_count(self) -> int:
        """Chat requests received so far (batch lines included)."""
        with self._lock:
            return len(self.requests)

    def reset(self) -> None:
        """Forget queued steps, logged requests, files and batches; keep serving."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self._files.clear()
            self._batches.clear()

    # -- request handling ---------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _next_step(self, body: dict[str, Any]) -> Step:
        with self._lock:
            self.requests.append(body)
            if self._queue:
                return self._queue.popleft()
        return _as_step(self.responder(body))

    def _answer(self, step: Step, body: dict[str, Any], *, wait: bool) -> _Answer:
        while isinstance(step, DelayStep):
            if wait:
                self._stopping.wait(step.seconds)
            step = _as_step(step.then) if step.then is not None else _as_step(self.responder(body))
        if isinstance(step, ErrorStep):
            payload = _error_body(step.message, type=step.type or "server_error", code=step.code)
            return _Answer(step.status, payload, headers=step.headers)
        if isinstance(step, RawStep):
            return _Answer(step.status, step.body, step.content_type)
        return _Answer(200, _completion(step, body, completion_id=self._new_id("chatcmpl-")))

    def _chat(self, raw_body: bytes) -> _Answer:
        try:
            body = json.loads(raw_body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _Answer(400, _error_body("The request body is not a JSON object.", type="invalid_request_error"))
        step = self._next_step(body)
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        answer = self._answer(step, body, wait=True)
        if body.get("stream") and answer.status == 200 and isinstance(answer.payload, dict):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return _Answer(200, _stream(answer.payload, include_usage=include_usage), "text/event-stream")
        return answer

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> _Answer:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/chat/completions":
            return self._chat(body)
        if method == "GET" and path == "/health":
            return _Answer(200, {"status": "ok"})
        if method == "GET" and path == "/models":
            model = {"id": DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "summariser"}
            return _Answer(200, {"object": "list", "data": [model]})
        if parts[0] == "files":
            return self._files_route(method, parts[1:], query, body, headers)
        if parts[0] == "batches":
            return self._batches_route(method, parts[1:], query, body)
        return _not_found(f"Unknown request URL: {method} {path}.")

    # -- files --------------------------------------------------------------------------------

    def _files_route(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> _Answer:
        if not rest and method == "POST":
            fields = _parse_multipart(headers.get("Content-Type") or headers.get("content-type") or "", body)
            upload = fields.get("file")
            purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
            if upload is None or not purpose:
                return _Answer(400, _error_body("Upload 'file' and 'purpose' as multipart/form-data.",
                                                type="invalid_request_error"))
            file = _File(self._new_id("file-"), upload[0] or "upload", purpose, upload[1])
            with self._lock:
                self._files[file.id] = file
            return _Answer(200, file.to_dict())
        if not rest and method == "GET":
            with self._lock:
                files = [f.to_dict() for f in self._files.values()]
            return _Answer(200, _page(files[::-1], query))
        with self._lock:
            file = self._files.get(rest[0]) if rest else None
        if file is None:
            return _not_found(f"No such File object: {rest[0] if rest else ''}")
        if len(rest) == 1 and method == "GET":
            return _Answer(200, file.to_dict())
        if len(rest) == 1 and method == "DELETE":
            with self._lock:
                self._files.pop(file.id, None)
            return _Answer(200, {"id": file.id, "object": "file", "deleted": True})
        if rest[1:] == ["content"] and method == "GET":
            return _Answer(200, file.data, "application/octet-stream")
        return _not_found(f"Unknown request URL: {method} /v1/files/{'/'.join(rest)}.")

    def _store_file(self, filename: str, purpose: str, lines: list[dict[str, Any]]) -> str:
        data = "".join(_compact(line) + "\n" for line in lines).encode("utf-8")
        file = _File(self._new_id("file-"), filename, purpose, data)
        with self._lock:
            self._files[file.id] = file
        return file.id

    # -- batches ------------------------------------------------------------------------------

    def _batches_route(self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes) -> _Answer:
        if not rest and method == "POST":
            return self._create_batch(body)
        if not rest and method == "GET":
            with self._lock:
                batches = [_public(b) for b in self._batches.values()]
            return _Answer(200, _page(batches[::-1], query))
        with self._lock:
            batch = self._batches.get(rest[0])
        if batch is None:
            return _not_found(f"No batch found with id '{rest[0]}'.")
        if len(rest) == 1 and method == "GET":
            with self._batch_lock:
                return _Answer(200, _public(self._advance(batch)))
        if rest[1:] == ["cancel"] and method == "POST":
            with self._batch_lock:
                if batch["status"] not in ("validating", "in_progress"):
                    return _Answer(409, _error_body(
                        f"Cannot cancel a batch with status '{batch['status']}'.", type="invalid_request_error"))
                batch.update(status="cancelling", cancelling_at=int(time.time()))
            return _Answer(200, _public(batch))
        return _not_found(f"Unknown request URL: {method} /v1/batches/{'/'.join(rest)}.")

    def _create_batch(self, raw_body: bytes) -> _Answer:
        try:
            params = json.loads(raw_body or b"null")
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return _Answer(400, _error_body("The request body is not a JSON object.", type="invalid_request_error"))
        if params.get("endpoint") != "/v1/chat/completions":
            return _Answer(400, _error_body("ScriptedLLM batches support only '/v1/chat/completions'.",
                                            type="invalid_request_error", param="endpoint"))
        if params.get("completion_window") != "24h":
            return _Answer(400, _error_body("completion_window must be '24h'.",
                                            type="invalid_request_error", param="completion_window"))
        with self._lock:
            input_file = self._files.get(params.get("input_file_id") or "")
        if input_file is None:
            return _Answer(400, _error_body(f"Invalid input_file_id: {params.get('input_file_id')!r}.",
                                            type="invalid_request_error", param="input_file_id"))
        now = int(time.time())
        batch: dict[str, Any] = {
            "id": self._new_id("batch_"),
            "object": "batch",
            "endpoint": params["endpoint"],
            "model": None,
            "errors": None,
            "input_file_id": input_file.id,
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 24 * 3600,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "usage": None,
            "metadata": params.get("metadata"),
            "_lines": None,
        }
        with self._lock:
            self._batches[batch["id"]] = batch
        return _Answer(200, _public(batch))

    def _advance(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Move a batch one status on: validating -> in_progress (or failed) -> completed."""
        now = int(time.time())
        status = batch["status"]
        if status == "cancelling":
            batch.update(status="cancelled", cancelled_at=now)
        elif status == "validating":
            with self._lock:
                data = self._files[batch["input_file_id"]].data
            lines, problems = _parse_batch_input(data, endpoint=batch["endpoint"])
            if problems:
                batch.update(status="failed", failed_at=now, errors={"object": "list", "data": problems})
            else:
                models = {line["body"].get("model") for line in lines}
                batch.update(
                    status="in_progress",
                    in_progress_at=now,
                    _lines=lines,
                    model=models.pop() if len(models) == 1 else None,
                    request_counts={"total": len(lines), "completed": 0, "failed": 0},
                )
        elif status == "in_progress":
            self._run_batch(batch)
        return batch

    def _run_batch(self, batch: dict[str, Any]) -> None:
        outputs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        tokens = {"input": 0, "output": 0}
        for line in batch["_lines"]:
            body = line["body"]
            answer = self._answer(self._next_step(body), body, wait=False)
            payload: Any = answer.payload
            if isinstance(payload, bytes):
                try:
                    payload = json.loads(payload)
                except ValueError:
                    payload = payload.decode("utf-8", "replace")
            record = {
                "id": self._new_id("batch_req_"),
                "custom_id": line["custom_id"],
                "response": {"status_code": answer.status, "request_id": self._new_id("req_"), "body": payload},
                "error": None,
            }
            (outputs if answer.status == 200 else errors).append(record)
            usage = payload.get("usage") if isinstance(payload, dict) and answer.status == 200 else None
            if isinstance(usage, dict):
                tokens["input"] += int(usage.get("prompt_tokens") or 0)
                tokens["output"] += int(usage.get("completion_tokens") or 0)
        now = int(time.time())
        batch.update(
            status="completed",
            finalizing_at=now,
            completed_at=now,
            request_counts={"total": len(batch["_lines"]), "completed": len(outputs), "failed": len(errors)},
            usage={
                "input_tokens": tokens["input"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": tokens["output"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": tokens["input"] + tokens["output"],
            },
        )
        if outputs:
            batch["output_file_id"] = self._store_file(f"{batch['id']}_output.jsonl", "batch_output", outputs)
        if errors:
            batch["error_file_id"] = self._store_file(f"{batch['id']}_error.jsonl", "batch_output", errors)


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _not_found(message: str) -> _Answer:
    return _Answer(404, _error_body(message, type="invalid_request_error"))


def _page(items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    after = (query.get("after") or [None])[0]
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = int((query.get("limit") or ["20"])[0])
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }


def _parse_batch_input(data: bytes, *, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The request lines of a batch input file, or the problems that fail the batch."""
    lines: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()

    def problem(code: str, message: str, number: int) -> None:
        problems.append({"code": code, "message": message, "param": None, "line": number})

    for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            problem("invalid_json_line", "This line is not parseable as valid JSON.", number)
            continue
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str) or not isinstance(
            line.get("body"), dict
        ):
            problem("missing_required_parameter", "Each line needs a string 'custom_id' and an object 'body'.", number)
        elif line.get("url") != endpoint or line.get("method", "POST") != "POST":
            problem("mismatched_endpoint", f"Each line must be POST {endpoint}.", number)
        elif line["custom_id"] in seen:
            problem("duplicate_custom_id", "The custom_id for this request is a duplicate of another request.", number)
        else:
            seen.add(line["custom_id"])
            lines.append(line)
    if not lines and not problems:
        problem("empty_file", "The input file has no requests.", 0)
    return lines, problems


def _parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``{field name: (filename, bytes)}`` from a multipart/form-data body."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        return {}
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        disposition = Message()
        for raw_line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = raw_line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition["content-disposition"] = value.strip()
        field_name = disposition.get_param("name", header="content-disposition")
        if isinstance(field_name, str):
            fields[field_name] = (disposition.get_filename(), data)
    return fields



# --------------------------------------------------------------------------------------------
# In-process fake


class FakeModel(ScriptedLLM):
    """The same scripting as :class:`ScriptedLLM`, answered in-process: no port, no thread.

    For your own unit tests: the real ``openai`` client and summariser's whole retry and
    grounding path run unchanged, over ``httpx.MockTransport`` instead of a socket::

        from summariser.testing import FakeModel, error, reply

        fake = FakeModel()                                   # grounded replies by default
        fake.enqueue(error(429, headers={"Retry-After": "0"}), reply({"headline": "..."}))
        with fake.summariser() as s:                         # or Summariser(settings, client=fake.client(settings))
            outcome = s.summarise(text)
        assert fake.chat_count == 2

    ``delay()`` steps are not slept (unit tests stay fast); a delay at or above the client's read
    timeout raises ``httpx.ReadTimeout`` at once, as a slow server would after the timeout. For
    real latency, keep-alive or concurrency tests use :class:`ScriptedLLM`.
    """

    BASE_URL = "http://fake-model.invalid/v1"

    def __init__(self, *, responder: Responder | None = None) -> None:
        super().__init__(responder=responder)
        self._request: Any = None
        self._serial = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.BASE_URL

    def start(self) -> FakeModel:  # nothing to start: answers are computed in the caller's thread
        return self

    def stop(self) -> None:
        pass

    def transport(self) -> Any:
        """An ``httpx.MockTransport`` (sync and async) that answers like the scripted server."""
        import httpx

        def handle(request: httpx.Request) -> httpx.Response:
            path, query = _split_path(request.url.raw_path.decode("ascii"))
            with self._serial:  # one request at a time: _answer reads the request being served
                self._request = request
                try:
                    answer = self._route(request.method, path, query, request.content, dict(request.headers))
                finally:
                    self._request = None
            headers = [("content-type", answer.content_type), ("x-request-id", self._new_id("req_")), *answer.headers]
            return httpx.Response(answer.status, content=answer.to_bytes(), headers=headers)

        return httpx.MockTransport(handle)

    def _answer(self, step: Step, body: dict[str, Any], *, wait: bool) -> _Answer:
        waited, probe = 0.0, step
        while isinstance(probe, DelayStep):
            waited += probe.seconds
            probe = _as_step(probe.then) if probe.then is not None else None
        request = self._request
        timeout = ((request.extensions.get("timeout") or {}).get("read") if request is not None else None)
        if waited and timeout is not None and waited >= timeout:
            import httpx

            raise httpx.ReadTimeout(f"FakeModel: a {waited:g}s delay at a {timeout:g}s read timeout", request=request)
        return super()._answer(step, body, wait=False)

    def settings(self, **values: Any) -> Any:
        """Settings pointed at this fake (no config file or environment is read)."""
        from .config import Settings

        values = {"base_url": self.BASE_URL, "api_key": "fake-key", "model": DEFAULT_MODEL, **values}
        return Settings(**values)

    def client(self, settings: Any = None) -> Any:
        """A ``ChatClient`` whose requests this fake answers."""
        from .llm import ChatClient

        return ChatClient(settings or self.settings(), transport=self.transport())

    def summariser(self, settings: Any = None, **kwargs: Any) -> Any:
        """A ``Summariser`` wired to this fake (``kwargs`` go to ``Summariser``: prompt, store)."""
        from .extract import Summariser

        settings = settings or self.settings()
        return Summariser(settings, client=self.client(settings), **kwargs)
