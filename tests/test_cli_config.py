"""Settings precedence end to end: flag > environment > config.toml > default, for every setting."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from summariser.cli import app
from summariser.config import Settings

from conftest import SEED_ARTICLE

runner = CliRunner()


def _summarise(llm, *args: str, env: dict | None = None):
    env = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted", **(env or {})}
    return runner.invoke(app, ["summarise", str(SEED_ARTICLE), "--format", "json", "--no-store", *args], env=env)


def _response_format(llm) -> str:
    return llm.requests[-1].get("response_format", {}).get("type", "none")


def test_config_file_mode_reaches_the_request(llm, clean_env: Path):
    clean_env.mkdir(parents=True, exist_ok=True)
    (clean_env / "config.toml").write_text('mode = "json_object"\n')
    result = _summarise(llm)
    assert result.exit_code == 0, result.output
    assert _response_format(llm) != "json_schema"


def test_env_beats_config_and_flag_beats_env(llm, clean_env: Path):
    clean_env.mkdir(parents=True, exist_ok=True)
    (clean_env / "config.toml").write_text('mode = "json_object"\n')
    assert _summarise(llm, env={"SUMMARISER_MODE": "json_schema"}).exit_code == 0
    assert _response_format(llm) == "json_schema"
    assert _summarise(llm, "--mode", "json_object", env={"SUMMARISER_MODE": "json_schema"}).exit_code == 0
    assert _response_format(llm) != "json_schema"


def test_every_setting_with_a_cli_default_is_read_from_config(clean_env: Path):
    clean_env.mkdir(parents=True, exist_ok=True)
    (clean_env / "config.toml").write_text("max_attempts = 7\nconcurrency = 5\ntimeout_s = 9.0\nstrict = true\n")
    s = Settings.load(defaults={"concurrency": 1, "timeout_s": 300.0})
    assert (s.max_attempts, s.concurrency, s.timeout_s, s.strict) == (7, 5, 9.0, True)
    s = Settings.load(env={"SUMMARISER_HOME": str(clean_env), "SUMMARISER_STRICT": "0", "SUMMARISER_CONCURRENCY": "2"})
    assert (s.strict, s.concurrency) == (False, 2)
    assert Settings.load(env={"SUMMARISER_HOME": str(clean_env)}, strict=False).strict is False


def test_config_show_names_sources_and_masks_the_key(clean_env: Path):
    clean_env.mkdir(parents=True, exist_ok=True)
    (clean_env / "config.toml").write_text('mode = "json_object"\n')
    env = {"OPENAI_API_KEY": "sk-secretsecret1234", "SUMMARISER_MAX_ATTEMPTS": "5"}
    result = runner.invoke(app, ["config"], env=env)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "json_object" in lines["mode"] and "(config" in lines["mode"]
    assert "5" in lines["max_attempts"] and "(env" in lines["max_attempts"]
    assert "(default" in lines["concurrency"]
    assert "sk-…1234" in lines["api_key"] and "secret" not in result.output
    assert runner.invoke(app, ["config", "show"], env=env).output == result.output
    path = runner.invoke(app, ["config", "path"])
    assert path.output.strip() == str(clean_env / "config.toml")


def test_version():
    from summariser import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_options_that_change_the_result_are_part_of_the_cache_key(llm):
    env = {"OPENAI_BASE_URL": llm.base_url, "SUMMARISER_MODEL": "scripted"}
    run = lambda *a: runner.invoke(app, ["summarise", str(SEED_ARTICLE), "--format", "json", *a], env=env)  # noqa: E731
    assert run().exit_code == 0
    assert run().exit_code == 0 and llm.chat_count == 1  # same options: served from the store
    assert run("--strict").exit_code == 0 and llm.chat_count == 2  # strict may fail where lenient dropped items
    assert run("--mode", "json_object").exit_code == 0 and llm.chat_count == 3
    assert run("--strict").exit_code == 0 and llm.chat_count == 3  # and each variant is cached in turn
    assert run("--max-attempts", "5").exit_code == 0 and llm.chat_count == 3  # retries do not change a success


def test_a_bad_value_from_the_environment_names_every_place_it_can_come_from(clean_env: Path):
    # eval has no --concurrency: the message must also name the variable and the config key
    import pytest
    from summariser.errors import ConfigError

    with pytest.raises(ConfigError) as bad:
        Settings.load(env={"SUMMARISER_CONCURRENCY": "0"})
    assert bad.value.exit_code == 2
    message = str(bad.value)
    assert "SUMMARISER_CONCURRENCY" in message and "concurrency in config.toml" in message and "--concurrency" in message
