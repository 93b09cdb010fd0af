#!/usr/bin/env python
"""What summariser costs next to the model: per-call overhead, async throughput, re-ask tokens,
import time, side by side with raw ``openai`` and with ``instructor``.

    .venv/bin/python bench/bench_overhead.py            # everything (~1-2 minutes once the venv exists)
    .venv/bin/python bench/bench_overhead.py --quick    # fewer calls, for a smoke test
    .venv/bin/python bench/bench_overhead.py --skip-instructor
    .venv/bin/python bench/bench_overhead.py --imports-only --against 89de16e   # import time, two trees

Layout. This process (the main venv) starts the ScriptedLLM servers and never makes a call
itself. Every client runs in a worker subprocess, so each client process is measured the same
way (its own GIL, the server's CPU in another process):

* main worker (``.venv``): raw openai (this venv's version) and summariser;
* instructor worker (``.bench-venv/instructor``, made on demand from
  ``bench/requirements-instructor.txt``): raw openai (*that* venv's version, which instructor
  holds back) and instructor. The instructor ratio is against raw openai in the same process.

Both workers use the same schema (``summariser/schema.py``, loaded by file path in the
instructor venv, where summariser is not installed), the same article
(``seeds/reuters-moscow-beijing-ukraine.txt``) and the same chat request (the exact body
summariser's session builds: prompt, temperature, max_tokens, params), and the servers answer
them all with the same valid, fully grounded reply.

Tokens in the re-ask test are counted on the server, identically for every client: the sum over
requests of the prompt_tokens ScriptedLLM reports (characters of all message contents // 4).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

# The scenarios script whole SummaryDraft replies (quotes copied): article@2's reply format, the
# default until article@7. article@7's compact reply is measured on the embedded model (bench_local.py).
PROMPT = "article@2"

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "reuters-moscow-beijing-ukraine.txt"
REQUIREMENTS = REPO / "bench" / "requirements-instructor.txt"
INSTRUCTOR_VENV = REPO / ".bench-venv" / "instructor"
MAIN_PYTHON = Path(sys.executable)

REASK_ATTEMPTS = 5
UNGROUNDED_QUOTE = "Moscow and Beijing signed a new treaty on grain exports in the spring"


# ============================================================================================
# Worker side: runs in either venv. Nothing at module level imports summariser or openai.


def _schema_module() -> Any:
    """``summariser/schema.py`` by file path: it needs only pydantic, so the instructor venv can
    use the very same SummaryDraft without summariser (or its dependencies) installed."""
    name = "_bench_summariser_schema"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "summariser" / "schema.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _grounded_model(base: Any) -> Any:
    """``base`` plus a validator that rejects quotes not in the article (passed as context):
    the check an instructor user writes to get what summariser's grounding does."""
    from pydantic import ValidationInfo, model_validator

    class GroundedDraft(base):  # type: ignore[misc, valid-type]
        @model_validator(mode="after")
        def quotes_in_article(self, info: ValidationInfo) -> "GroundedDraft":
            article = (info.context or {}).get("article", "")
            missing = [f.quote for f in self.key_facts if f.quote not in article]
            missing += [s.quote for s in self.stances if s.quote not in article]
            if missing:
                raise ValueError(f"quotes not found in the article, copy them exactly: {missing}")
            return self

    GroundedDraft.__name__ = "SummaryDraft"
    return GroundedDraft


def _stats(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "p10_ms": statistics.quantiles(ms, n=10)[0],
        "p90_ms": statistics.quantiles(ms, n=10)[-1],
    }


