"""`vigilo config`: print every setting with its default, or check a config file."""

from __future__ import annotations

from pathlib import Path

import typer

from vigilo.cli.common import ConfigOption, settings_or_exit
from vigilo.config.describe import default_yaml

app = typer.Typer(help="Show the default configuration or check a config file.", no_args_is_help=True)


@app.command()
def defaults() -> None:
    """Print every setting with its default value and description, as YAML."""
    typer.echo(default_yaml(), nl=False)


@app.command()
def check(config: Path = ConfigOption) -> None:
    """Load the configuration (file, .env, environment) and report the first problem, if any."""
    settings_or_exit(config)
    typer.echo("configuration ok")
