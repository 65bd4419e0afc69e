"""Typed readers for ``SOBERANA_*`` environment variables that fail loudly on a bad value.

Every secret may also be given as ``NAME_FILE`` pointing at a file that holds it (Docker and
Kubernetes secrets), which keeps secrets out of ``/proc/*/environ`` and process listings.
"""

from __future__ import annotations

import os
from pathlib import Path


class ConfigurationError(Exception):
    """A configuration value is present but unusable; the message names the variable."""


def env_str(name: str, default: str | None = None) -> str | None:
    """Return ``name`` from the environment, or the content of the file named by ``name_FILE``.

    Raises ConfigurationError when both are set or the file cannot be read.
    """
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if value is not None and file_name:
        raise ConfigurationError(f"Set {name} or {name}_FILE, not both.")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return default if value is None or value == "" else value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Return an integer setting; raises ConfigurationError on a non-integer or too-small value."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}={raw!r} is not an integer.") from exc
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name}={value} must be at least {minimum}.")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean setting; accepts 1/0, true/false, yes/no, on/off (any case)."""
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean (use true or false).")


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated list setting, stripped, empty items removed."""
    raw = env_str(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Return a setting that must be one of ``choices``."""
    value = env_str(name, default) or default
    if value not in choices:
        raise ConfigurationError(f"{name}={value!r} must be one of {', '.join(choices)}.")
    return value
