"""Settings (config.py) as pure code: precedence, origins, and errors that say where to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest

from summariser.config import ENV_VARS, Settings, resolve
from summariser.errors import ConfigError


def _env(home: Path, **variables: str) -> dict[str, str]:
    return {"SUMMARISER_HOME": str(home), **variables}


def _config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_flag_beats_env_beats_config_beats_command_default_beats_built_in(clean_env: Path):
    assert Settings.load(env=_env(clean_env)).max_attempts == 3
    assert Settings.load(env=_env(clean_env), defaults={"max_attempts": 4}).max_attempts == 4
    _config(clean_env, "max_attempts = 7\n")
    assert Settings.load(env=_env(clean_env), defaults={"max_attempts": 4}).max_attempts == 7
    env = _env(clean_env, SUMMARISER_MAX_ATTEMPTS="5")
    assert Settings.load(env=env, defaults={"max_attempts": 4}).max_attempts == 5
    settings = Settings.load(env=env, defaults={"max_attempts": 4}, max_attempts=2)
    assert settings.max_attempts == 2 and settings.origins["max_attempts"] == "flag"


def test_origins_name_the_layer_each_value_came_from(clean_env: Path):
    _config(clean_env, 'mode = "json_object"\n')
    values, origins = resolve(_env(clean_env, SUMMARISER_TIMEOUT="9"), strict=True)
    assert (values["mode"], origins["mode"]) == ("json_object", "config")
    assert (values["timeout_s"], origins["timeout_s"]) == (9.0, "env")
    assert (values["strict"], origins["strict"]) == (True, "flag")
    assert origins["concurrency"] == "default" and set(origins) == set(ENV_VARS)


def test_a_flag_of_none_is_not_given(clean_env: Path):
    settings = Settings.load(env=_env(clean_env, SUMMARISER_MODEL="from-env"), model=None)
    assert settings.model == "from-env" and settings.origins["model"] == "env"


def test_local_defaults_apply_only_to_the_embedded_model_and_only_as_defaults(clean_env: Path):
    one = {"concurrency": 1}
    local = Settings.load(env=_env(clean_env), local_defaults=one)
    assert local.uses_local_model and local.concurrency == 1 and local.origins["concurrency"] == "default"
    assert Settings.load(env=_env(clean_env), local_defaults=one, base_url="http://127.0.0.1:9/v1").concurrency == 4
    assert Settings.load(env=_env(clean_env, OPENAI_API_KEY="sk-test"), local_defaults=one).concurrency == 4
    assert Settings.load(env=_env(clean_env, SUMMARISER_CONCURRENCY="3"), local_defaults=one).concurrency == 3
    _config(clean_env, "concurrency = 2\n")
    assert Settings.load(env=_env(clean_env), local_defaults=one).concurrency == 2
    assert Settings.load(env=_env(clean_env), local_defaults=one, concurrency=6).concurrency == 6
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(env=_env(clean_env), local_defaults={"workers": 1})


@pytest.mark.parametrize(
    ("key", "flag", "variable"),
    [("max_attempts", "--max-attempts", "SUMMARISER_MAX_ATTEMPTS"), ("concurrency", "--concurrency", "SUMMARISER_CONCURRENCY"), ("max_chars", "--max-chars", "SUMMARISER_MAX_CHARS")],
)
def test_an_out_of_range_value_names_the_flag_the_variable_and_the_config_key(clean_env: Path, key: str, flag: str, variable: str):
    _config(clean_env, f"{key} = 0\n")
    with pytest.raises(ConfigError) as bad:
        Settings.load(env=_env(clean_env))
    message = str(bad.value)
    assert flag in message and variable in message and f"{key} in config.toml" in message
    assert bad.value.exit_code == 2


def test_environment_values_are_typed_and_a_bad_one_names_its_variable(clean_env: Path):
    settings = Settings.load(env=_env(clean_env, SUMMARISER_STRICT="yes", SUMMARISER_TIMEOUT="7.5", SUMMARISER_CONCURRENCY="2"))
    assert (settings.strict, settings.timeout_s, settings.concurrency) == (True, 7.5, 2)
    assert Settings.load(env=_env(clean_env, SUMMARISER_STRICT="off")).strict is False
    with pytest.raises(ConfigError, match="SUMMARISER_STRICT='maybe' is not a boolean"):
        Settings.load(env=_env(clean_env, SUMMARISER_STRICT="maybe"))
    with pytest.raises(ConfigError, match="SUMMARISER_TIMEOUT='soon' is not a number"):
        Settings.load(env=_env(clean_env, SUMMARISER_TIMEOUT="soon"))


def test_config_file_problems_name_the_file(clean_env: Path):
    path = _config(clean_env, "max_attempts = [\n")
    with pytest.raises(ConfigError, match="is not valid TOML") as bad:
        Settings.load(env=_env(clean_env))
    assert str(path) in str(bad.value)
    _config(clean_env, "retries = 3\n")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) retries in .*config.toml"):
        Settings.load(env=_env(clean_env))
    _config(clean_env, 'api_key = "sk-in-a-file"\n')
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        Settings.load(env=_env(clean_env))


def test_unknown_flags_and_bad_values_are_refused(clean_env: Path):
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) workers given"):
        Settings.load(env=_env(clean_env), workers=2)
    with pytest.raises(ConfigError, match="--base-url"):
        Settings.load(env=_env(clean_env), base_url="127.0.0.1:8000")
    with pytest.raises(ConfigError, match="unknown output mode"):
        Settings.load(env=_env(clean_env), mode="xml")


def test_the_model_name_defaults_only_where_it_is_unambiguous(clean_env: Path):
    assert Settings.load(env=_env(clean_env)).model_name.startswith("qwen")
    assert Settings.load(env=_env(clean_env, OPENAI_API_KEY="sk-test")).model_name == "gpt-4o-mini"
    custom = Settings.load(env=_env(clean_env), base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError) as bad:
        custom.model_name
    assert "--model" in str(bad.value) and "SUMMARISER_MODEL" in str(bad.value)


def test_paths_follow_the_data_dir(clean_env: Path):
    settings = Settings.load(env=_env(clean_env))
    assert settings.home == clean_env and settings.store_path == clean_env / "summariser.db"
    assert Settings.load(env=_env(clean_env, SUMMARISER_DB="~/x.db")).store_path == Path("~/x.db").expanduser()
