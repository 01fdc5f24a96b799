"""`vigilo alerts ...`: the delivery ledger, dead letters and channel tests."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from vigilo.cli.alerts_silence import app as silence_app
from vigilo.cli.common import EXIT_PROBLEMS, ConfigOption, fail, settings_or_exit

app = typer.Typer(
    help="Alert delivery: list, retry dead letters, stats, reports, test a channel.", no_args_is_help=True
)

_STATES = ("pending", "in_flight", "sent", "dead", "suppressed")
app.add_typer(silence_app, name="silence")


def _service(config: Path | None, with_channels: bool = False) -> Any:
    """The service; channels are built only when needed, so a broken one does not hide the ledger."""
    from vigilo.alerts.service import AlertService

    settings = settings_or_exit(config)
    try:
        return AlertService.from_settings(settings, None if with_channels else {})
    except Exception as exc:  # bad channel config, unreachable database or Redis
        fail(f"cannot open the alert service: {exc}")


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_(
    state: str = typer.Option(None, "--state", help=f"Only rows in this state: {', '.join(_STATES)}."),
    channel: str = typer.Option(None, "--channel", help="Only rows for this channel."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Newest rows first, at most this many."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    config: Path = ConfigOption,
) -> None:
    """List alert deliveries in the outbox, newest first."""
    if state and state not in _STATES:
        fail(f"unknown state {state!r}; use one of {', '.join(_STATES)}")
    service = _service(config)
    rows = service.rows(state, channel, limit)
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row.to_dict(), ensure_ascii=False))
            continue
        reason = f"  {row.last_reason}" if row.last_reason else ""
        typer.echo(
            f"{row.id:>6}  {row.state:<10} {row.channel:<16} attempts={row.attempts}  "
            f"created={_when(row.created_at)}  sent={_when(row.sent_at)}  {row.to_dict()['title']}{reason}"
        )
    if not rows and not as_json:
        typer.echo("no alert deliveries match")


@app.command()
def retry(
    row_id: int = typer.Argument(..., metavar="ID", help="Outbox id of a dead letter (see `alerts list`)."),
    config: Path = ConfigOption,
) -> None:
    """Put a dead letter back in the queue; the running server's worker delivers it."""
    from vigilo.alerts.outbox import OutboxError

    service = _service(config)
    try:
        row = service.retry(row_id)
    except OutboxError as exc:
        fail(str(exc))
    typer.echo(f"alert delivery {row.id} re-queued for {row.channel}")


@app.command()
def stats(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path = ConfigOption,
) -> None:
    """Per-channel counts (sent, failed attempts, retried, dead, suppressed) and latency."""
    service = _service(config)
    rows = [s.to_dict() for s in service.stats()]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no alert deliveries yet")
    for s in rows:
        p50 = "-" if s["latency_p50_ms"] is None else f"{s['latency_p50_ms'] / 1000:.1f}s"
        p99 = "-" if s["latency_p99_ms"] is None else f"{s['latency_p99_ms'] / 1000:.1f}s"
        typer.echo(
            f"{s['channel']:<16} sent={s['sent']} failed={s['failed']} retried={s['retried']} "
            f"dead={s['dead']} suppressed={s['suppressed']} pending={s['pending'] + s['in_flight']} "
            f"latency p50={p50} p99={p99}"
        )


@app.command()
def purge(
    days: float = typer.Option(30.0, "--days", min=0, help="Keep rows newer than this many days."),
    config: Path = ConfigOption,
) -> None:
    """Delete finished deliveries (sent, suppressed, dead) older than --days, and their snapshots."""
    import time

    service = _service(config)
    removed = service.outbox.purge(time.time() - days * 86400)
    typer.echo(f"removed {removed} alert deliveries older than {days:g} days")


@app.command()
def report(
    period: str = typer.Option("day", "--period", help="day (last 24 hours) or week (last 7 days)."),
    send: bool = typer.Option(False, "--send", help="Send it through the report channels instead of printing."),
    channel: list[str] = typer.Option(None, "--channel", help="Send to this channel (repeatable); default: all."),
    config: Path = ConfigOption,
) -> None:
    """Print the alert report for the last day or week (counts per camera, zone, severity; delivery)."""
    if period not in ("day", "week"):
        fail(f"unknown period {period!r}; use day or week")
    service = _service(config, with_channels=send)
    message = service.report(period)
    if not send:
        from vigilo.alerts.rendering import templates_from_settings

        typer.echo(templates_from_settings(settings_or_exit(config)).render(message, "text").text)
        return
    names = channel or None
    unknown = sorted(set(names or []) - set(service.channels))
    if unknown or not service.channels:
        fail(f"no channel named {unknown[0]!r}" if unknown else "no alert channels are configured")
    ids = service.enqueue_report(message, names)

    async def deliver() -> None:
        try:
            await service.run_once()
        finally:
            await service.aclose()
            for item in service.channels.values():
                await item.aclose()

    asyncio.run(deliver())
    rows = [service.outbox.get(row_id) for row_id in ids]
    failed = [r for r in rows if r is not None and r.state != "sent"]
    for row in rows:
        if row is not None:
            typer.echo(f"{row.channel}: {row.state}{'  ' + row.last_reason if row.last_reason else ''}")
    if failed:
        raise typer.Exit(EXIT_PROBLEMS)


@app.command()
def test(
    channel: str = typer.Argument(..., help="Channel name from alerts.channels."),
    config: Path = ConfigOption,
) -> None:
    """Send a test message through one channel now and print what the platform answered."""
    service = _service(config, with_channels=True)
    if channel not in service.channels:
        known = ", ".join(sorted(service.channels)) or "none configured"
        fail(f"no channel named {channel!r} (channels: {known})")

    async def run() -> Any:
        try:
            return await service.send_test(channel)
        finally:
            await service.aclose()
            closer = getattr(service.channels[channel], "aclose", None)
            if closer is not None:
                await closer()

    result = asyncio.run(run())
    if result.ok:
        typer.echo(f"sent to {channel}: the platform accepted the message (code {result.platform_code})")
        return
    fail(f"{channel}: {result.outcome.value}: {result.reason} (code {result.platform_code})", EXIT_PROBLEMS)
