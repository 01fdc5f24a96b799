"""Scale-out on real engines: Redis (sessions, the alert bus), PostgreSQL (events, the outbox), two API
workers, two notifier workers and a camera worker, each a `vigilo serve --role ...` process on loopback.
One of each is killed with SIGKILL mid-run: no liveness session state is lost, and every phone episode
reaches the (fake) DingTalk robot exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis
import yaml

from tests.fakes.dingtalk import SECRET, TOKEN, FakeDingTalk
from tests.liveness.test_end_to_end import clip_frames, jpeg
from tests.scale.conftest import Worker, start_worker, wait_ready
from tests.watch.conftest import Frames, frames  # noqa: F401  (the session fixture, reused)
from tests.watch.mjpeg_server import MjpegServer
from tests.watch_e2e.conftest import Scene, wait_for
from vigilo.alerts.policy import Alert
from vigilo.bus import AlertBus
from vigilo.config.model import BusConfig
from vigilo.vision.imageio import encode_jpeg

MGMT = {"X-API-Key": "mgmt-key-scale"}
BUSINESS = {"X-API-Key": "business-key-scale"}
RESULT_SECRET = "result-secret-shared-by-every-api-worker"


def config(folder: Path, postgres: str, redis: str, camera: str, dingtalk: str) -> Path:
    body: dict[str, Any] = {
        "server": {"api_keys": [MGMT["X-API-Key"]]},
        "storage": {"data_dir": str(folder / "var"), "database_url": postgres},
        "sessions": {"redis_url": redis},
        "bus": {"claim_idle_seconds": 2},
        "detector": {"threads": 1},
        "alerts": {
            "channels": {"ops": {"type": "dingtalk", "access_token": TOKEN, "secret": SECRET, "base_url": dingtalk}},
            "policy": {"group_wait": 0, "group_interval": 0},
            "outbox": {"poll_interval": 0.05},
        },
        "liveness": {
            "api_keys": [BUSINESS["X-API-Key"]],
            "result_secret": RESULT_SECRET,
            "lockout_failures": 100,
        },
        "cameras": {
            "defaults": {"fps": 5, "confirm": {"min_frames": 2, "window": 3}, "episode": {"grace_seconds": 1.0}},
            "streams": {"room-101": {"source": camera, "reconnect": {"initial_seconds": 0.2, "max_seconds": 0.5}}},
        },
        "events": {"alerts": {"started": True, "ended": False, "camera": False}},
    }
    path = folder / "vigilo.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


@pytest.fixture
def own_redis_db(redis_url: str) -> str:
    """A database of its own: other tests remember the same ZJU frames (replay defence) in db 0."""
    return redis_url.rsplit("/", 1)[0] + "/7"


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def started_messages(dingtalk: FakeDingTalk) -> list[str]:
    return [d["msgUuid"] for d in dingtalk.delivered if str(d.get("msgUuid", "")).endswith(":started")]


def phone_episode(scene: Scene, api: str, count: int) -> None:
    scene.what = "phone"
    wait_for(lambda: len(events(api)) >= count, 30, f"episode {count} to be stored")
    scene.what = "empty"
    wait_for(lambda: all(e["status"] == "ended" for e in events(api)), 30, f"episode {count} to end")


def events(api: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(f"{api}/api/v1/events", headers=MGMT, timeout=10).json()["items"]
    return items


def test_sessions_and_alerts_survive_killed_workers(
    tmp_path: Path,
    postgres_url: str,
    own_redis_db: str,
    frames: Frames,  # noqa: F811
    workers: list[Worker],
) -> None:
    scene = Scene({"phone": encode_jpeg(frames.phone), "empty": encode_jpeg(frames.empty)})
    camera, dingtalk = MjpegServer(scene.frame, fps=10).start(), FakeDingTalk().start()
    try:
        path = config(tmp_path, postgres_url, own_redis_db, camera.url + "/stream.mjpg", dingtalk.url)
        for role in ("api", "api", "notifier", "notifier", "camera"):
            workers.append(start_worker(path, role, tmp_path))
        for worker in workers:
            wait_ready(worker)
        api1, api2, notifier1, _, camera1 = workers

        # A liveness session created on one API worker, its frames spread over both; the first dies midway.
        created = httpx.post(
            f"{api1.url}/api/v1/liveness/sessions", json={"actions": ["blink"]}, headers=BUSINESS, timeout=10
        ).json()
        answers = []
        for seq, image in enumerate(clip_frames("1"), start=1):
            if seq == 8:
                api1.kill()
            target = api1 if seq % 2 and seq < 8 else api2
            started = time.monotonic()
            answer = httpx.post(
                f"{target.url}/api/v1/liveness/sessions/{created['session_id']}/frames",
                json={"image": _b64(jpeg(image)), "seq": seq, "captured_at": time.time() * 1000},
                headers={"X-Session-Nonce": created["nonce"]},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
            if answers[-1]["done"]:
                break
            time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
        assert answers[-1]["passed"], [a["state"] for a in answers]
        assert len(answers) > 8  # the session went on after its first worker died
        token = httpx.get(
            f"{api2.url}/api/v1/liveness/sessions/{created['session_id']}/result", headers=BUSINESS, timeout=10
        ).json()["token"]
        claims = jwt.decode(token, RESULT_SECRET, algorithms=["HS256"], audience="vigilo-liveness")
        assert claims["decision"] == "pass"

        # Phone episodes: camera worker -> Redis stream -> notifiers -> PostgreSQL outbox -> DingTalk.
        phone_episode(scene, api2.url, 1)
        notifier1.kill()
        phone_episode(scene, api2.url, 2)
        camera1.kill()
        camera2 = start_worker(path, "camera", tmp_path)
        workers.append(camera2)
        wait_ready(camera2)
        phone_episode(scene, api2.url, 3)
        wait_for(lambda: len(started_messages(dingtalk)) >= 3, 30, "three messages on DingTalk")
        time.sleep(3)  # anything late or doubled would arrive now (the bus takes stale entries over after 2 s)
        stored = events(api2.url)
        assert len(stored) == 3
        uuids = started_messages(dingtalk)
        assert len(uuids) == 3 == len(set(uuids)), uuids
        assert len(dingtalk.delivered) == 3
        bus = redis.Redis.from_url(own_redis_db)
        assert bus.xlen("vigilo:alerts") == 3  # the alerts went through the stream, not around it
        assert bus.xpending("vigilo:alerts", "notifiers")["pending"] == 0
        bus.close()
    finally:
        camera.stop()
        dingtalk.stop()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_a_dead_notifiers_entries_are_taken_over(redis_url: str) -> None:
    """Notifier A reads an entry and dies before acknowledging it; notifier B takes it over once it has been
    idle `claim_idle_seconds`, and a repeat of an alert keeps its idempotency key."""
    url = redis_url.rsplit("/", 1)[0] + "/8"
    config = BusConfig(stream=f"test:{time.time_ns()}", claim_idle_seconds=0.3)
    camera, a, b = AlertBus(url, config), AlertBus(url, config, consumer="a"), AlertBus(url, config, consumer="b")
    try:
        a.ensure_group()
        alert = Alert(title="发现手机", body="room-101", snapshot=b"\xff\xd8jpeg", labels={"camera": "room-101"})
        camera.publish(alert)

        def dies(_: Alert) -> None:
            raise RuntimeError("killed before XACK")

        assert a.consume_once(dies, block_ms=100) == 0
        assert a.pending() == 1
        handled: list[Alert] = []
        assert b.consume_once(handled.append, block_ms=100) == 0  # not idle long enough yet
        time.sleep(0.4)
        assert b.consume_once(handled.append, block_ms=100) == 1
        (taken,) = handled
        assert (taken.key, taken.title, taken.labels) == (alert.key, "发现手机", alert.labels)
        assert taken.snapshot == b"\xff\xd8jpeg"
        assert b.pending() == 0
    finally:
        for bus in (camera, a, b):
            bus.close()
