"""Jinja2 templates of the dashboard (package data in vigilo/web/dashboard) and their helpers."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from vigilo.dashboard.charts import bar_chart
from vigilo.dashboard.texts import text
from vigilo.i18n import Locale

ASSETS = Path(str(resources.files("vigilo.web") / "dashboard"))
STATIC = ASSETS / "static"


def when(value: Any) -> str:
    """A timestamp (aware datetime, ISO text or unix seconds) in the server's local time; "—" for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    total = round(value)
    if total < 60:
        return f"{value:.1f} s"
    minutes, sec = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


def number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(ASSETS / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, seconds=seconds, number=number)
    env.globals.update(bar_chart=bar_chart)
    return env


def render(template: str, locale: Locale, **context: Any) -> str:
    def t(key: str, **params: object) -> str:
        return text(key, locale, **params)

    tz = dt.datetime.now().astimezone().tzname() or "local"
    return environment().get_template(template).render(t=t, locale=locale, local_tz=tz, **context)
