"""`vigilo serve` end to end, in one process: a loopback MJPEG camera shows a phone twice; each episode gives
exactly one "started" message per channel with the snapshot (WeCom robot: image base64 + md5; DingTalk:
Markdown image linking Vigilo's own signed snapshot URL, which really returns the JPEG) and one "ended"
note; the events API, its filters, snapshot download and SSE; camera offline / online messages; disable
and enable. Tests run in file order against one running app (module fixture)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import time
from typing import Any

import cv2
import httpx
import numpy as np

from tests.watch_e2e.conftest import API_KEY, AUTH, CAMERA, ZONE, Running, wait_for

# Message wording may come from the alert templates: "started" messages are told apart by the idempotency
# key on DingTalk (msgUuid) and by "发现" (found) on the WeCom robot; the other kinds keep our titles.
STARTED, ENDED = "发现", "手机告警结束"
OFFLINE, ONLINE = "摄像头离线", "摄像头恢复在线"
IMAGE_LINK = re.compile(r"!\[snapshot\]\((http://[^)]+)\)")


def ding_texts(running: Running) -> list[str]:
    return [d["markdown"]["title"] + "\n" + d["markdown"]["text"] for d in running.dingtalk.delivered]


def ding_started(running: Running) -> list[str]:
    """The texts of DingTalk messages whose idempotency key is a phone episode's start."""
    delivered = running.dingtalk.delivered
    return [t for d, t in zip(delivered, ding_texts(running), strict=True) if d["msgUuid"].endswith(":started")]


def bot_markdowns(running: Running) -> list[str]:
    return [d["markdown"]["content"] for d in running.wecom.delivered if d["msgtype"] == "markdown"]


def bot_images(running: Running) -> list[dict[str, Any]]:
    return [d["image"] for d in running.wecom.delivered if d["msgtype"] == "image"]


def count(texts: list[str], needle: str) -> int:
    return sum(needle in t for t in texts)


def is_jpeg_of_frame(data: bytes) -> bool:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return data[:2] == b"\xff\xd8" and image is not None and image.shape[1] == 320


def show_phone_once(running: Running, episode: int) -> None:
    running.scene.what = "phone"
    wait_for(lambda: len(running.sse.phone("started")) >= episode, 15, f"episode {episode} to start")
    time.sleep(0.6)  # the phone stays a little: no second start may come of it
    running.scene.what = "empty"
    wait_for(lambda: len(running.sse.phone("ended")) >= episode, 15, f"episode {episode} to end")


def test_one_message_per_episode_per_channel_with_the_snapshot(running: Running) -> None:
    show_phone_once(running, 1)
    show_phone_once(running, 2)
    wait_for(lambda: count(ding_texts(running), ENDED) >= 2, 15, "two ended notes on DingTalk")
    wait_for(lambda: count(bot_markdowns(running), ENDED) >= 2, 15, "two ended notes on the WeCom robot")
    time.sleep(0.5)  # anything extra would arrive now

    started = running.sse.phone("started")
    assert len(started) == 2 and len(running.sse.phone("ended")) == 2, running.sse.events
    assert all(e["camera"] == CAMERA and e["zone"] == ZONE for e in started)
    ding, bot = ding_texts(running), bot_markdowns(running)
    assert len(ding_started(running)) == 2 and count(ding, ENDED) == 2, ding
    assert len(running.dingtalk.delivered) == 4
    assert count(bot, STARTED) == 2 and count(bot, ENDED) == 2, bot
    assert len(bot) == 4
    assert all(CAMERA in t and ZONE in t for t in ding + bot)

    # WeCom robot: one image message per started episode, base64 + md5, the event's own snapshot
    images = bot_images(running)
    assert len(images) == 2
    for image, event in zip(images, started, strict=True):
        raw = base64.b64decode(image["base64"])
        assert hashlib.md5(raw).hexdigest() == image["md5"] and is_jpeg_of_frame(raw)
        assert raw == running.client.get(event["snapshot_url"]).content
        assert httpx.get(running.url + event["snapshot_url"]).status_code == 401  # unsigned: the key is needed

    # DingTalk: the Markdown image links Vigilo's signed snapshot URL, which returns that JPEG
    links = IMAGE_LINK.findall("\n".join(ding))
    assert IMAGE_LINK.findall("\n".join(ding_started(running))) == links  # only the starts show the image
    assert len(links) == 2 and all(link.startswith(running.url) for link in links)
    for link, event in zip(links, started, strict=True):
        assert f"/api/v1/events/{event['id']}/snapshot.jpg?exp=" in link and "&sig=" in link
        reply = httpx.get(link)  # no API key: the signature is enough
        assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
        assert is_jpeg_of_frame(reply.content)
    forged = httpx.get(links[0].replace(f"/events/{started[0]['id']}/", f"/events/{started[1]['id']}/"))
    assert forged.status_code == 403 and forged.json()["code"] == "event_link_invalid"
    expired = re.sub(r"exp=\d+", "exp=1000", links[0])
    assert httpx.get(expired).status_code == 403
    assert httpx.get(expired, headers=AUTH).status_code == 403  # a key does not mend a broken link
    # the ended notes carry the duration, no image
    assert all("持续时间" in t and "![snapshot]" not in t for t in ding if ENDED in t)


