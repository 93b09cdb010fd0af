"""``summariser eval``: score prompt versions, models and a classic NER baseline side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown

from ..errors import ConfigError, InputError
from ..evaluate import DEFAULT_ACU_THRESHOLD, EvalDoc, EvalPlan, EvalReport, plan_eval
from ._common import Mode
from ._common import BaseUrlOpt, DbOpt, LocalModelOpt, RetryBudgetOpt, console, err_console, load_settings, stdout_is_terminal


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
    common = dict(
        base_url=base_url, db_path=db, local_model=local_model, mode=mode.value if mode else None,
        max_attempts=max_attempts, retry_budget_s=retry_budget,
    )
    plan = plan_eval(
        datasets, lambda name: load_settings(**common, model=name), prompts=prompt, models=model, limit=limit,
        baseline=baseline, llm=llm, judge=judge, acu_threshold=acu_threshold, use_store=not no_store,
    )
    report = _run_with_progress(plan)
    markdown = report.write(out)
    if stdout_is_terminal():
        console.print(Markdown(markdown))
    else:
        typer.echo(markdown)
    err_console.print(f"Wrote {out / 'report.md'} and {out / 'report.json'}")


def _run_with_progress(plan: EvalPlan) -> EvalReport:
    if not err_console.is_terminal:
        return plan.run()
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("Evaluating", total=plan.total)

        def advance(system: str, doc: EvalDoc) -> None:
            progress.update(task, advance=1, description=f"{system}: {doc.dataset}")

        return plan.run(advance)
