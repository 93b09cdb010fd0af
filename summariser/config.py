"""Settings: one frozen object built once from flags > environment > config file > defaults.

Nothing here reads the environment at import time; ``Settings.load()`` does, when asked.

Environment variables:
    OPENAI_BASE_URL, OPENAI_API_KEY  the openai SDK's own; setting either selects a remote endpoint
    SUMMARISER_MODEL                 model name sent to the endpoint
    SUMMARISER_HOME                  data directory (store, logs, model cache, config.toml)
    SUMMARISER_LOCAL_MODEL           a GGUF file to serve instead of the bundled model
    SUMMARISER_DB                    run store path (default: $SUMMARISER_HOME/summariser.db)
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
    concurrency: int = 4
    home: Path = field(default_factory=default_home)
    cache_dir: Path = field(default_factory=default_cache_dir)
    db_path: Path | None = None
    local_model: Path | None = None

    def __post_init__(self) -> None:
        if self.mode not in OUTPUT_MODES:
            raise ConfigError(f"unknown output mode {self.mode!r}: use one of {', '.join(OUTPUT_MODES)}")
        if self.max_attempts < 1:
            raise ConfigError("--max-attempts must be at least 1")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
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
    def load(cls, env: Mapping[str, str] | None = None, **flags: Any) -> "Settings":
        """Flags (non-None keyword arguments) > environment > ``config.toml`` > defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        home = flags.get("home") or env.get("SUMMARISER_HOME")
        home_path = Path(home).expanduser() if home else default_home()
        values.update(_read_config_file(home_path / "config.toml"))
        env_map = {
            "base_url": env.get("OPENAI_BASE_URL"),
            "api_key": env.get("OPENAI_API_KEY"),
            "model": env.get("SUMMARISER_MODEL"),
            "local_model": env.get("SUMMARISER_LOCAL_MODEL"),
            "db_path": env.get("SUMMARISER_DB"),
        }
        values.update({k: v for k, v in env_map.items() if v})
        values.update({k: v for k, v in flags.items() if v is not None})
        values["home"] = home_path
        if env.get("SUMMARISER_CACHE_DIR"):
            values.setdefault("cache_dir", Path(env["SUMMARISER_CACHE_DIR"]).expanduser())
        for key in ("local_model", "db_path", "cache_dir"):
            if values.get(key) is not None:
                values[key] = Path(values[key]).expanduser()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)} in config.toml: remove them")
        return cls(**values)


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
