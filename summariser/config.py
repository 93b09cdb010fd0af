"""Settings: one frozen object built once from flags > environment > config file > defaults.

Nothing here reads the environment at import time; ``Settings.load()`` does, when asked.

Environment variables:
    OPENAI_BASE_URL, OPENAI_API_KEY  the openai SDK's own; setting either selects a remote endpoint
    SUMMARISER_MODEL                 model name sent to the endpoint
    SUMMARISER_HOME                  data directory (store, logs, model cache, config.toml)
    SUMMARISER_LOCAL_MODEL           a GGUF file to serve instead of the bundled model
    SUMMARISER_DB                    run store path (default: $SUMMARISER_HOME/summariser.db)
    SUMMARISER_<SETTING>             every other setting too: see ``ENV_VARS``
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from .errors import ConfigError

OutputMode = Literal["auto", "json_schema", "json_object"]
OUTPUT_MODES: tuple[str, ...] = ("auto", "json_schema", "json_object")

LOCAL_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
APP_NAME = "summariser"


def default_home() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def default_cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know. Build with ``Settings.load(...)``; never mutate."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    mode: OutputMode = "auto"
    max_attempts: int = 3
    strict: bool = False
    prompt: str = "article"
    timeout_s: float = 120.0
    retry_budget_s: float = 120.0
    max_transport_retries: int = 6
    fuzzy_threshold: float = 95.0
    max_chars: int = 100_000  # longest article sent to a model (limits.py); checked before any request
    concurrency: int = 4
    home: Path = field(default_factory=default_home)
    cache_dir: Path = field(default_factory=default_cache_dir)
    db_path: Path | None = None
    local_model: Path | None = None
    # Where each setting came from ("flag", "env", "config", "default"), so an error can say
    # which URL and model it tried and why (see endpoint.py). Not a setting: never compared.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in OUTPUT_MODES:
            raise ConfigError(f"unknown output mode {self.mode!r}: use one of {', '.join(OUTPUT_MODES)}")
        if self.max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1: fix --max-attempts, SUMMARISER_MAX_ATTEMPTS or max_attempts in config.toml")
        if self.concurrency < 1:
            raise ConfigError("concurrency must be at least 1: fix --concurrency, SUMMARISER_CONCURRENCY or concurrency in config.toml")
        if self.max_chars < 1:
            raise ConfigError("max_chars must be at least 1: fix --max-chars, SUMMARISER_MAX_CHARS or max_chars in config.toml")
        if self.base_url is not None and urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ConfigError(
                f"base URL {self.base_url!r} is not an http(s) URL: set e.g. --base-url http://127.0.0.1:8000/v1"
            )

    @property
    def uses_local_model(self) -> bool:
        """True when no endpoint is configured: summariser serves the embedded model itself."""
        return self.base_url is None and self.api_key is None

    @property
    def store_path(self) -> Path:
        return self.db_path or self.home / "summariser.db"

    @cached_property  # read on every request; Settings is frozen, so computed once
    def endpoint_host(self) -> str:
        """Host[:port] of the endpoint, safe to record (never the key)."""
        if self.base_url is None:
            return "api.openai.com" if self.api_key else "local"
        parts = urlsplit(self.base_url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "unknown"

    @property
    def model_name(self) -> str:
        """The model name to send, with a default only where one is unambiguous."""
        if self.model:
            return self.model
        if self.uses_local_model:
            return self.local_model.stem if self.local_model else LOCAL_MODEL_NAME
        if self.base_url is None or "api.openai.com" in self.base_url:
            return OPENAI_DEFAULT_MODEL
        raise ConfigError("no model name for this endpoint: pass --model NAME or set SUMMARISER_MODEL")

    def with_endpoint(self, base_url: str, model: str | None = None) -> "Settings":
        """A copy pointed at ``base_url`` (used once the embedded server is up)."""
        return replace(self, base_url=base_url, model=model or self.model)

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        *,
        local_defaults: Mapping[str, Any] | None = None,
        **flags: Any,
    ) -> "Settings":
        """Flags (non-None keyword arguments) > environment > ``config.toml`` > ``defaults`` > built-ins.

        ``defaults`` are a command's own built-in defaults (e.g. one worker for ``summarise``):
        they sit below the config file, so ``concurrency = 4`` there still applies.
        ``local_defaults`` replace them when no endpoint is configured (the embedded model, e.g.
        one worker for ``briefing``), decided in the same pass."""
        values, origins = resolve(env, defaults, local_defaults=local_defaults, **flags)
        values["origins"] = origins
        from .redaction import remember_key

        remember_key(values.get("api_key"))  # whatever echoes it back is redacted before printing or storing
        return cls(**values)


# Every setting, its environment variable and config-file key (the field name): one table, so
# flags, env, config and ``summariser config show`` cannot drift apart.
ENV_VARS: dict[str, str] = {
    "base_url": "OPENAI_BASE_URL",
    "api_key": "OPENAI_API_KEY",
    "model": "SUMMARISER_MODEL",
    "mode": "SUMMARISER_MODE",
    "max_attempts": "SUMMARISER_MAX_ATTEMPTS",
    "strict": "SUMMARISER_STRICT",
    "prompt": "SUMMARISER_PROMPT",
    "timeout_s": "SUMMARISER_TIMEOUT",
    "retry_budget_s": "SUMMARISER_RETRY_BUDGET",
    "max_transport_retries": "SUMMARISER_MAX_TRANSPORT_RETRIES",
    "fuzzy_threshold": "SUMMARISER_FUZZY_THRESHOLD",
    "max_chars": "SUMMARISER_MAX_CHARS",
    "concurrency": "SUMMARISER_CONCURRENCY",
    "home": "SUMMARISER_HOME",
    "cache_dir": "SUMMARISER_CACHE_DIR",
    "db_path": "SUMMARISER_DB",
    "local_model": "SUMMARISER_LOCAL_MODEL",
}
_PATHS = ("home", "cache_dir", "db_path", "local_model")


def config_path(env: Mapping[str, str] | None = None, home: str | Path | None = None) -> Path:
    env = os.environ if env is None else env
    home = home or env.get("SUMMARISER_HOME")
    return (Path(home).expanduser() if home else default_home()) / "config.toml"


def resolve(
    env: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    *,
    local_defaults: Mapping[str, Any] | None = None,
    **flags: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings values and where each came from ("flag", "env", "config", "default").

    ``local_defaults`` apply, as defaults, only when neither a base URL nor a key is set."""
    env = os.environ if env is None else env
    path = config_path(env, flags.get("home"))
    known = {f.name for f in fields(Settings)} - {"origins"}
    values: dict[str, Any] = dict(defaults or {})
    sources = dict.fromkeys(known, "default")
    layers = [
        ("config", _read_config_file(path)),
        ("env", {k: _coerce(k, env[v]) for k, v in ENV_VARS.items() if env.get(v)}),
        ("flag", {k: v for k, v in flags.items() if v is not None}),
    ]
    for source, layer in layers:
        unknown = sorted(set(layer) - known)
        if unknown:
            where = f"in {path}" if source == "config" else "given"
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)} {where}: remove them")
        values.update(layer)
        sources.update(dict.fromkeys(layer, source))
    unknown = sorted(set(local_defaults or ()) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} given: remove them")
    if values.get("base_url") is None and values.get("api_key") is None:  # Settings.uses_local_model
        values.update({k: v for k, v in (local_defaults or {}).items() if sources[k] == "default"})
    values["home"] = path.parent
    for key in _PATHS:
        if values.get(key) is not None:
            values[key] = Path(values[key]).expanduser()
    return values, sources


def _coerce(key: str, text: str) -> Any:
    """An environment string as the setting's type (bools accept 1/0, true/false, yes/no, on/off)."""
    default = next(f.default for f in fields(Settings) if f.name == key)
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{ENV_VARS[key]}={text!r} is not a boolean: use 1 or 0")
    if isinstance(default, (int, float)):
        try:
            return type(default)(text)
        except ValueError:
            raise ConfigError(f"{ENV_VARS[key]}={text!r} is not a number: fix or unset it") from None
    return text


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix or delete it") from None
    if "api_key" in data:
        raise ConfigError(f"{path} holds an api_key: keep keys in OPENAI_API_KEY, not in files")
    return data
