"""Bounded load test on loopback: many liveness sessions sending real frames, plus camera streams.

    python -m vigilo.tools.loadtest --users 200 --seconds 120 --cameras 4            # one `vigilo serve`
    python -m vigilo.tools.loadtest --users 200 --seconds 120 --cameras 4 --workers 2  # two, sharing Redis
    python -m vigilo.tools.loadtest --url http://host:8000 --api-key KEY --users 50   # a running server

With `--workers N` (spawned mode) the tool starts a throwaway redis-server, N `vigilo serve` processes that
share it as their session store, and spreads each frame round-robin over them, as a load balancer without
stickiness would: any worker must be able to take any session's next frame. Cameras run on the first
worker only (there are no separate camera roles yet). Camera sources are looped video files of real phone
pictures played in real time at 5 fps, like a camera.

Each virtual user behaves like the H5 page: create a session (business API key), then send a 640x480 JPEG
every 100 ms, the next one only after the answer to the last (so an overloaded server slows users down
instead of queueing without bound), and start a new session when one ends. Frames come from real face clips
(../shared/data ZJU Eyeblink) with a unique JPEG comment each, so the replay defence sees new bytes. The
users never perform the challenge, so sessions end by step timeout; lockouts are raised in the spawned
config because every user comes from 127.0.0.1.

Prints a Markdown table: frames answered, by status/code, frames/s, latency p50/p99, server CPU (from
/proc, spawned mode), and each camera's fps and lag at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from vigilo.liveness.bench import sample_clips, unique
from vigilo.tools.localredis import free_port, redis_server, wait_for_port

API_KEY = "loadtest-key-0123456789abcdef"
FRAME_INTERVAL_S = 0.1


_SERIALS = itertools.count(1)  # one sequence for every run in this process: the warm-up's frames stay unique


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    sessions: int = 0


# ---- the virtual users ----------------------------------------------------------------------------------


async def user(
    client: httpx.AsyncClient, urls: list[str], key: str, clip: list[bytes], until: float, tally: Tally
) -> None:
    session: dict[str, Any] | None = None
    seq = 0
    while time.monotonic() < until:
        if session is None:
            session = await _create(client, urls[tally.sessions % len(urls)], key, tally)
            seq = 0
            if session is None:
                await asyncio.sleep(1.0)
                continue
        seq += 1
        serial = next(_SERIALS)
        started = time.monotonic()
        base = urls[serial % len(urls)]
        finished = await _send(client, base, session, unique(clip[seq % len(clip)], serial), seq, tally)
        if finished:
            session = None
        await asyncio.sleep(max(0.0, FRAME_INTERVAL_S - (time.monotonic() - started)))


async def _create(client: httpx.AsyncClient, base: str, key: str, tally: Tally) -> dict[str, Any] | None:
    try:
        answer = await client.post(f"{base}/api/v1/liveness/sessions", json={}, headers={"X-API-Key": key})
    except httpx.HTTPError as exc:
        tally.outcomes[f"create: {type(exc).__name__}"] += 1
        return None
    if answer.status_code != 201:
        tally.outcomes[f"create: {answer.status_code} {_code(answer)}"] += 1
        return None
    tally.sessions += 1
    created: dict[str, Any] = answer.json()
    return created


async def _send(
    client: httpx.AsyncClient, base: str, session: dict[str, Any], jpeg: bytes, seq: int, tally: Tally
) -> bool:
    """One frame; True when the session is over (done, closed, expired or gone)."""
    started = time.monotonic()
    try:
        answer = await client.post(
            f"{base}/api/v1/liveness/sessions/{session['session_id']}/frames",
            json={"image": base64.b64encode(jpeg).decode(), "seq": seq, "captured_at": time.time() * 1000},
            headers={"X-Session-Nonce": session["nonce"]},
        )
    except httpx.HTTPError as exc:
        tally.outcomes[type(exc).__name__] += 1
        return False
    tally.latencies_ms.append((time.monotonic() - started) * 1000)
    if answer.status_code == 200:
        tally.outcomes["200"] += 1
        return bool(answer.json().get("done"))
    code = _code(answer)
    tally.outcomes[f"{answer.status_code} {code}"] += 1
    return code in ("liveness_session_closed", "liveness_session_expired", "liveness_session_not_found")


def _code(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("code"))
    except ValueError:
        return "(no JSON)"


async def drive(urls: list[str], key: str, users: int, seconds: float, clips: list[list[bytes]]) -> tuple[Tally, float]:
    tally = Tally()
    limits = httpx.Limits(max_connections=users + 10, max_keepalive_connections=users + 10)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        until = time.monotonic() + seconds
        began = time.monotonic()
        await asyncio.gather(*(user(client, urls, key, clips[i % len(clips)], until, tally) for i in range(users)))
        return tally, time.monotonic() - began


# ---- spawned servers ---------------------------------------------------------------------------------


@contextmanager
def spawned(workers: int, cameras: int, folder: Path) -> Iterator[tuple[list[str], list[subprocess.Popen[bytes]]]]:
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server()) if workers > 1 else None
        if workers > 1 and redis_url is None:
            raise SystemExit("error: --workers > 1 needs redis-server (apt-get install redis-server)")
        clip = _camera_clip(folder) if cameras else None
        processes: list[subprocess.Popen[bytes]] = []
        urls = []
        for index in range(workers):
            config = _write_config(folder / f"worker{index}", redis_url, clip, cameras if index == 0 else 0)
            port = free_port()
            log = (folder / f"worker{index}.log").open("wb")
            stack.callback(log.close)
            process = subprocess.Popen(
                [sys.executable, "-m", "vigilo.cli.main", "serve", "--config", str(config), "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )
            stack.callback(_stop, process)
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            wait_for_port(port, process, seconds=120)
        yield urls, processes


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def _camera_clip(folder: Path) -> Path:
    import cv2

    from vigilo.bench import sample_frames

    frames = sample_frames()
    path = folder / "camera.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (640, 480))
    for index in range(100):  # 10 s at 10 fps, each picture held half a second
        writer.write(cv2.resize(frames[(index // 5) % len(frames)], (640, 480)))
    writer.release()
    return path


def _write_config(folder: Path, redis_url: str | None, clip: Path | None, cameras: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1"},
        "storage": {"data_dir": str(folder / "data")},
        "liveness": {"api_keys": [API_KEY], "lockout_failures": 1_000_000, "max_frames": 1000},
        "sessions": {"redis_url": redis_url},
    }
    if clip is not None and cameras:
        streams = {f"cam{i + 1}": {"source": str(clip), "loop": True, "fps": 5} for i in range(cameras)}
        config["cameras"] = {"streams": streams}
    path = folder / "vigilo.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def camera_rows(url: str) -> list[dict[str, Any]]:
    try:
        # Spawned servers have no management keys: the management API answers loopback clients.
        answer = httpx.get(f"{url}/api/v1/cameras", timeout=10)
    except httpx.HTTPError:
        return []
    if answer.status_code != 200:
        return []
    cameras: list[dict[str, Any]] = answer.json().get("items", [])
    return cameras


# ---- report --------------------------------------------------------------------------------------------


def report(
    label: str, users: int, tally: Tally, elapsed: float, cpu: float | None, cameras: list[dict[str, Any]]
) -> str:
    ordered = sorted(tally.latencies_ms) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    answered = len(tally.latencies_ms)
    ok = tally.outcomes.get("200", 0)
    lines = [
        f"### {label}: {users} users, {elapsed:.0f} s, {os.cpu_count()} CPUs",
        "",
        "| frames answered | 200 OK | frames/s | p50 ms | p99 ms | sessions | server CPU % |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {answered} | {ok} | {answered / elapsed:.1f} | {statistics.median(ordered):.0f} | {p99:.0f} "
        f"| {tally.sessions} | {'' if cpu is None else f'{cpu:.0f}'} |",
        "",
        "| outcome | count |",
        "|---|---:|",
        *(f"| {name} | {count} |" for name, count in tally.outcomes.most_common()),
    ]
    if cameras:
        lines += ["", "| camera | state | fps | lag ms | frames | dropped |", "|---|---|---:|---:|---:|---:|"]
        lines += [
            f"| {c['name']} | {c['state']} | {c.get('fps')} | {c.get('lag_ms')} | {c.get('frames')} "
            f"| {c.get('dropped')} |"
            for c in cameras
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--cameras", type=int, default=4, help="camera streams (spawned mode)")
    parser.add_argument("--workers", type=int, default=1, help="`vigilo serve` processes (spawned mode)")
    parser.add_argument("--url", help="a running server instead of spawned ones")
    parser.add_argument("--api-key", help="its business API key (liveness.api_keys), with --url")
    args = parser.parse_args(argv)
    if args.users < 1 or args.seconds <= 0 or args.workers < 1 or args.cameras < 0:
        parser.error("--users, --seconds and --workers must be positive, --cameras not negative")
    clips = sample_clips(count=8)
    if args.url:
        if not args.api_key:
            parser.error("--url needs --api-key")
        tally, elapsed = asyncio.run(drive([args.url.rstrip("/")], args.api_key, args.users, args.seconds, clips))
        print(report(args.url, args.users, tally, elapsed, None, camera_rows(args.url)))
        return 0
    with (
        tempfile.TemporaryDirectory(prefix="vigilo-load-") as tmp,
        spawned(args.workers, args.cameras, Path(tmp)) as (
            urls,
            processes,
        ),
    ):
        asyncio.run(drive(urls, API_KEY, 2 * len(urls), 4.0, clips))  # warm-up: every worker builds its meshes
        before = sum(cpu_seconds(p.pid) for p in processes)
        tally, elapsed = asyncio.run(drive(urls, API_KEY, args.users, args.seconds, clips))
        cpu = (sum(cpu_seconds(p.pid) for p in processes) - before) / elapsed * 100
        label = f"{args.workers} worker{'s' if args.workers > 1 else ''}, {args.cameras} cameras"
        print(report(label, args.users, tally, elapsed, cpu, camera_rows(urls[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