class _Clients:
    """The calls under test, built per worker: ``sync[name]()`` makes one call and checks it,
    ``make_async[name]()`` is an async context giving a coroutine function for one call."""

    def __init__(self, kind: str, job: dict[str, Any]) -> None:
        self.kind, self.job = kind, job
        self.body: dict[str, Any] = job["body"]
        self.article: str = job["article"]
        self.versions: dict[str, str] = {}
        if kind == "main":
            from summariser.schema import SummaryDraft
        else:
            SummaryDraft = _schema_module().SummaryDraft
        self.model = SummaryDraft
        self.names = ["raw", "summariser"] if kind == "main" else ["raw", "instructor"]

    # -- sync ---------------------------------------------------------------------------
    def sync_call(self, name: str, base_url: str) -> tuple[Any, Any]:
        """(call, close) for one client against ``base_url``."""
        import openai

        self.versions["openai"] = openai.__version__
        body, model, article = self.body, self.model, self.article
        if name == "raw":
            client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)

            def call() -> None:
                response = client.chat.completions.create(**body)
                model.model_validate_json(response.choices[0].message.content)

            return call, client.close
        if name == "summariser":
            from summariser.config import Settings
            from summariser.extract import Summariser

            s = Summariser(Settings(base_url=base_url, api_key="bench", model=body["model"], prompt=PROMPT))

            def call() -> None:
                s.summarise(article)

            return call, s.close
        if name == "instructor":
            import instructor

            self.versions["instructor"] = instructor.__version__
            client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
            ic = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
            kwargs = {k: v for k, v in body.items() if k != "response_format"}

            def call() -> None:
                ic.chat.completions.create(response_model=model, **kwargs)

            return call, client.close
        raise ValueError(name)

    # -- async --------------------------------------------------------------------------
    async def async_call(self, name: str, base_url: str) -> tuple[Any, Any]:
        import openai

        body, model, article = self.body, self.model, self.article
        if name == "raw":
            client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

            async def call() -> None:
                response = await client.chat.completions.create(**body)
                model.model_validate_json(response.choices[0].message.content)

            return call, client.close
        if name == "summariser":
            from summariser.config import Settings
            from summariser.extract import Summariser

            s = Summariser(Settings(base_url=base_url, api_key="bench", model=body["model"], prompt=PROMPT))

            async def call() -> None:
                await s.asummarise(article)

            async def close() -> None:
                await s.aclose()
                s.close()

            return call, close
        if name == "instructor":
            import instructor

            client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
            ic = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
            kwargs = {k: v for k, v in body.items() if k != "response_format"}

            async def call() -> None:
                await ic.chat.completions.create(response_model=model, **kwargs)

            return call, client.close
        raise ValueError(name)


