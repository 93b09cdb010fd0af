"""What is new since the previous briefing: each story new, developing or unchanged; what dropped out.

The previous briefing is a briefing JSON file: ``--previous FILE``, else the JSON output at the
same ``--out`` path, else the copy every run keeps of its own output in the data dir
(``<data dir>/briefings/last/``), so a daily cron job writing ``.html`` or ``.md`` compares with
yesterday's run without being told. Articles are the same when their text (sha256) or their URL
is; a briefing of schema 1.0 (no ``stories``) is read through its ``top_stories``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .collect import url_key
from .errors import InputError
from .files import atomic_write_text
from .schema import Briefing, BriefingArticle, BriefingChanges, DroppedStory, Story

MAX_CHANGE_HEADLINES = 3


@dataclass
class PreviousBriefing:
    """What a comparison needs of the previous briefing."""

    label: str  # its file name (never a local path)
    created_at: datetime | None
    keys: set[str] = field(default_factory=set)  # "sha:<hex>" and "url:<url>" of every article
    stories: list[tuple[str, set[str]]] = field(default_factory=list)  # (headline, article keys)


def article_keys(sha256: str | None, source: str | None) -> set[str]:
    keys = {f"sha:{sha256}"} if sha256 else set()
    url = url_key(source)
    return keys | ({f"url:{url}"} if url else set())


def load_previous(path: Path | str, *, label: str | None = None) -> PreviousBriefing:
    """Read a briefing JSON file (schema 1.0 or later); InputError when it is not one.

    ``label`` names it in the comparison (default: the file's name)."""
    path = Path(path).expanduser()
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path.name}: no such previous briefing: check --previous") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: cannot read the previous briefing ({exc}): check --previous") from None
    except ValueError as exc:
        raise InputError(f"{path.name}: the previous briefing is not JSON ({exc}): pass a briefing .json file as --previous") from None
    if not isinstance(data, dict) or not isinstance(data.get("articles"), list):
        raise InputError(f"{path.name}: not a briefing JSON file (no articles list): pass the .json output of `summariser briefing`")
    by_id: dict[str, set[str]] = {}
    for article in data["articles"]:
        if isinstance(article, dict) and isinstance(article.get("id"), str):
            by_id[article["id"]] = article_keys(article.get("sha256"), article.get("source"))
    stories = data.get("stories") or data.get("top_stories") or []
    previous = PreviousBriefing(label=label or path.name, created_at=_when(data), keys=set().union(*by_id.values()) if by_id else set())
    for story in stories:
        if isinstance(story, dict):
            keys = set().union(*(by_id.get(aid, set()) for aid in story.get("article_ids") or []))
            previous.stories.append((str(story.get("headline") or "untitled story"), keys))
    return previous


def _when(data: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(data["provenance"]["created_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return None


def mark_changes(briefing: Briefing, previous: PreviousBriefing) -> Briefing:
    """``briefing`` with every story marked against ``previous`` and the changes summed up."""
    articles: dict[str, BriefingArticle] = {a.id: a for a in briefing.articles}
    keys = {aid: article_keys(a.sha256, a.source) for aid, a in articles.items()}
    stories: list[Story] = []
    for story in briefing.stories:
        fresh = [aid for aid in story.article_ids if not keys[aid] & previous.keys]
        if len(fresh) == len(story.article_ids):
            status, change = "new", None
        elif fresh:
            heads = "; ".join(articles[aid].headline for aid in fresh[:MAX_CHANGE_HEADLINES])
            more = f" and {len(fresh) - MAX_CHANGE_HEADLINES} more" if len(fresh) > MAX_CHANGE_HEADLINES else ""
            status, change = "developing", f"{len(fresh)} new article{'s' if len(fresh) > 1 else ''}: {heads}{more}"
        else:
            status, change = "unchanged", None
        stories.append(story.model_copy(update={"status": status, "new_article_ids": fresh, "change": change}))
    now = set().union(*keys.values()) if keys else set()
    dropped = [DroppedStory(headline=headline, articles=len(ks)) for headline, ks in previous.stories if ks and not ks & now]
    changes = BriefingChanges(
        previous=previous.label,
        previous_created_at=previous.created_at,
        new=sum(1 for s in stories if s.status == "new"),
        developing=sum(1 for s in stories if s.status == "developing"),
        unchanged=sum(1 for s in stories if s.status == "unchanged"),
        dropped=dropped,
    )
    return briefing.model_copy(update={"stories": stories, "changes": changes})


def last_path(out: Path | str, home: Path) -> Path:
    """Where the copy of the last briefing written to ``out`` is kept (one per output path)."""
    digest = hashlib.sha256(str(Path(out).expanduser().resolve()).encode("utf-8")).hexdigest()[:16]
    return home / "briefings" / "last" / f"briefing-{digest}.json"


def default_previous(out: Path | str, home: Path) -> Path | None:
    """The previous briefing for ``out``: the JSON output itself, else the kept copy; None for a first run."""
    out = Path(out).expanduser()
    if out.suffix.lower() == ".json" and out.is_file():
        return out
    kept = last_path(out, home)
    return kept if kept.is_file() else None


def remember(json_text: str, out: Path | str, home: Path) -> Path | None:
    """Keep the JSON of the briefing just written to ``out`` for the next run to compare with."""
    path = last_path(out, home)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json_text, newline="\n", fsync=False)
    except OSError:
        return None  # only costs the next run its comparison
    return path
