"""Say which endpoint and model a failed request tried, and where each setting came from.

"cannot connect" alone leaves a user guessing whether the URL came from a flag, a forgotten
``export OPENAI_BASE_URL=...`` or ``config.toml``. ``explain_error`` adds that, from the origins
``Settings.load`` records::

    cannot connect to 127.0.0.1:9; tried http://127.0.0.1:9/v1 (from OPENAI_BASE_URL) with model
    'qwen' (from model in /home/me/.local/share/summariser/config.toml)

URLs are shown without any user:password part; keys are never shown.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .config import ENV_VARS, OPENAI_DEFAULT_MODEL, Settings, config_path
from .errors import ContextLengthError, LLMError, RefusalError, SummaryFailed, TruncationError

OPENAI_URL = "https://api.openai.com/v1"
_FLAGS = {"base_url": "--base-url", "model": "--model"}
# Failures that are about the article or the reply, not about reaching the endpoint: naming the
# URL there would only lengthen a message that is already precise.
_NOT_ENDPOINT = (SummaryFailed, ContextLengthError, RefusalError, TruncationError)


def safe_url(url: str) -> str:
    """``url`` without a user:password part."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))
    return url


def origin_of(settings: Settings, key: str) -> str:
    """Where ``settings.<key>`` came from, as a user would look for it."""
    source = settings.origins.get(key, "default")
    if source == "flag":
        return _FLAGS.get(key, f"--{key.replace('_', '-')}")
    if source == "env":
        return ENV_VARS[key]
    if source == "config":
        return f"{key} in {config_path(home=settings.home)}"
    return "default"


def describe_endpoint(settings: Settings, *, model: str | None = None, per_request: bool = False) -> str:
    """``http://host/v1 (from OPENAI_BASE_URL) with model 'm' (from --model)``.

    ``per_request``: the model comes from each request (a batch file) unless one is set."""
    if settings.uses_local_model:
        url = "the embedded model (no OPENAI_BASE_URL or OPENAI_API_KEY is set)"
    elif settings.base_url is None:
        url = f"{OPENAI_URL} (the default with OPENAI_API_KEY set)"
    else:
        url = f"{safe_url(settings.base_url)} (from {origin_of(settings, 'base_url')})"
    if model is not None and model != settings.model:
        named = f"model {model!r} (as the request named it)"
    elif settings.model:
        named = f"model {settings.model!r} (from {origin_of(settings, 'model')})"
    elif per_request:
        named = "the model each request names"
    elif settings.uses_local_model:
        named = f"model {settings.model_name!r} (the embedded model's name)"
    elif settings.base_url is None or "api.openai.com" in settings.base_url:
        named = f"model {OPENAI_DEFAULT_MODEL!r} (the default for OpenAI; set --model or SUMMARISER_MODEL)"
    else:
        named = "no model name (set --model or SUMMARISER_MODEL)"
    return f"{url} with {named}"


def is_endpoint_error(exc: BaseException) -> bool:
    """True for failures to reach or use the endpoint (connection, auth, 404, 4xx/5xx, limits)."""
    return isinstance(exc, LLMError) and not isinstance(exc, _NOT_ENDPOINT)


def explain_error(exc: BaseException, settings: Settings | None, *, model: str | None = None) -> str:
    """The error's message, plus the endpoint and model tried and where each came from when the
    error is about the endpoint (otherwise the message as it is)."""
    message = str(exc)
    if settings is None or not is_endpoint_error(exc) or "; tried " in message:
        return message
    return f"{message}; tried {describe_endpoint(settings, model=model)}"


def annotate_error(exc: BaseException, settings: Settings | None) -> BaseException:
    """``exc`` with :func:`explain_error`'s text as its message, for errors that are recorded
    rather than printed (eval reports)."""
    explained = explain_error(exc, settings)
    if explained != str(exc):
        exc.args = (explained,)
    return exc


__all__ = [
    "annotate_error","describe_endpoint", "explain_error", "is_endpoint_error", "origin_of", "safe_url"]
