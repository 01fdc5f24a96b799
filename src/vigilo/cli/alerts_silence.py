"""`vigilo alerts silence add|list|expire`: silences stored next to the outbox (survive restarts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from vigilo.cli.common import ConfigOption, fail, settings_or_exit

app = typer.Typer(help="Silences with expiry: add, list, expire.", no_args_is_help=True)


def _store(config: Path | None) -> Any:
    from vigilo.alerts.service import AlertService

    settings = settings_or_exit(config)
    try:
        return AlertService.from_settings(settings, {}).silences
    except Exception as exc:
        fail(f"cannot open the alert service: {exc}")


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _line(item: Any) -> str:
    match = ",".join(f"{k}={v}" for k, v in sorted(item.match.items()))
    note = f"  {item.comment}" if item.comment else ""
    return f"{item.id:>5}  [{match}]  {_when(item.starts_at)} -> {_when(item.ends_at)}{note}"


@app.command()
def add(
    match: list[str] = typer.Option(..., "--match", help="label=value (repeatable; all must match)."),
    for_: str = typer.Option(..., "--for", help="How long: 30m, 2h, 1d, 1h30m."),
    comment: str = typer.Option("", "--comment", help="Why (shown in the ledger)."),
    by: str = typer.Option("cli", "--by", help="Who added it."),
    config: Path = ConfigOption,
) -> None:
    """Silence alerts whose labels match, e.g. `--match camera=room-3 --for 2h`."""
    from vigilo.alerts.silences import parse_duration, parse_matchers

    try:
        matchers, seconds = parse_matchers(match), parse_duration(for_)
    except ValueError as exc:
        fail(str(exc))
    item = _store(config).add(matchers, seconds, comment, by)
    typer.echo(f"silence {item.id} added: {_line(item).strip()}")


@app.command("list")
def list_(
    expired: bool = typer.Option(False, "--expired", help="Include expired silences."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    config: Path = ConfigOption,
) -> None:
    """Stored silences, newest first (configured ones live in the YAML)."""
    items = _store(config).list(include_expired=expired)
    for item in items:
        typer.echo(json.dumps(item.to_dict(), ensure_ascii=False) if as_json else _line(item))
    if not items and not as_json:
        typer.echo("no silences")


@app.command()
def expire(
    silence_id: int = typer.Argument(..., metavar="ID", help="Silence id (see `alerts silence list`)."),
    config: Path = ConfigOption,
) -> None:
    """End a silence now."""
    item = _store(config).expire(silence_id)
    if item is None:
        fail(f"no silence with id {silence_id}")
    typer.echo(f"silence {silence_id} expired")