def test_events_api_filters_and_snapshot(running: Running) -> None:
    client = running.client
    everything = client.get("/api/v1/events").json()
    ids = [e["id"] for e in everything["items"]]
    assert len(ids) == 2 and everything["next_offset"] is None
    assert ids == sorted(ids, reverse=True)  # newest first

    def found(**params: Any) -> list[int]:
        reply = client.get("/api/v1/events", params=params)
        assert reply.status_code == 200, reply.text
        return [e["id"] for e in reply.json()["items"]]

    assert found(camera=CAMERA) == ids and found(camera="room-999") == []
    assert found(zone=ZONE) == ids and found(zone="door") == []
    assert found(status="ended") == ids and found(status="new") == []
    first = client.get(f"/api/v1/events/{ids[-1]}").json()
    second_start = client.get(f"/api/v1/events/{ids[0]}").json()["started_at"]
    assert found(since=second_start) == [ids[0]]
    assert found(until=second_start) == [ids[-1]]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert found(since=future) == []
    page = client.get("/api/v1/events", params={"limit": 1}).json()
    assert [e["id"] for e in page["items"]] == [ids[0]] and page["next_offset"] == 1
    assert found(limit=1, offset=1) == [ids[-1]]
    assert client.get("/api/v1/events", params={"status": "lost"}).json()["code"] == "invalid_request"

    assert first["status"] == "ended" and first["phone_count"] == 1 and first["peak_score"] > 0.5
    assert first["ended_at"] and 0.5 < first["duration_s"] < 5 and "snapshot" not in first
    snapshot = client.get(first["snapshot_url"])
    assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/jpeg"
    assert is_jpeg_of_frame(snapshot.content)

    missing = client.get("/api/v1/events/999999")
    assert missing.status_code == 404 and missing.json()["code"] == "event_not_found"
    assert "不存在" in missing.json()["message"]
    english = client.get("/api/v1/events/999999/snapshot.jpg", headers={"Accept-Language": "en"})
    assert english.status_code == 404 and english.json()["message"] == "No event with id 999999"

    # SSE: every change came through the stream, as the stored events
    assert running.sse.content_type.startswith("text/event-stream")
    assert sorted(e["id"] for e in running.sse.phone("started")) == sorted(ids)
    assert {e["id"] for e in running.sse.phone("ended")} == set(ids)

    cameras = client.get("/api/v1/cameras").json()["items"]
    assert len(cameras) == 1
    cam = cameras[0]
    assert cam["name"] == CAMERA and cam["state"] == "online" and cam["enabled"] is True
    assert 2.0 < cam["fps"] < 8.0 and cam["lag_ms"] is not None and cam["lag_ms"] < 1000
    last = dt.datetime.fromisoformat(cam["last_frame_at"])
    assert (dt.datetime.now(dt.UTC) - last).total_seconds() < 3