def _per_call(clients: _Clients, job: dict[str, Any]) -> dict[str, Any]:
    """Sync calls against the zero-latency server, in interleaved rounds so drift hits all alike."""
    import gc

    rounds, calls, warmup = job["rounds"], job["calls"], job["warmup"]
    per_round = max(1, calls // rounds)
    made = {name: clients.sync_call(name, job["s0"]) for name in clients.names}
    samples: dict[str, list[float]] = {name: [] for name in clients.names}
    for name, (call, _) in made.items():
        for _ in range(warmup):
            call()
    clock = time.perf_counter
    for r in range(rounds):
        order = clients.names if r % 2 == 0 else clients.names[::-1]
        for name in order:
            call = made[name][0]
            gc.collect()
            out = samples[name]
            for _ in range(per_round):
                t0 = clock()
                call()
                out.append(clock() - t0)
    for _, close in made.values():
        close()
    return {name: _stats(s) for name, s in samples.items()}


def _throughput(clients: _Clients, job: dict[str, Any]) -> dict[str, Any]:
    """``async_calls`` calls, ``concurrency`` in flight, against the slow server. Each repeat gets a
    fresh client and event loop (and 64 untimed calls to open its connections); the clients take
    turns, so machine noise spreads over all of them. Median and best of the repeats are kept."""
    import asyncio
    import gc

    n, width = job["async_calls"], job["concurrency"]

    async def one_run(name: str) -> float:
        call, close = await clients.async_call(name, job["s_slow"])
        try:
            await asyncio.gather(*(call() for _ in range(width)))  # warm: open the connections
            semaphore = asyncio.Semaphore(width)

            async def limited() -> None:
                async with semaphore:
                    await call()

            gc.collect()  # every client starts from the same heap: a full collection left over
            # from the previous client's run (~0.2 s here) would otherwise land on whoever is next
            t0 = time.perf_counter()
            await asyncio.gather(*(limited() for _ in range(n)))
            return time.perf_counter() - t0
        finally:
            await close()

    walls: dict[str, list[float]] = {name: [] for name in clients.names}
    for r in range(job["async_repeats"]):
        for name in clients.names if r % 2 == 0 else clients.names[::-1]:
            walls[name].append(asyncio.run(one_run(name)))
    out = {}
    for name, w in walls.items():
        wall = statistics.median(w)
        out[name] = {"calls": n, "concurrency": width, "wall_s": wall, "calls_per_s": n / wall,
                     "best_calls_per_s": n / min(w), "walls_s": w}
    return out


def _reask(clients: _Clients, job: dict[str, Any]) -> dict[str, Any]:
    """Five attempts (four bad replies scripted by the parent, then a valid one) per scenario."""
    out: dict[str, Any] = {}
    for scenario, base_url in job["reask"].items():
        if clients.kind == "main":
            from summariser.config import Settings
            from summariser.extract import Summariser

            settings = Settings(base_url=base_url, api_key="bench", model=clients.body["model"], prompt=PROMPT,
                                max_attempts=REASK_ATTEMPTS)
            with Summariser(settings) as s:
                summary = s.summarise(clients.article)
            p = summary.provenance
            out[f"summariser/{scenario}"] = {"attempts": p.attempts, "client_prompt_tokens": p.usage.prompt_tokens}
        else:
            import instructor
            import openai

            model = clients.model if scenario == "schema" else _grounded_model(clients.model)
            client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
            ic = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
            kwargs = {k: v for k, v in clients.body.items() if k != "response_format"}
            result = ic.chat.completions.create(
                response_model=model, max_retries=REASK_ATTEMPTS - 1, context={"article": clients.article}, **kwargs
            )
            usage = getattr(result, "_total_usage", None)
            client.close()
            out[f"instructor/{scenario}"] = {
                "attempts": None,  # counted on the server
                "client_prompt_tokens": getattr(usage, "prompt_tokens", None),
            }
    return out


def worker(kind: str) -> None:
    job = json.load(sys.stdin)
    clients = _Clients(kind, job)
    result: dict[str, Any] = {"kind": kind, "python": sys.version.split()[0]}
    result["per_call"] = _per_call(clients, job)
    result["throughput"] = _throughput(clients, job)
    result["reask"] = _reask(clients, job)
    result["versions"] = clients.versions
    json.dump(result, sys.stdout)


# ============================================================================================
# Import time: fresh interpreters, perf_counter around the imports (interpreter start excluded)

_IMPORT_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
{first}
t1 = time.perf_counter()
{second}
t2 = time.perf_counter()
print(json.dumps({{"first": t1 - t0, "second": t2 - t1, "openai_loaded": "openai" in sys.modules,
                  "summariser": getattr(sys.modules.get("summariser"), "__file__", None)}}))
"""
IMPORT_SUMMARISER = "import openai; import summariser"


# label -> (python, source tree, first statement, second statement); the "second" time is what it
# adds. ``python -c`` puts its working directory first on sys.path, so the tree is what it imports.
def _import_cases(instructor_python: Path | None, against: list[tuple[str, Path]]) -> dict[str, tuple[Path, Path, str, str]]:
    cases = {
        "import openai": (MAIN_PYTHON, REPO, "import openai", "pass"),
        IMPORT_SUMMARISER: (MAIN_PYTHON, REPO, "import openai", "import summariser"),
        "import openai; from summariser import summarise_article": (
            MAIN_PYTHON, REPO, "import openai", "from summariser import summarise_article"),
        "import openai; import summariser, summariser.extract, summariser.llm": (
            MAIN_PYTHON, REPO, "import openai", "import summariser, summariser.extract, summariser.llm"),
        "import summariser (alone)": (MAIN_PYTHON, REPO, "import summariser", "pass"),
        "import summariser, summariser.extract, summariser.llm (alone)": (
            MAIN_PYTHON, REPO, "import summariser, summariser.extract, summariser.llm", "pass"),
    }
    for label, tree in against:
        cases[f"{IMPORT_SUMMARISER} [{label}]"] = (MAIN_PYTHON, tree, "import openai", "import summariser")
    if instructor_python is not None:
        cases["[instructor venv] import openai"] = (instructor_python, REPO, "import openai", "pass")
        # instructor's __init__ is lazy: name what a user imports so the import actually happens
        cases["[instructor venv] import openai; from instructor import from_openai, Mode"] = (
            instructor_python, REPO, "import openai", "from instructor import from_openai, Mode")
    return cases


def measure_imports(runs: int, instructor_python: Path | None, against: list[tuple[str, Path]]) -> dict[str, Any]:
    cases = _import_cases(instructor_python, against)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label in cases}

    def run(label: str) -> dict[str, Any]:
        python, tree, first, second = cases[label]
        code = _IMPORT_SNIPPET.format(first=first, second=second)
        done = subprocess.run([str(python), "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout)
        if result["summariser"] and not Path(result["summariser"]).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"{label!r} imported {result['summariser']}, not the tree {tree}")
        return result

    for label in cases:  # once untimed: write the .pyc files, warm the page cache
        run(label)
    for r in range(runs):
        labels = list(cases) if r % 2 == 0 else list(cases)[::-1]
        for label in labels:
            samples[label].append(run(label))
    out = {}
    for label, s in samples.items():
        out[label] = {
            "first_ms": statistics.median(x["first"] for x in s) * 1000,
            "adds_ms": statistics.median(x["second"] for x in s) * 1000,
            "adds_min_ms": min(x["second"] for x in s) * 1000,
            "total_ms": statistics.median(x["first"] + x["second"] for x in s) * 1000,
            "openai_loaded": s[0]["openai_loaded"],
            "runs": len(s),
        }
    return out


def against_tree(spec: str, stack: ExitStack) -> tuple[str, Path]:
    """(label, source tree) for ``--against``: a directory as it is, or a git commit of this
    repository unpacked (``git archive``) into a temporary directory that ``stack`` removes."""
    path = Path(spec)
    if path.is_dir():
        return f"{spec}: {_code_state(path)}", path.resolve()
    commit = subprocess.run(["git", "rev-parse", "--short", f"{spec}^{{commit}}"], cwd=REPO, capture_output=True, text=True)
    if commit.returncode != 0:
        raise SystemExit(f"--against {spec}: neither a directory nor a commit of {REPO}")
    tree = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-import-")))
    archive = subprocess.run(["git", "archive", commit.stdout.strip()], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return commit.stdout.strip(), tree


def import_lines(imports: dict[str, Any], against: list[tuple[str, Path]]) -> list[str]:
    """Section 4 of the report: every case, the target, and this tree beside each ``--against`` tree."""
    runs = next(iter(imports.values()))["runs"]
    lines = [f"4. Import time: fresh interpreter per run, perf_counter around the imports, median of "
             f"{runs} runs (interpreter start-up excluded)",
             f"   {'statement(s)':<72}{'1st ms':>8}{'adds ms':>9}{'total ms':>10}  openai loaded"]
    for label, r in imports.items():
        lines.append(f"   {label:<72}{r['first_ms']:>8.1f}{r['adds_ms']:>9.1f}{r['total_ms']:>10.1f}  {r['openai_loaded']}")
    adds = imports[IMPORT_SUMMARISER]["adds_ms"]
    real = imports["import openai; import summariser, summariser.extract, summariser.llm"]["adds_ms"]
    lines.append(f"   target: import summariser adds <= 50 ms to import openai  ->  {'PASS' if adds <= 50 else 'MISS'} "
                 f"({adds:.1f} ms; with what a real call needs, extract + llm: {real:.1f} ms)")
    if against:
        here = imports[IMPORT_SUMMARISER]
        lines.append(f"   side by side, interleaved: what `import summariser` adds to `import openai` ({runs} runs each)")
        lines.append(f"   {'source tree':<72}{'median ms':>10}{'min ms':>8}{'this / that (median, min)':>28}")
        lines.append(f"   {'this one: ' + _code_state():<72}{here['adds_ms']:>10.1f}{here['adds_min_ms']:>8.1f}")
        for label, _ in against:
            there = imports[f"{IMPORT_SUMMARISER} [{label}]"]
            ratios = f"{here['adds_ms'] / there['adds_ms']:.3f}, {here['adds_min_ms'] / there['adds_min_ms']:.3f}"
            lines.append(f"   {label:<72}{there['adds_ms']:>10.1f}{there['adds_min_ms']:>8.1f}{ratios:>28}")
    return lines


# ============================================================================================
# Orchestrator


def ensure_instructor_venv() -> Path:
    """``.bench-venv/instructor`` from bench/requirements-instructor.txt, rebuilt when that changes."""
    python = INSTRUCTOR_VENV / "bin" / "python"
    stamp = INSTRUCTOR_VENV / ".requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return python
    print(f"creating {INSTRUCTOR_VENV.relative_to(REPO)} from {REQUIREMENTS.relative_to(REPO)} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(INSTRUCTOR_VENV)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"pip install -r {REQUIREMENTS} failed:\n{done.stderr[-4000:]}")
    stamp.write_text(want + "\n")
    return python


def _request_body(article: str) -> dict[str, Any]:
    """The exact first request summariser sends for this article (default prompt, json_schema)."""
    from summariser.article import Article
    from summariser.prompts import load_prompt
    from summariser.session import ArticleTask, Session

    session = Session(ArticleTask(Article(article)), load_prompt(PROMPT), model="scripted", mode="json_schema")
    return session.request()


def _bad_replies(good: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
    replies = []
    for i in range(REASK_ATTEMPTS - 1):
        bad = json.loads(json.dumps(good))
        if scenario == "schema":
            bad["participants"][0]["kind"] = ["nation", "state", "body", "entity"][i % 4]  # not an allowed kind
        else:
            # valid schema, quote not in the article; a different one each time, because
            # summariser stops re-asking when a model repeats its previous reply word for word
            bad["key_facts"][0]["quote"] = f"{UNGROUNDED_QUOTE} ({i + 1})"
        replies.append(bad)
    return replies


def _server_count(requests: list[dict[str, Any]]) -> dict[str, int]:
    from summariser.testing import _message_text, _prompt_tokens

    chars = sum(len(_message_text(m.get("content"))) for body in requests for m in body.get("messages") or [])
    return {
        "requests": len(requests),
        "prompt_tokens": sum(_prompt_tokens(body) for body in requests),
        "chars": chars,
        "messages_last": len(requests[-1].get("messages") or []) if requests else 0,
    }


def run_worker(python: Path, kind: str, job: dict[str, Any], latency_s: float) -> dict[str, Any]:
    from summariser.testing import ScriptedLLM, grounded_responder, reply

    good = grounded_responder(job["body"])
    good_step = reply(good)
    responder = lambda body: good_step  # noqa: E731 - the same reply for every client
    fast = ScriptedLLM(responder=responder).start()
    slow = ScriptedLLM(responder=responder, latency_s=latency_s).start()
    reask = {}
    for scenario in ("schema", "ungrounded"):
        server = ScriptedLLM(responder=responder).start()
        server.enqueue(*_bad_replies(good, scenario))
        reask[scenario] = server
    try:
        payload = dict(job, s0=fast.base_url, s_slow=slow.base_url,
                       reask={k: v.base_url for k, v in reask.items()})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTHON"))}
        done = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--worker", kind],
            input=json.dumps(payload), capture_output=True, text=True, env=env, cwd=REPO,
        )
        if done.returncode != 0:
            raise SystemExit(f"{kind} worker failed:\n{done.stderr[-4000:]}")
        result = json.loads(done.stdout)
        name = "summariser" if kind == "main" else "instructor"
        for scenario, server in reask.items():
            result["reask"][f"{name}/{scenario}"].update(_server_count(server.requests))
            if result["reask"][f"{name}/{scenario}"]["attempts"] is None:
                result["reask"][f"{name}/{scenario}"]["attempts"] = len(server.requests)
        return result
    finally:
        for server in (fast, slow, *reask.values()):
            server.stop()


def _code_state(repo: Path = REPO) -> str:
    """Which summariser was measured: the commit, and whether summariser/ had local edits."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "summariser"], cwd=repo, capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return "unknown (no git)"
    return f"{head or 'unknown'}" + (" + uncommitted changes in summariser/" if dirty else "")


def _fmt_ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.3f}" if a is not None and b else "-"


