"""The side-by-side report: per-document results aggregated per system and dataset, as Markdown or JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .matching import DEFAULT_NAME_FUZZY_THRESHOLD
from .metrics import DEFAULT_ACU_THRESHOLD, METRICS, DocResult

OVERALL = "overall"
DASH = "\u2013"


@dataclass
class SystemInfo:
    label: str
    models: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class EvalReport:
    """Per-document results for every system, aggregated per dataset and overall on demand."""

    results: list[DocResult]
    systems: dict[str, SystemInfo]
    datasets: dict[str, int]
    acu_threshold: float = DEFAULT_ACU_THRESHOLD
    fuzzy_threshold: float = DEFAULT_NAME_FUZZY_THRESHOLD
    judge: bool = False
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def metrics(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """``{system: {dataset or "overall": {metric: macro mean over docs, or None}}}``."""
        table: dict[str, dict[str, dict[str, float | None]]] = {}
        for system in self.systems:
            rows = [r for r in self.results if r.system == system]
            table[system] = {ds: _aggregate([r for r in rows if r.dataset == ds]) for ds in self.datasets}
            table[system][OVERALL] = _aggregate(rows)
        return table

    def failures(self) -> list[DocResult]:
        return [r for r in self.results if r.error]

    def to_json(self) -> str:
        payload = {
            "created_at": self.created_at,
            "settings": {
                "acu_threshold": self.acu_threshold,
                "name_fuzzy_threshold": self.fuzzy_threshold,
                "judge": self.judge,
            },
            "datasets": self.datasets,
            "systems": {k: asdict(v) for k, v in self.systems.items()},
            "metrics": self.metrics(),
            "documents": [asdict(r) for r in self.results],
        }
        return json.dumps(payload, indent=2, ensure_ascii=False)

    def write(self, out: str | Path) -> str:
        """Write ``report.md`` and ``report.json`` into the directory ``out`` (made if missing);
        returns the Markdown."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        markdown = self.to_markdown()
        (out / "report.md").write_text(markdown + "\n", encoding="utf-8")
        (out / "report.json").write_text(self.to_json() + "\n", encoding="utf-8")
        return markdown

    def to_markdown(self) -> str:
        metrics = self.metrics()
        columns = [*self.datasets, OVERALL]
        lines = [
            "# Evaluation report",
            "",
            f"Created {self.created_at}. Macro averages over documents; \u2013 = not applicable. "
            f"Key facts: fuzzy token-set threshold {self.acu_threshold:g}"
            + (", plus the LLM judge." if self.judge else " (no judge)."),
            "",
            "| system | model | prompt | docs | failures | time (s) |",
            "| --- | --- | --- | ---: | ---: | ---: |",
        ]
        for label, info in self.systems.items():
            rows = [r for r in self.results if r.system == label]
            lines.append(
                f"| {label} | {', '.join(info.models) or DASH} | {', '.join(info.prompts) or DASH} "
                f"| {len(rows)} | {sum(1 for r in rows if r.error)} | {info.seconds:.1f} |"
            )
        lines += ["", "Documents: " + ", ".join(f"{ds} {n}" for ds, n in self.datasets.items()), ""]
        group = None
        for metric in METRICS:
            if all(metrics[s][c].get(metric.key) is None for s in self.systems for c in columns):
                continue
            if metric.group != group:
                group = metric.group
                lines += [f"## {group}", ""]
            lines += [
                f"### {metric.title}",
                "",
                "| system | " + " | ".join(columns) + " |",
                "| --- | " + " | ".join("---:" for _ in columns) + " |",
            ]
            for system in self.systems:
                cells = [_format(metrics[system][c].get(metric.key), metric.kind) for c in columns]
                lines.append(f"| {system} | " + " | ".join(cells) + " |")
            lines.append("")
        failures = self.failures()
        if failures:
            lines += ["## Failures", ""]
            lines += [f"- {r.system} / {r.dataset} / {r.doc_id}: {r.error}" for r in failures[:50]]
            if len(failures) > 50:
                lines.append(f"- \u2026 and {len(failures) - 50} more (see report.json)")
            lines.append("")
        return "\n".join(lines)


def _aggregate(rows: list[DocResult]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for metric in METRICS:
        if metric.key == "failures":
            out["failures"] = float(sum(1 for r in rows if r.error)) if rows else None
            continue
        values = [getattr(r, metric.key) for r in rows if getattr(r, metric.key) is not None]
        out[metric.key] = statistics.fmean(values) if values else None
    return out


def _format(value: float | None, kind: str) -> str:
    if value is None:
        return "\u2013"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "number":
        return f"{value:.2f}"
    return f"{value:.2f}"
