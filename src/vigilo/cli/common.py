"""What every command shares: loading settings, one-line errors, the stderr console."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from vigilo.config import ConfigError, Settings, load_settings
from vigilo.logs import configure_logging

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_PROBLEMS = 1  # the run finished but some input could not be used
EXIT_USAGE = 2  # bad configuration, arguments or model: nothing was done

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file (default: ./vigilo.yaml if present).")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"vigilo: error: {message}", markup=False)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail(str(exc))
    configure_logging(settings.logging.level, settings.logging.format, settings.secret_values())
    return settings