def report(results: dict[str, Any], imports: dict[str, Any] | None, job: dict[str, Any], latency_s: float,
           against: list[tuple[str, Path]]) -> str:
    main, inst = results.get("main"), results.get("instructor")
    lines: list[str] = []
    add = lines.append
    versions = f"main venv: openai {main['versions'].get('openai')}"
    if inst:
        versions += f" | instructor venv: openai {inst['versions'].get('openai')}, instructor {inst['versions'].get('instructor')}"
    add(f"summariser overhead bench — python {main['python']} | {versions}")
    add(f"code: {_code_state()} | load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
        "(other work on the machine shows up as noise)")
    add(f"article: {SEED.relative_to(REPO)} ({len(job['article'])} chars), prompt as summariser sends it, "
        "ScriptedLLM on 127.0.0.1 in the parent process")
    add("")

    add(f"1. Per-call overhead: {job['calls']} sync calls each after {job['warmup']} warm-up, zero-latency server "
        f"({job['rounds']} interleaved rounds)")
    add(f"   {'client':<34}{'median ms':>10}{'mean ms':>10}{'p90 ms':>9}{'Δmedian':>10}{'Δmean':>9}{'ratio':>8}")

    def per_call_rows(res: dict[str, Any], label_raw: str, other: str) -> None:
        pc = res["per_call"]
        raw = pc["raw"]
        for name, label in (("raw", label_raw), (other, other)):
            s = pc[name]
            d_med, d_mean = s["median_ms"] - raw["median_ms"], s["mean_ms"] - raw["mean_ms"]
            add(f"   {label:<34}{s['median_ms']:>10.3f}{s['mean_ms']:>10.3f}{s['p90_ms']:>9.3f}"
                f"{d_med:>+10.3f}{d_mean:>+9.3f}{_fmt_ratio(s['median_ms'], raw['median_ms']):>8}")

    per_call_rows(main, f"raw openai {main['versions']['openai']} (main venv)", "summariser")
    if inst:
        per_call_rows(inst, f"raw openai {inst['versions']['openai']} (instr. venv)", "instructor")
    d = main["per_call"]["summariser"]["median_ms"] - main["per_call"]["raw"]["median_ms"]
    add(f"   target: summariser <= raw + 0.5 ms  ->  {'PASS' if d <= 0.5 else 'MISS'} ({d:+.3f} ms median, "
        f"{main['per_call']['summariser']['mean_ms'] - main['per_call']['raw']['mean_ms']:+.3f} ms mean)")
    add("")

    add(f"2. Throughput: {job['async_calls']} async calls, {job['concurrency']} in flight, {latency_s * 1000:.0f} ms server "
        f"latency (median of {job['async_repeats']} runs; ideal ≈ {job['concurrency'] / latency_s:.0f}/s)")
    add(f"   {'client':<34}{'wall s':>10}{'calls/s':>10}{'ratio vs raw':>14}{'best calls/s':>14}{'best ratio':>12}")

    def tp_rows(res: dict[str, Any], label_raw: str, other: str) -> float:
        tp = res["throughput"]
        for name, label in (("raw", label_raw), (other, other)):
            add(f"   {label:<34}{tp[name]['wall_s']:>10.3f}{tp[name]['calls_per_s']:>10.1f}"
                f"{_fmt_ratio(tp[name]['calls_per_s'], tp['raw']['calls_per_s']):>14}"
                f"{tp[name]['best_calls_per_s']:>14.1f}{_fmt_ratio(tp[name]['best_calls_per_s'], tp['raw']['best_calls_per_s']):>12}")
        return tp[other]["calls_per_s"] / tp["raw"]["calls_per_s"]

    ratio = tp_rows(main, f"raw openai {main['versions']['openai']}", "summariser")
    if inst:
        tp_rows(inst, f"raw openai {inst['versions']['openai']}", "instructor")
    add(f"   target: summariser >= 0.95 x raw  ->  {'PASS' if ratio >= 0.95 else 'MISS'} ({ratio:.3f}, on the medians)")
    add("")

    add(f"3. Re-ask: {REASK_ATTEMPTS} attempts (4 bad replies, then a valid one); counted on the server: "
        "prompt_tokens = Σ chars of message contents // 4")
    add(f"   {'client / bad replies':<34}{'requests':>9}{'msgs@5th':>9}{'chars sent':>12}{'prompt tok':>12}{'client tok':>12}")
    reask = dict(main["reask"])
    if inst:
        reask.update(inst["reask"])
    for key, r in reask.items():
        add(f"   {key.replace('/', ' / '):<34}{r['requests']:>9}{r['messages_last']:>9}{r['chars']:>12,}"
            f"{r['prompt_tokens']:>12,}{(r['client_prompt_tokens'] if r['client_prompt_tokens'] is not None else '-'):>12}")
    worst = max(r["prompt_tokens"] for k, r in reask.items() if k.startswith("summariser/"))
    add("   scenarios: schema = participants[0].kind not allowed; ungrounded = key_facts[0].quote not in the article "
        "(instructor: a model_validator checking quotes against context)")
    add(f"   target: summariser <= 7,500 prompt tokens  ->  {'PASS' if worst <= 7500 else 'MISS'} (worst {worst:,})")
    if inst:
        for scenario in ("schema", "ungrounded"):
            s, i = reask.get(f"summariser/{scenario}"), reask.get(f"instructor/{scenario}")
            if s and i:
                add(f"   {scenario}: instructor/summariser = {i['prompt_tokens'] / s['prompt_tokens']:.2f}x tokens, "
                    f"{i['chars'] / s['chars']:.2f}x chars")
    add("   (raw openai has no re-ask loop: not applicable)")
    add("")

    if imports:
        lines += import_lines(imports, against)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=["main", "instructor"], help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=300, help="timed sync calls per client (default 300)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed sync calls per client first (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds the timed calls are split into")
    parser.add_argument("--async-calls", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency for the throughput test, seconds")
    parser.add_argument("--async-repeats", type=int, default=9)
    parser.add_argument("--import-runs", type=int, default=7)
    parser.add_argument("--skip-instructor", action="store_true", help="only summariser vs raw openai")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--imports-only", action="store_true", help="only the import-time section (no servers, no instructor)")
    parser.add_argument("--against", action="append", default=[], metavar="TREE_OR_COMMIT",
                        help="also time `import openai; import summariser` in this source tree (a directory, or a commit "
                             "unpacked with git archive), interleaved with this one; repeat for more trees")
    parser.add_argument("--quick", action="store_true", help="60 calls, 1 async repeat, 3 import runs")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    if args.quick:
        args.calls, args.warmup, args.async_repeats, args.import_runs = 60, 10, 1, 3
    with ExitStack() as stack:
        against = [against_tree(spec, stack) for spec in args.against]
        if args.imports_only:
            imports = measure_imports(args.import_runs, None, against)
            print(f"summariser import time — python {sys.version.split()[0]} | load average at the end: "
                  f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
            print("\n".join(import_lines(imports, against)))
            if args.json:
                args.json.write_text(json.dumps({"imports": imports}, indent=2))
            return 0
        return _run_all(args, against)


def _run_all(args: argparse.Namespace, against: list[tuple[str, Path]]) -> int:
    """Every section: the workers against the scripted servers, then import time."""
    article = SEED.read_text(encoding="utf-8")
    job = {
        "article": article,
        "body": _request_body(article),
        "calls": args.calls,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "async_calls": args.async_calls,
        "concurrency": args.concurrency,
        "async_repeats": args.async_repeats,
    }
    instructor_python = None if args.skip_instructor else ensure_instructor_venv()
    results = {"main": run_worker(MAIN_PYTHON, "main", job, args.latency)}
    if instructor_python is not None:
        results["instructor"] = run_worker(instructor_python, "instructor", job, args.latency)
    imports = None if args.skip_imports else measure_imports(args.import_runs, instructor_python, against)
    print(report(results, imports, job, args.latency, against))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "imports": imports,
                                         "job": {k: v for k, v in job.items() if k not in ("article", "body")}}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
