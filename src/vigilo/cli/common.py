"""What every command shares: loading settings, one-line errors, the stderr console."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from vigilo.config import ConfigError, Settings, load_settings
from vigilo.logs import configure_logging

if TYPE_CHECKING:
    from vigilo.phone.detector import PhoneDetector

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_PROBLEMS = 1  # the run finished but some input could not be used
EXIT_USAGE = 2  # bad configuration, arguments or model: nothing was done

ConfigOption = typer.Option(
    None, "--config", "-c", envvar="VIGILO_CONFIG", help="YAML config file (default: ./vigilo.yaml if present)."
)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"vigilo: error: {message}", markup=False)
    raise typer.Exit(code)


ZoomOption = typer.Option(
    None, "--zoom/--no-zoom", help="Second pass on zoomed crops for small phones (detector.zoom)."
)
ModelOption = typer.Option(None, "--model", "-m", help="ONNX detector to use instead of the configured one.")


def phone_detector_or_exit(settings: Settings, model: Path | None = None, zoom: bool | None = None) -> PhoneDetector:
    """The configured phone detector, with command-line overrides; a bad model exits with one line."""
    # Imported here so that commands which need no model (version, config, alerts) start fast.
    from vigilo.phone.detector import PhoneDetector
    from vigilo.vision.onnx_detector import ModelError
    from vigilo.vision.runtime import ProviderError

    if model is not None:
        settings.detector.model = model
    if zoom is not None:
        settings.detector.zoom.enabled = zoom
    try:
        return PhoneDetector.from_config(settings.detector)
    except (ModelError, ProviderError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


def settings_or_exit(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail(str(exc))
    configure_logging(settings.logging.level, settings.logging.format, settings.secret_values())
    return settings
