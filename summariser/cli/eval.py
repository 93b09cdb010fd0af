"""``summariser eval``: score prompt versions, models and a classic NER baseline side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable

import typer
from rich.markdown import Markdown

from ..errors import ConfigError, InputError, SummariserError
from ..evaluate import DEFAULT_ACU_THRESHOLD, EvalDoc, load_datasets, ner_baseline, run_eval
from ..prompts import Prompt, load_prompt
from ..schema import ArticleSummary
from ._common import Mode
from ._common import BaseUrlOpt, DbOpt, LocalModelOpt, RetryBudgetOpt, console, err_console, load_settings, stdout_is_terminal


def _llm_system(settings, prompt: Prompt, store) -> Callable[[EvalDoc], ArticleSummary]:
    from ..endpoint import annotate_error
    from ..extract import summarise_article  # imported late: the baseline alone needs no LLM stack

    def run(doc: EvalDoc) -> ArticleSummary:
        try:
            return summarise_article(doc.text, settings=settings, source=f"{doc.dataset}:{doc.id}", prompt=prompt, store=store)
        except SummariserError as exc:
            raise annotate_error(exc, settings)  # the report says which endpoint and model failed

    return run


def eval_command(
    datasets: Annotated[list[Path], typer.Argument(help="Eval JSONL files (RoSE, GUM, News-Fair, WikiEvents or BASIL format; detected from the fields).", show_default=False)],
    prompt: Annotated[list[str], typer.Option("--prompt", "-p", help="Prompt NAME\\[@VERSION] to evaluate; repeat to compare versions. Default: the default 'article' version (`summariser prompts list` marks it).", show_default=False)] = [],  # noqa: B006 (typer needs a list default)
    model: Annotated[list[str], typer.Option("--model", "-m", help="Model name sent to the endpoint; repeat to compare models. Default: SUMMARISER_MODEL or the endpoint's default.", show_default=False)] = [],  # noqa: B006
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="At most N documents from each dataset.", show_default=False)] = None,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Also run the classic spaCy NER baseline (participants only; needs the eval extra).")] = True,
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Run the LLM systems; --no-llm scores the baseline alone, with no model calls.")] = True,
    judge: Annotated[bool, typer.Option("--judge", help="Also ask an LLM judge whether each reference fact is supported (the RoSE protocol).")] = False,
    acu_threshold: Annotated[float, typer.Option("--acu-threshold", min=0, max=100, help="Fuzzy token-set similarity (0-100) at which a summary covers a reference fact.")] = DEFAULT_ACU_THRESHOLD,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write report.md and report.json into (created if missing).")] = Path("eval-report"),
    mode: Annotated[Mode | None, typer.Option("--mode", help="Structured output: json_schema, json_object or auto. Default: auto.", show_default=False)] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, max=10, help="Replies to try per document before giving up. Default: 3.", show_default=False)] = None,
    retry_budget: RetryBudgetOpt = None,
    base_url: BaseUrlOpt = None,
    db: DbOpt = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not read or write the run store (no cache: every document calls the model).")] = False,
    local_model: LocalModelOpt = None,
) -> None:
    """Evaluate summaries against annotated news sets: participants, key facts, stances, cost.

    Each --prompt (times each --model) is one system, scored next to the spaCy NER baseline, so
    one report shows whether prompt v2 beats v1 and whether the LLM beats a classic extractor.
    Results are cached in the run store: re-running the same prompt and model is free.

    Examples:

      summariser eval ../shared/eval/gum_news_dev.jsonl --no-llm

      summariser eval ../shared/eval/*.jsonl --prompt article@1 --prompt article@2 --limit 5

      summariser eval ../shared/eval/rose_cnndm_dev.jsonl -m gpt-4o-mini -m gpt-4.1-mini --out reports/models
    """
    for path in datasets:
        if not path.is_file():
            raise InputError(f"dataset {path} does not exist: pass eval JSONL files, e.g. ../shared/eval/gum_news_dev.jsonl")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file: pass a directory for report.md and report.json")
    if not llm and not baseline:
        raise ConfigError("nothing to evaluate: drop --no-llm or --no-baseline")
    docs = load_datasets(datasets, limit=limit)
    common = dict(
        base_url=base_url, db_path=db, local_model=local_model, mode=mode.value if mode else None,
        max_attempts=max_attempts, retry_budget_s=retry_budget,
    )

    systems: dict = {}
    if baseline:
        systems["ner-baseline"] = ner_baseline()
    store = None
    if llm:
        settings = load_settings(**common)
        if not no_store:
            from ..store import Store

            store = Store(settings.store_path)
        models = model or [None]
        for ref in prompt or [settings.prompt]:
            # Resolved once, up front: a bad reference fails before any model call, not per document.
            template = load_prompt(ref)
            for name in models:
                label = ref
                if len(models) > 1:
                    label = f"{label} · {name}"
                run_settings = load_settings(**common, model=name)
                systems[label] = _llm_system(run_settings, template, store)

    judge_fn = None
    if judge:
        from ..evaluate import llm_judge

        judge_fn = llm_judge(load_settings(**common, model=(model or [None])[0]))
    try:
        report = _run_with_progress(docs, systems, acu_threshold=acu_threshold, limit=limit, judge=judge_fn)
    finally:
        if store is not None:
            store.close()

    out.mkdir(parents=True, exist_ok=True)
    markdown = report.to_markdown()
    (out / "report.md").write_text(markdown + "\n", encoding="utf-8")
    (out / "report.json").write_text(report.to_json() + "\n", encoding="utf-8")
    if stdout_is_terminal():
        console.print(Markdown(markdown))
    else:
        typer.echo(markdown)
    err_console.print(f"Wrote {out / 'report.md'} and {out / 'report.json'}")


def _run_with_progress(docs, systems, *, acu_threshold: float, limit: int | None, judge=None):
    if not err_console.is_terminal:
        return run_eval(docs, systems, acu_threshold=acu_threshold, limit=limit, judge=judge)
    from rich.progress import Progress

    total = len(systems) * len(docs)
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("Evaluating", total=total)

        def advance(system: str, doc: EvalDoc) -> None:
            progress.update(task, advance=1, description=f"{system}: {doc.dataset}")

        return run_eval(docs, systems, acu_threshold=acu_threshold, limit=limit, progress=advance, judge=judge)
