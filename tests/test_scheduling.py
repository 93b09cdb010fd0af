"""The cron and systemd recipes work as written: the shipped units parse (and pass
`systemd-analyze verify` where it exists), the docs carry them verbatim, and every documented
command line is a valid summariser invocation with no key inline, a full venv path, a log and a
guard against overlapping runs."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from conftest import REPO

DOC = REPO / "docs" / "scheduling.md"
UNITS = REPO / "docs" / "systemd"
SERVICE = UNITS / "summariser-briefing.service"
TIMER = UNITS / "summariser-briefing.timer"
VENV_SCRIPT = re.compile(r"(?:/opt/summariser|\"?\$HOME/summariser)/\.venv/bin/summariser\"?$")


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def summariser_args(argv: list[str]) -> list[str]:
    """The arguments after the venv's summariser script; the script must be named by full path."""
    [at] = [i for i, word in enumerate(argv) if word.endswith("/.venv/bin/summariser")]
    assert VENV_SCRIPT.search(argv[at].strip('"')) or argv[at].startswith("/"), argv[at]
    return argv[at + 1:]


def check_parses(args: list[str]) -> None:
    """``args`` parse as a summariser command line (options exist, values type-check), without running it."""
    from summariser.cli import app

    group = typer.main.get_command(app)
    name, rest = args[0], args[1:]
    command = group.commands[name]
    command.make_context(name, list(rest))  # raises click's usage error on an unknown option or a bad value


def cron_lines() -> list[str]:
    blocks = re.findall(r"```cron\n(.*?)```", DOC.read_text(), re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_shipped_units_are_what_the_docs_show():
    doc = DOC.read_text()
    assert SERVICE.read_text() in doc and TIMER.read_text() in doc


def test_the_service_runs_a_valid_command_as_its_own_user_with_the_key_in_a_file():
    service = unit(SERVICE)["Service"]
    assert service["Type"] == "oneshot" and service["User"] and service["User"] != "root"
    assert service["EnvironmentFile"] == "/etc/summariser/env"
    assert "OPENAI_API_KEY" not in SERVICE.read_text()
    assert "3" in service["SuccessExitStatus"].split()
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == "/opt/summariser/.venv/bin/summariser"
    check_parses(summariser_args(argv))
    u = unit(SERVICE)["Unit"]
    assert "network-online.target" in u["Wants"] and "network-online.target" in u["After"]
    timer = unit(TIMER)
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true" and timer["Install"]["WantedBy"] == "timers.target"


def test_every_cron_line_works_as_written():
    lines = cron_lines()
    assert len(lines) >= 2
    for line in lines:
        fields = line.split(None, 5)
        assert len(fields) == 6 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5]), line
        command = fields[5]
        assert "%" not in command, "cron turns % into a newline"
        assert "OPENAI_API_KEY" not in command and "sk-" not in command, "no key inline"
        assert '. "$HOME/.config/summariser/env"' in command  # the key comes from the 600 file
        assert re.search(r'2>>? ?"\$HOME/\.local/state/summariser/[\w.-]+\.log"|>> "\$HOME/\.local/state/summariser/[\w.-]+\.log" 2>&1', command), line
        argv = shlex.split(command.split(" >")[0].split(" && ")[-1])
        args = summariser_args(argv)
        assert "--wait" in args or argv[0] == "flock", f"no guard against overlapping runs: {line}"
        check_parses(args)


def test_a_bad_option_would_be_caught():
    with pytest.raises(Exception):
        check_parses(["briefing", "inbox/", "--out", "b.html", "--no-such-option"])


def test_readme_points_at_the_recipes_and_its_cron_line_is_safe():
    readme = (REPO / "README.md").read_text()
    assert "docs/scheduling.md" in readme
    [line] = [l for l in readme.splitlines() if re.match(r"^[\d*]+ [\d*]+ \* \* \* ", l)]
    assert "OPENAI_API_KEY=" not in line and "/.venv/bin/summariser" in line and "%" not in line


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # verify checks that ExecStart's program exists: point it at this venv's script, and the
    # EnvironmentFile at an empty file; everything else is verified as shipped.
    script = Path(sys.executable).with_name("summariser")
    env = tmp_path / "env"
    env.write_text("")
    service = SERVICE.read_text().replace("/opt/summariser/.venv/bin/summariser", str(script)).replace("/etc/summariser/env", str(env))
    (tmp_path / SERVICE.name).write_text(service)
    shutil.copy(TIMER, tmp_path / TIMER.name)
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
                            capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "summariser-briefing" in line or "Unknown" in line or "ignoring" in line]
    assert result.returncode == 0 and problems == [], result.stderr
