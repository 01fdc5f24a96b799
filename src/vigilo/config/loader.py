"""Loads `Settings` from YAML, `.env` and the environment, and turns errors into one readable line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from vigilo.config.model import Settings

DEFAULT_CONFIG_FILE = Path("vigilo.yaml")

# The seed project's environment names keep working; each maps onto a config key.
SEED_ENV_NAMES: dict[str, tuple[str, str]] = {
    "NOTIFICATION_ENABLED": ("notification", "enabled"),
    "NOTIFICATION_THRESHOLD": ("notification", "threshold"),
    "WECOM_CORP_ID": ("wecom", "corp_id"),
    "WECOM_AGENT_ID": ("wecom", "agent_id"),
    "WECOM_SECRET": ("wecom", "secret"),
    "DINGTALK_WEBHOOK": ("dingtalk", "webhook"),
    "DINGTALK_SECRET": ("dingtalk", "secret"),
}


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class _DotEnvSource(EnvSettingsSource):
    """`VIGILO_*` entries of a `.env` file, parsed exactly like the environment.

    pydantic-settings' own DotEnvSettingsSource treats every other line of the file as an
    unknown key when extra keys are forbidden; a `.env` shared with other tools must not fail.
    """

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str | None]) -> None:
        self._file_values = values
        super().__init__(settings_cls, env_prefix="VIGILO_", env_nested_delimiter="__")

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._file_values)


class _SeedEnvSource(PydanticBaseSettingsSource):
    """Maps the seed's flat names (e.g. `WECOM_SECRET`) onto nested keys."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str | None]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, dict[str, Any]] = {}
        for name, (section, key) in SEED_ENV_NAMES.items():
            value = self._values.get(name)
            if value is not None and value != "":
                data.setdefault(section, {})[key] = value
        return data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (server:, detector:, ...)")
    return data


def _describe(error: ValidationError, origin: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{origin}: {key}: {message}{suffix}"


def load_settings(
    config_file: Path | None = None,
    *,
    env_file: Path | None = Path(".env"),
) -> Settings:
    """Builds the settings. `config_file=None` uses ./vigilo.yaml when it exists.

    Raises ConfigError with one line that names the bad key and why.
    """
    path = config_file
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    yaml_data = _read_yaml(path) if path is not None else {}
    dotenv = dotenv_values(env_file) if env_file is not None and env_file.is_file() else {}

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # pydantic-settings does the VIGILO_* parsing (nested keys, JSON values); we only
            # choose the sources and their order: environment > .env > YAML > defaults.
            return (
                EnvSettingsSource(settings_cls, env_prefix="VIGILO_", env_nested_delimiter="__"),
                _SeedEnvSource(settings_cls, os.environ),
                _DotEnvSource(settings_cls, dotenv),
                _SeedEnvSource(settings_cls, dotenv),
                InitSettingsSource(settings_cls, init_kwargs=yaml_data),
            )

    origin = str(path) if path is not None else "configuration"
    try:
        return _Loaded()
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