def test_management_api_needs_the_key(running: Running) -> None:
    event_id = running.client.get("/api/v1/events").json()["items"][0]["id"]
    paths = ["/api/v1/cameras", f"/api/v1/cameras/{CAMERA}", "/api/v1/events", f"/api/v1/events/{event_id}"]
    paths += ["/api/v1/events/stream", f"/api/v1/events/{event_id}/snapshot.jpg"]
    refused: tuple[dict[str, str], ...] = (
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "wrong"},
        {"Authorization": API_KEY},
    )
    for path in paths:
        for headers in refused:
            reply = httpx.get(running.url + path, headers=headers, timeout=5)
            assert reply.status_code == 401, (path, headers, reply.text)
            assert reply.json() == {"code": "unauthorized", "message": "缺少或无效的 API 密钥"}
    for action in ("disable", "enable"):
        assert httpx.post(f"{running.url}/api/v1/cameras/{CAMERA}/{action}").status_code == 401
    assert running.client.get(f"/api/v1/cameras/{CAMERA}").json()["state"] == "online"  # untouched
    english = httpx.get(running.url + "/api/v1/events", headers={"Accept-Language": "en"})
    assert english.json()["message"] == "Missing or invalid API key"
    for headers in (AUTH, {"X-API-Key": API_KEY}):
        assert httpx.get(running.url + "/api/v1/cameras", headers=headers).status_code == 200
        assert httpx.get(f"{running.url}/api/v1/events/{event_id}", headers=headers).json()["id"] == event_id


def test_offline_and_online_reach_the_channels(running: Running) -> None:
    running.scene.what = "down"
    wait_for(lambda: running.sse.camera("offline"), 10, "the camera to go offline")
    assert running.client.get(f"/api/v1/cameras/{CAMERA}").json()["state"] == "offline"
    running.scene.what = "empty"
    wait_for(lambda: running.sse.camera("online"), 10, "the camera to come back")
    wait_for(lambda: count(ding_texts(running), ONLINE) and count(bot_markdowns(running), ONLINE), 15, "messages")
    time.sleep(0.3)
    for texts in (ding_texts(running), bot_markdowns(running)):
        assert count(texts, OFFLINE) == 1 and count(texts, ONLINE) == 1, texts
        assert len(texts) == 6  # nothing else was sent
    offline = next(t for t in ding_texts(running) if OFFLINE in t)
    assert CAMERA in offline and "原因" in offline
    assert running.sse.camera("online")[0]["down_s"] > 0.5


def test_disable_and_enable_a_camera(running: Running) -> None:
    client = running.client
    before = len(running.sse.events)
    reply = client.post(f"/api/v1/cameras/{CAMERA}/disable")
    assert reply.status_code == 200 and reply.json()["state"] == "disabled" and reply.json()["enabled"] is False
    assert client.get("/api/v1/cameras").json()["items"][0]["state"] == "disabled"
    running.scene.what = "phone"
    time.sleep(1.5)  # a phone in view of a disabled camera: nothing happens
    running.scene.what = "empty"
    assert len(running.sse.events) == before and len(client.get("/api/v1/events").json()["items"]) == 2

    reply = client.post(f"/api/v1/cameras/{CAMERA}/enable")
    assert reply.status_code == 200 and reply.json()["enabled"] is True
    wait_for(lambda: client.get(f"/api/v1/cameras/{CAMERA}").json()["state"] == "online", 10, "the camera again")
    assert client.get(f"/api/v1/cameras/{CAMERA}").json()["frames"] > 0

    unknown = client.post("/api/v1/cameras/room-999/enable", headers={"Accept-Language": "en"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "camera_not_found"
    assert unknown.json()["message"] == "No camera named room-999"
