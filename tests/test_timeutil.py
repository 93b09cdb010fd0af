"""--since: durations, words and dates (dateparser), local time for naive dates, no future."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from summariser.errors import ConfigError
from summariser.timeutil import parse_since

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text,back",
    [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)),
     ("yesterday", timedelta(days=1)), ("3 days ago", timedelta(days=3)), ("2 hours ago", timedelta(hours=2))],
)
def test_durations_and_words_count_back_from_now(text, back):
    assert parse_since(text, now=NOW) == NOW - back


def test_a_year_and_dates():
    assert parse_since("1y", now=NOW) == datetime(2025, 12, 3, 18, 0, tzinfo=timezone.utc)
    assert parse_since("2026-11-01T06:00+01:00", now=NOW) == datetime(2026, 11, 1, 5, 0, tzinfo=timezone.utc)
    assert parse_since("last monday", now=NOW).date().isoformat() == "2026-11-30"


def test_a_date_without_a_zone_is_local_time():
    code = "from summariser.timeutil import parse_since; print(parse_since('2026-11-01 06:00').isoformat())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "TZ": "Asia/Tokyo"})
    assert out.stdout.strip() == "2026-10-31T21:00:00+00:00", out.stderr


@pytest.mark.parametrize("text,says", [("garbage", "is not a moment"), ("", "is not a moment"), ("tomorrow", "is in the future")])
def test_unreadable_or_future_moments_are_one_line_errors(text, says):
    with pytest.raises(ConfigError, match=says):
        parse_since(text, now=NOW)


def test_runs_list_takes_words(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARISER_"))}
    env["SUMMARISER_DB"] = str(tmp_path / "none.db")
    ok = subprocess.run([sys.executable, "-m", "summariser", "runs", "list", "--since", "yesterday"], capture_output=True, env=env)
    bad = subprocess.run([sys.executable, "-m", "summariser", "runs", "list", "--since", "someday"], capture_output=True, env=env)
    assert "is not a moment" not in ok.stderr.decode()
    assert bad.returncode == 2 and "Error: --since 'someday' is not a moment" in bad.stderr.decode()
