"""The real app with a dashboard login (management key + admin password), a camera, stored events, and a
dead letter refused by the loopback robot (tests/alerts_delivery/robot_server.py)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.policy import Alert
from vigilo.alerts.service import AlertService
from vigilo.config import Settings
from vigilo.dashboard.passwords import hash_password
from vigilo.phone.episodes import Episode, EpisodeChange
from vigilo.phone.events import EventStore

API_KEY = "dashboard-mgmt-key-0123456789"
PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD, n=2**12)  # a cheaper scrypt than the default: tests log in often
CAMERA, OTHER = "gate", "lobby"
ZONE = "desks"


def settings_for(tmp: Path, robot_url: str | None = None, **dashboard: Any) -> Settings:
    """Settings with both login methods, two cameras (not started: no lifespan) and, with `robot_url`, one
    DingTalk channel pointing at the loopback robot."""
    streams = {
        CAMERA: {"source": str(tmp / "gate.mp4"), "zones": [{"name": ZONE, "polygon": [[0, 0], [1, 0], [1, 1]]}]},
        OTHER: {"source": str(tmp / "lobby.mp4"), "enabled": False},
    }
    data: dict[str, Any] = {
        "server": {"api_keys": [API_KEY], "admin_password_hash": PASSWORD_HASH},
        "storage": {"data_dir": str(tmp / "var")},
        "cameras": {"streams": streams},
        "dashboard": dashboard,
    }
    if robot_url is not None:
        data["alerts"] = {
            "channels": {"ops": {"type": "dingtalk", "access_token": "dash-token", "base_url": robot_url}},
            "policy": {"group_wait": 0},
        }
    return Settings(**data)


@pytest.fixture
def robot() -> Iterator[RobotServer]:
    server = RobotServer().start()
    try:
        yield server
    finally:
        server.stop()


def dead_letter(settings: Settings) -> int:
    """One alert the robot refuses (errcode 310000), so it ends as a dead letter."""
    service = AlertService.from_settings(settings)
    [row_id] = service.submit(Alert(title="phone at gate", body="1 phone", labels={"camera": CAMERA}))

    async def deliver() -> None:
        await service.run_once()
        await service.aclose()
        for channel in service.channels.values():
            await channel.aclose()

    asyncio.run(deliver())
    service.close()
    return row_id


def seed_events(settings: Settings, jpeg: bytes | None, starts: list[tuple[str, float]]) -> list[int]:
    """Stores one ended episode per `(camera, start wall time)`, with `jpeg` as its snapshot."""
    store = EventStore(settings.storage.resolved_database_url(), settings.storage.data_dir)
    ids = []
    for index, (camera, start) in enumerate(starts):
        episode = Episode(camera, ZONE, 0.0, start, 5.0, start + 5.0 + index, 0.8, 1, {index + 1})
        ids.append(store.apply(EpisodeChange("started", episode), jpeg).id)
        episode.ended, episode.ended_wall = 20.0, start + 20.0 + index
        store.apply(EpisodeChange("ended", episode))
    store.close()
    return ids


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(client: httpx.Client, secret: str, next_url: str = "/dashboard/") -> httpx.Response:
    form = client.get("/dashboard/login", params={"next": next_url})
    assert form.status_code == 200, form.text
    data = {"csrf": csrf_of(form.text), "secret": secret, "next": next_url}
    return client.post("/dashboard/login", data=data, follow_redirects=False)


def now() -> float:
    return time.time()
