"""A small DingTalk-like robot endpoint on loopback: real HTTP, scripted answers, recorded requests.

Used until (and besides) the shared fakes in tests/fakes: it only needs what the delivery layer
tests look at: the errcode it answers, when each message arrived, and what it said.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    at: float  # time.time() when the request arrived
    body: dict[str, Any]

    @property
    def text(self) -> str:
        if "markdown" in self.body:
            return str(self.body["markdown"].get("title", "")) + "\n" + str(self.body["markdown"]["text"])
        return str(self.body.get("text", {}).get("content", ""))

    @property
    def key(self) -> str:
        return str(self.body.get("msgUuid", ""))


class RobotServer:
    """Answers POST /robot/send with the next scripted `(errcode, errmsg)` or the default."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[tuple[int, str]] = deque()
        self.default: tuple[int, str] = (0, "ok")
        self.hang_first = 0.0  # seconds the first request is held before answering
        self.delay = 0.0  # seconds every request takes before its answer
        self.in_flight = 0
        self.most_in_flight = 0  # requests being answered at the same time, at most
        self.first_arrived = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> RobotServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def answer(self) -> tuple[int, str]:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    def _record(self, body: dict[str, Any]) -> int:
        with self._lock:
            self.received.append(Received(time.time(), body))
            return len(self.received)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                number = server._record(body)
                with server._lock:
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                if number == 1:
                    server.first_arrived.set()
                    if server.hang_first:
                        server._release.wait(server.hang_first)
                if server.delay:
                    time.sleep(server.delay)
                with server._lock:
                    server.in_flight -= 1
                code, text = server.answer()
                data = json.dumps({"errcode": code, "errmsg": text}).encode()
                try:
                    self.send_response(200)  # DingTalk answers business errors with HTTP 200 too
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (killed worker)

        return Handler
