"""Runs an ASGI app under uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp


class FakeClock:
    """Wall-clock time plus an offset the test can move."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Injected:
    """A scripted answer that replaces the fake's own logic for one request."""

    status: int = 200
    body: Any = None  # dict -> JSON, str -> text/plain
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        if isinstance(self.body, str):
            return PlainTextResponse(self.body, status_code=self.status, headers=self.headers)
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


class Injections:
    """Per-route queues of scripted answers (`fake.inject("/cgi-bin/message/send", ...)`)."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Injected]] = {}
        self._lock = threading.Lock()

    def add(self, path: str, answer: Injected) -> None:
        with self._lock:
            self._queues.setdefault(path, deque()).append(answer)

    def take(self, path: str) -> Injected | None:
        with self._lock:
            queue = self._queues.get(path)
            return queue.popleft() if queue else None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()


async def read_json(request: Request) -> Any:
    """The JSON body, or None when it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


class ServerThread:
    def __init__(self, app: ASGIApp) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self._sock.close()


class LoopbackFake:
    """A fake platform served on a free loopback port; subclasses build `self.app` in `__init__`."""

    app: ASGIApp
    _thread: ServerThread | None = None

    def start(self) -> Self:
        self._thread = ServerThread(self.app).start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()

    @property
    def url(self) -> str:
        assert self._thread is not None, "start() the fake first"
        return self._thread.url


class RateWindow:
    """Counts events in a fixed or sliding window (the real platforms' semantics are undocumented)."""

    def __init__(self, limit: int, seconds: float, mode: str = "sliding") -> None:
        self.limit, self.seconds, self.mode = limit, seconds, mode
        self._events: deque[float] = deque()
        self._window_start = 0.0

    def full(self, now: float) -> bool:
        if self.mode == "fixed":
            if now - self._window_start >= self.seconds:
                self._window_start, self._events = now, deque()
        else:
            while self._events and now - self._events[0] >= self.seconds:
                self._events.popleft()
        return len(self._events) >= self.limit

    def add(self, now: float) -> None:
        self._events.append(now)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""
