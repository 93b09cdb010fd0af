"""Running systems over documents: every system on every document, scored by the same code."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from ..errors import SummariserError
from ..schema import ArticleSummary
from .datasets import EvalDoc
from .judge import Judge
from .matching import DEFAULT_NAME_FUZZY_THRESHOLD
from .metrics import DEFAULT_ACU_THRESHOLD, Prediction, _failure_result, score_doc
from .report import EvalReport, SystemInfo

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
