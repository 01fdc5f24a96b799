"""`vigilo notify test CHANNEL [--image FILE]`: one test message, and the platform's answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer

from vigilo.cli.common import EXIT_PROBLEMS, ConfigOption, fail, settings_or_exit

app = typer.Typer(help="Notification channels: send a test message.", no_args_is_help=True)


@app.command()
def test(
    channel: str = typer.Argument(..., help="Channel name from alerts.channels."),
    image: Path = typer.Option(None, "--image", exists=True, dir_okay=False, help="JPEG/PNG sent as the snapshot."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
    config: Path = ConfigOption,
) -> None:
    """Send a test message through CHANNEL now (within its rate limit) and print what the platform
    answered: outcome, platform code and reason, with secrets redacted."""
    from vigilo.alerts.service import AlertService
    from vigilo.logs import RedactingFilter

    settings = settings_or_exit(config)
    try:
        service = AlertService.from_settings(settings)
    except Exception as exc:  # bad channel config, unreachable database or Redis
        fail(f"cannot open the alert service: {exc}")
    redactor = RedactingFilter(settings.secret_values())
    if channel not in service.channels:
        known = ", ".join(sorted(service.channels)) or "none configured"
        fail(f"no channel named {channel!r} (channels: {known})")
    snapshot = image.read_bytes() if image is not None else None

    async def run() -> Any:
        try:
            return await service.send_test(channel, snapshot)
        finally:
            await service.aclose()
            for item in service.channels.values():
                closer = getattr(item, "aclose", None)
                if closer is not None:
                    await closer()

    result = asyncio.run(run())
    answer = {
        "channel": channel,
        "outcome": result.outcome.value,
        "code": result.platform_code,
        "http_status": result.http_status,
        "reason": redactor.redact(result.reason or ""),
    }
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False))
    else:
        typer.echo(
            f"{channel}: outcome={answer['outcome']} code={answer['code']} "
            f"http={answer['http_status']} reason={answer['reason'] or '-'}"
        )
    if not result.ok:
        raise typer.Exit(EXIT_PROBLEMS)
