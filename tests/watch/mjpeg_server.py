"""A real HTTP MJPEG server on loopback (`multipart/x-mixed-replace`), playing frames chosen by elapsed time."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# seconds since start -> JPEG; None while the camera is "down" (connections close, new ones get 503);
# b"" while it is frozen (connections stay open, nothing is sent)
FrameFn = Callable[[float], bytes | None]


class MjpegServer:
    def __init__(self, frame_for: FrameFn, fps: float = 10.0, content_length: bool = True) -> None:
        self.frame_for = frame_for
        self.fps = fps
        self.content_length = content_length
        self.started = time.time()
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.connections += 1
                image = server.frame_for(server.elapsed())
                if image is None:
                    self.send_error(503, "camera down")
                    return
                if self.path.startswith("/snapshot"):
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(image)))
                    self.end_headers()
                    self.wfile.write(image)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=vigiloframe")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server.stream(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def elapsed(self) -> float:
        return time.time() - self.started

    def stream(self, handler: BaseHTTPRequestHandler) -> None:
        while True:
            image = self.frame_for(self.elapsed())
            if image is None:
                return  # the camera died: the connection closes mid-stream
            if not image:
                time.sleep(0.05)  # frozen: nothing is sent, the connection stays open
                continue
            head = b"--vigiloframe\r\nContent-Type: image/jpeg\r\n"
            if self.content_length:
                head += f"Content-Length: {len(image)}\r\n".encode()
            handler.wfile.write(head + b"\r\n" + image + b"\r\n")
            handler.wfile.flush()
            time.sleep(1.0 / self.fps)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MjpegServer:
        self.started = time.time()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
