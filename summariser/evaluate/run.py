"""Running systems over documents: every system on every document, scored by the same code.

``run_eval`` scores given systems; ``plan_eval`` builds them from eval files and settings (the
baseline, one LLM system per prompt and model, the judge), which is all ``summariser eval`` does
between parsing its options and rendering the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SummariserError
from ..prompts import Prompt, load_prompt
from ..schema import ArticleSummary
from .baseline import ner_baseline
from .datasets import EvalDoc, load_datasets
from .judge import Judge, llm_judge
from .matching import DEFAULT_NAME_FUZZY_THRESHOLD
from .metrics import DEFAULT_ACU_THRESHOLD, Prediction, _failure_result, score_doc
from .report import EvalReport, SystemInfo

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store

SystemFn = Callable[[EvalDoc], "ArticleSummary | Prediction"]


def run_eval(
    docs: Sequence[EvalDoc],
    systems: Mapping[str, SystemFn],
    *,
    limit: int | None = None,
    progress: Callable[[str, EvalDoc], None] | None = None,
    judge: Judge | None = None,
    acu_threshold: float = DEFAULT_ACU_THRESHOLD,
    fuzzy_threshold: float = DEFAULT_NAME_FUZZY_THRESHOLD,
) -> EvalReport:
    """Run every system on every document (at most ``limit`` per dataset) and score the results.

    A system raising a ``SummariserError`` on a document is recorded as a failure with its
    message, unless the error ``stops_run`` (wrong key, no such model, nothing listening): that
    one propagates at once. Any other exception is a bug and propagates.
    """
    selected: list[EvalDoc] = []
    counts: dict[str, int] = {}
    for doc in docs:
        if limit is not None and counts.get(doc.dataset, 0) >= limit:
            continue
        counts[doc.dataset] = counts.get(doc.dataset, 0) + 1
        selected.append(doc)
    results: list[DocResult] = []
    infos: dict[str, SystemInfo] = {}
    for label, fn in systems.items():
        info = infos[label] = SystemInfo(label)
        for doc in selected:
            started = time.perf_counter()
            try:
                output = fn(doc)
            except SummariserError as exc:
                if exc.stops_run:  # a wrong key or model fails every document alike: stop now
                    raise
                result = _failure_result(label, doc, exc, time.perf_counter() - started)
            else:
                elapsed = time.perf_counter() - started
                prediction = output if isinstance(output, Prediction) else Prediction.from_summary(output)
                if prediction.seconds is None:
                    prediction.seconds = elapsed
                result = score_doc(
                    doc,
                    prediction,
                    system=label,
                    acu_threshold=acu_threshold,
                    fuzzy_threshold=fuzzy_threshold,
                    judge=judge,
                )
                for attr, seen in (("model", info.models), ("prompt", info.prompts)):
                    value = getattr(prediction, attr)
                    if value and value not in seen:
                        seen.append(value)
            info.seconds += time.perf_counter() - started
            results.append(result)
            if progress is not None:
                progress(label, doc)
    return EvalReport(
        results=results,
        systems=infos,
        datasets=counts,
        acu_threshold=acu_threshold,
        fuzzy_threshold=fuzzy_threshold,
        judge=judge is not None,
    )


def llm_system(settings: Settings, prompt: Prompt, store: Store | None = None) -> Callable[[EvalDoc], ArticleSummary]:
    """A system that summarises each document with ``prompt``; a failure's message names the
    endpoint and model it tried (the report shows it)."""
    from ..endpoint import annotate_error
    from ..extract import summarise_article  # imported late: the baseline alone needs no LLM stack

    def run(doc: EvalDoc) -> ArticleSummary:
        try:
            return summarise_article(doc.text, settings=settings, source=f"{doc.dataset}:{doc.id}", prompt=prompt, store=store)
        except SummariserError as exc:
            raise annotate_error(exc, settings)  # the report says which endpoint and model failed

    return run


def _configured(model: str | None) -> Settings:
    from ..config import Settings

    return Settings.load(model=model)


@dataclass
class EvalPlan:
    """Documents, systems and the judge, ready to score: ``total`` steps, then ``run()``."""

    docs: list[EvalDoc]
    systems: dict[str, SystemFn]
    judge: Judge | None = None
    limit: int | None = None
    acu_threshold: float = DEFAULT_ACU_THRESHOLD
    store: Store | None = None

    @property
    def total(self) -> int:
        """Documents times systems: how many times ``progress`` is called."""
        return len(self.systems) * len(self.docs)

    def run(self, progress: Callable[[str, EvalDoc], None] | None = None) -> EvalReport:
        """Score every system on every document (``run_eval``), then close the store."""
        try:
            return run_eval(self.docs, self.systems, acu_threshold=self.acu_threshold, limit=self.limit, progress=progress, judge=self.judge)
        finally:
            if self.store is not None:
                self.store.close()


def plan_eval(
    datasets: Sequence[str | Path],
    settings: Callable[[str | None], Settings] | None = None,
    *,
    prompts: Sequence[str] = (),
    models: Sequence[str] = (),
    limit: int | None = None,
    baseline: bool = True,
    llm: bool = True,
    judge: bool = False,
    acu_threshold: float = DEFAULT_ACU_THRESHOLD,
    use_store: bool = True,
) -> EvalPlan:
    """The systems ``summariser eval`` scores, built from eval files and settings.

    ``settings(model)`` gives the settings for one model name (None: the configured one); by
    default ``Settings.load(model=model)``. Systems: the spaCy NER baseline (``baseline``), and
    with ``llm`` one per prompt reference (default: the settings' prompt) and model name,
    labelled ``ref`` or, for several models, ``ref · model``. Every prompt is resolved here, so a
    bad reference fails before any model call. ``use_store`` caches results in the run store.
    ``judge`` adds ``llm_judge`` on the first model.
    """
    settings = settings or _configured
    docs = load_datasets(datasets, limit=limit)
    systems: dict[str, SystemFn] = {}
    if baseline:
        systems["ner-baseline"] = ner_baseline()
    store = None
    try:
        if llm:
            configured = settings(None)
            if use_store:
                from ..store import Store

                store = Store(configured.store_path)
            names = list(models) or [None]
            for ref in prompts or [configured.prompt]:
                # Resolved once, up front: a bad reference fails before any model call, not per document.
                template = load_prompt(ref)
                for name in names:
                    label = ref
                    if len(names) > 1:
                        label = f"{label} · {name}"
                    systems[label] = llm_system(settings(name), template, store)
        judge_fn = llm_judge(settings((list(models) or [None])[0])) if judge else None
    except BaseException:
        if store is not None:
            store.close()
        raise
    return EvalPlan(docs, systems, judge=judge_fn, limit=limit, acu_threshold=acu_threshold, store=store)
