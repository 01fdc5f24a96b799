"""`vigilo` entry point: every command is registered here."""

from __future__ import annotations

from pathlib import Path

import typer

from vigilo import __version__
from vigilo.cli import alerts, config_cmd, evaluate, face, models, notify
from vigilo.cli import dashboard as dashboard_cmd
from vigilo.cli import detect as detect_cmd
from vigilo.cli import watch as watch_cmd
from vigilo.cli.common import ConfigOption, fail, settings_or_exit

ROLES = ("all", "api", "camera", "notifier")

app = typer.Typer(
    name="vigilo",
    help="Vigilo: phone watch and face-action liveness, self-hosted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("detect")(detect_cmd.detect)
app.command("watch")(watch_cmd.watch)
app.add_typer(models.app, name="models")
app.add_typer(evaluate.app, name="eval")
app.add_typer(face.app, name="face")
app.add_typer(config_cmd.app, name="config")
app.add_typer(alerts.app, name="alerts")
app.add_typer(notify.app, name="notify")
app.add_typer(dashboard_cmd.app, name="dashboard")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"vigilo {__version__}")


@app.command()
def serve(
    host: str = typer.Option(None, "--host", help="Address to listen on (config server.host)."),
    port: int = typer.Option(None, "--port", help="Port to listen on (config server.port)."),
    role: str = typer.Option(
        None, "--role", help="all | api | camera | notifier (config server.role; docs/deploy.md, Scale-out)."
    ),
    config: Path = ConfigOption,
) -> None:
    """Run the HTTP server (API, pages, workers) on the configured or embedded defaults."""
    import uvicorn

    from vigilo.api.app import create_app
    from vigilo.bus import BusUnavailable, bus_redis_url

    settings = settings_or_exit(config)
    if host:
        settings.server.host = host
    if port:
        settings.server.port = port
    if role:
        if role not in ROLES:
            fail(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
        settings.server.role = role  # type: ignore[assignment]
    if settings.server.role != "all":
        try:
            bus_redis_url(settings)
        except BusUnavailable as exc:
            fail(str(exc))
    try:
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create data folder {settings.storage.data_dir}: {exc.strerror or exc}")
    app_ = create_app(settings)
    # a few seconds for open live feeds (SSE) to close on Ctrl-C, then the cameras stop
    uvicorn.run(
        app_, host=settings.server.host, port=settings.server.port, log_config=None, timeout_graceful_shutdown=5
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
