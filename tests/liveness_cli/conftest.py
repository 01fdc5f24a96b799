"""Helpers for the `vigilo face analyze` / `vigilo eval blink|headpose|smile` tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import shared_path
from vigilo.cli.main import app


def vigilo(*args: str) -> Result:
    """Runs the real `vigilo` command line in-process (stdout and stderr apart)."""
    return CliRunner().invoke(app, list(args))


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def zju_clip() -> tuple[Path, list[tuple[int, int]], int, int]:
    """ZJU clip 1: (mp4, labelled blink intervals, first and last annotated frame)."""
    import importlib.util

    folder = shared_path("data", "zju-blink", "1")
    spec = importlib.util.spec_from_file_location("parse_blink_tag", shared_path("data", "tools", "parse_blink_tag.py"))
    assert spec is not None and spec.loader is not None
    parser = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parser)
    rows = parser.parse(str(next(folder.glob("*.tag"))))
    blinks = [tuple(b) for b in parser.blinks(rows)]
    return next(folder.glob("*.mp4")), blinks, min(r["frame"] for r in rows), max(r["frame"] for r in rows)
