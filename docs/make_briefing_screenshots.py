"""Make docs/briefing-desktop.png and docs/briefing-phone.png: the seeds briefing, scripted model.

Two runs through the real CLI against ``summariser.testing.ScriptedLLM`` (no model is run): the
first over the seeds less one, the second over every seed plus the event fixtures in
tests/fixtures/events (other reports of three seeds' events), so the page shows stories with
several sources and what is new since the first run. Then headless Chromium takes the shots.

    .venv/bin/python docs/make_briefing_screenshots.py            # writes docs/*.png
    .venv/bin/python docs/make_briefing_screenshots.py --keep DIR # also keeps the page and JSON
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = {"briefing-desktop.png": (1280, 2000, ""), "briefing-phone.png": (390, 2400, ""),
         "briefing-phone-stances.png": (390, 1200, "#stances")}


# The page is laid out in an iframe of the exact width: headless Chromium's window is 500 px at
# least, and a 390 px screenshot of it would be a crop of a 500 px layout.
HOST = """<!doctype html><html><body style="margin:0;overflow:hidden">
<iframe src="{src}" style="border:0;width:{width}px;height:{height}px"></iframe></body></html>"""
POSITIONS = ["supports", "opposes", "mixed", "neutral"]


def demo_responder(body: dict):
    """The scripted replies, with one stance per article (its first participant, its first fact's
    quote) so the page shows stance cards; ``grounded_responder`` itself writes none."""
    from summariser.testing import briefing_responder, is_briefing_request, is_story_request

    draft = briefing_responder(body)
    if is_briefing_request(body) or is_story_request(body) or not draft.get("participants") or not draft.get("key_facts"):
        return draft
    people = draft["participants"]
    quote = draft["key_facts"][0]["quote"]
    position = POSITIONS[sum(map(ord, quote)) % len(POSITIONS)]
    target = people[1]["name"] if len(people) > 1 else "the story"
    return draft | {"stances": [{"quote": quote, "holder": people[0]["name"], "target": target, "position": position}]}


def build_page(work: Path) -> Path:
    from summariser.cli import main
    from summariser.testing import ScriptedLLM

    os.environ["SUMMARISER_HOME"] = str(work / "home")
    inbox, out = work / "inbox", work / "briefing.html"
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    events = sorted((REPO / "tests" / "fixtures" / "events").glob("*.txt"))
    with ScriptedLLM(responder=demo_responder) as llm:
        for paths in ([p for p in seeds if "hackers" not in p.name], seeds + events):
            shutil.rmtree(inbox, ignore_errors=True)
            inbox.mkdir(parents=True)
            for p in paths:
                shutil.copy(p, inbox / p.name)
            code = main(["briefing", str(inbox), "--title", "Seeds briefing", "--out", str(out),
                         "--base-url", llm.base_url, "--model", "scripted"])
            if code not in (0, 3):
                raise SystemExit(f"briefing exited {code}")
    return out


def screenshot(page: Path, png: Path, width: int, height: int, profile: Path, fragment: str = "") -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    host = page.with_name(f"host-{width}.html")
    host.write_text(HOST.format(src=page.name + fragment, width=width, height=height), encoding="utf-8")
    subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                    f"--screenshot={png}", host.as_uri()], capture_output=True, timeout=120, check=True)
    if not png.is_file():
        raise SystemExit(f"Chromium wrote no {png}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="also copy the page and its JSON here")
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print("Error: /usr/bin/chromium is absent: apt-get install -y chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        page = build_page(work)
        for name, (width, height, fragment) in SHOTS.items():
            screenshot(page, args.out_dir / name, width, height, work / "profile", fragment)
            print(f"wrote {args.out_dir / name}")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(page, args.keep / page.name)
            from summariser.config import Settings
            from summariser.whatsnew import last_path

            shutil.copy(last_path(page, Settings.load().home), args.keep / "briefing.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
