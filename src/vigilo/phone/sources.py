"""Frame sources for stream watch: files (optionally looped), folders, HTTP(S) MJPEG and snapshots, RTSP, webcams.

A `FrameSource` runs one reader thread. It decodes only the frames due at the configured rate and keeps
only the latest one: a slow consumer gets the newest frame and the rest are dropped, never queued (drop,
never lag). On failure it reconnects with exponential backoff, and it reports `offline` when no frame
has come for `offline_seconds`, then `online` when frames are back.

Video files and folders play at their own pace like a camera (`realtime`), or, with `realtime=False`,
as fast as the consumer takes them: then every due frame is handed over (none dropped) and frame times
are the times in the video, so a one-hour recording can be checked in minutes with the same results.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlparse

import cv2
import httpx
import numpy as np

from vigilo.vision.imageio import IMAGE_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger(__name__)

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "srt", "udp", "tcp"})
HTTP_STREAM_SUFFIXES = frozenset({".m3u8", ".flv", ".ts"})  # live over HTTP, through FFmpeg
SourceKind = Literal["webcam", "stream", "http", "file", "folder"]


class SourceError(Exception):
    """A source that cannot be opened or read right now (the source retries) or at all (`open_source`)."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR
    index: int  # frames handed out by this source so far, from 0
    monotonic: float  # capture time, time.monotonic() scale (video time for files not played in real time)
    wall: float  # capture time, seconds since the epoch
    position: float | None = None  # seconds into a file or folder


@dataclass(frozen=True)
class SourceEvent:
    kind: Literal["offline", "online"]
    monotonic: float
    wall: float
    reason: str
    down_seconds: float | None = None  # for `online`: how long the source was offline


class Reader(Protocol):
    """One connection to a source. `grab` advances (returns the position in seconds, or None at the end)."""

    live: bool

    def open(self) -> None: ...
    def native_fps(self) -> float | None: ...
    def grab(self) -> float | None: ...
    def retrieve(self) -> np.ndarray | None: ...
    def close(self) -> None: ...


class CaptureReader:
    """OpenCV's VideoCapture (FFmpeg backend): files, RTSP and other FFmpeg URLs, webcams by index."""

    def __init__(self, target: str | int, *, live: bool, timeout_s: float = 10.0) -> None:
        self.target = target
        self.live = live
        self.timeout_ms = int(timeout_s * 1000)
        self._capture: cv2.VideoCapture | None = None
        self._fps: float | None = None
        self._index = 0

    def open(self) -> None:
        if isinstance(self.target, int):
            capture = cv2.VideoCapture(self.target)
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms]
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            raise SourceError("cannot open (unreachable, refused, or an unsupported format)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._fps = float(fps) if 0 < fps <= 240 else None
        self._capture = capture
        self._index = 0

    def native_fps(self) -> float | None:
        return self._fps

    def grab(self) -> float | None:
        assert self._capture is not None
        if not self._capture.grab():
            if self.live:
                raise SourceError("stream ended or stalled")
            return None
        position = self._index / (self._fps or 25.0)
        self._index += 1
        return position

    def retrieve(self) -> np.ndarray | None:
        assert self._capture is not None
        ok, image = self._capture.retrieve()
        return image if ok else None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class HttpReader:
    """HTTP(S) MJPEG (`multipart/x-mixed-replace`) streams, or a single-image URL polled at `poll_interval`."""

    live = True

    def __init__(self, url: str, *, timeout_s: float = 10.0, poll_interval: float = 0.5) -> None:
        self.url = url
        self.timeout = httpx.Timeout(timeout_s)
        self.poll_interval = poll_interval
        self._client: httpx.Client | None = None
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._boundary: bytes | None = None
        self._buffer = bytearray()
        self._part: bytes | None = None
        self._last_poll = 0.0

    def open(self) -> None:
        self._client = httpx.Client(timeout=self.timeout, follow_redirects=True)
        try:
            response = self._client.send(self._client.build_request("GET", self.url), stream=True)
        except httpx.HTTPError as exc:
            self.close()
            raise SourceError(f"cannot connect: {exc}") from None
        self._response = response
        if response.status_code != 200:
            self.close()
            raise SourceError(f"HTTP {response.status_code}")
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("multipart/"):
            match = re.search(r'boundary="?([^";]+)"?', content_type)
            if not match:
                self.close()
                raise SourceError("multipart stream without a boundary")
            self._boundary = match.group(1).encode()
            self._chunks = response.iter_raw()  # no chunk size: a size waits until it is filled
        elif content_type.startswith("image/"):
            self._part = self._read_all(response)
            self._last_poll = time.monotonic()
        else:
            self.close()
            raise SourceError(f"not an MJPEG stream or image (content-type {content_type or 'missing'})")

    def native_fps(self) -> float | None:
        return None

    def grab(self) -> float | None:
        if self._boundary is not None:
            self._part = self._next_part()
            return 0.0
        if self._part is None:
            self._poll()
        return 0.0

    def retrieve(self) -> np.ndarray | None:
        data, self._part = self._part, None
        if not data:
            return None
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        return image if image is not None and image.size else None

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        if self._client is not None:
            self._client.close()
            self._client = None
        self._chunks = None
        self._buffer.clear()

    def _read_all(self, response: httpx.Response) -> bytes:
        try:
            return response.read()
        except httpx.HTTPError as exc:
            raise SourceError(f"read failed: {exc}") from None

    def _poll(self) -> None:
        assert self._client is not None
        delay = self._last_poll + self.poll_interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last_poll = time.monotonic()
        try:
            response = self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot fetch: {exc}") from None
        if response.status_code != 200:
            raise SourceError(f"HTTP {response.status_code}")
        self._part = response.content

    def _fill(self) -> None:
        assert self._chunks is not None
        try:
            chunk = next(self._chunks)
        except StopIteration:
            raise SourceError("stream ended") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"read failed: {exc}") from None
        if len(self._buffer) > 32 * 1024 * 1024:
            raise SourceError("no frame boundary in 32 MiB of stream")
        self._buffer.extend(chunk)

    def _next_part(self) -> bytes:
        """The body of the next part. The boundary is searched without its `--` (some cameras add their own)."""
        assert self._boundary is not None
        buf, boundary = self._buffer, self._boundary
        while True:
            start = buf.find(boundary)
            head_end = buf.find(b"\r\n\r\n", start) if start >= 0 else -1
            if head_end < 0:
                self._fill()
                continue
            headers = bytes(buf[start + len(boundary) : head_end]).decode("latin-1").lower()
            body = head_end + 4
            length = re.search(r"content-length:\s*(\d+)", headers)
            if length:
                end = body + int(length.group(1))
                if len(buf) < end:
                    self._fill()
                    continue
                part = bytes(buf[body:end])
                del buf[:end]
                return part
            following = buf.find(boundary, body)
            if following < 0:
                self._fill()
                continue
            part = bytes(buf[body:following]).rstrip(b"\r\n-")
            del buf[:following]
            return part


class FolderReader:
    """Images of a folder (or one image), in name order, one frame each, `interval` seconds apart."""

    live = False

    def __init__(self, files: list[Path], interval: float) -> None:
        self.files = files
        self.interval = interval
        self._index = -1

    def open(self) -> None:
        self._index = -1

    def native_fps(self) -> float | None:
        return 1.0 / self.interval

    def grab(self) -> float | None:
        self._index += 1
        return self._index * self.interval if self._index < len(self.files) else None

    def retrieve(self) -> np.ndarray | None:
        return cv2.imread(str(self.files[self._index]), cv2.IMREAD_COLOR)

    def close(self) -> None:
        pass


@dataclass
class SourceStats:
    frames: int = 0  # handed to the consumer
    dropped: int = 0  # due but replaced by a newer one before the consumer took it
    reconnects: int = 0
    online: bool | None = None  # None until the first frame or the first offline report
    last_frame_wall: float | None = None
    last_error: str | None = None


class FrameSource:
    """A reader thread that samples `fps` frames per second from one source, keeping only the latest."""

    def __init__(
        self,
        open_reader: Callable[[], Reader],
        *,
        fps: float,
        live: bool,
        loop: bool = False,
        realtime: bool = True,
        offline_seconds: float = 10.0,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 30.0,
        name: str = "source",
    ) -> None:
        self._open_reader = open_reader
        self.interval = 1.0 / fps
        self.live = live
        self.loop = loop
        self.fast = not live and not realtime  # every due frame handed over, video time
        self.offline_seconds = offline_seconds
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self.name = name
        self.stats = SourceStats()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._slot: Frame | None = None
        self._events: list[SourceEvent] = []
        self._finished = False
        self._thread: threading.Thread | None = None
        self._next_due = float("-inf")
        self._started = time.monotonic()
        self._wall_offset = time.time() - self._started
        self._last_frame = self._started
        self._offline_since: float | None = None
        self._elapsed = 0.0  # video time of finished passes (looped files)
        self._virtual_now = self._started

    # consumer side

    def start(self) -> FrameSource:
        self._started = time.monotonic()
        self._wall_offset = time.time() - self._started
        self._last_frame = self._virtual_now = self._started
        self._thread = threading.Thread(target=self._run, name=f"source-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def next(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not yet taken, waiting up to `timeout`; None on timeout or when finished."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._slot is None and not self._finished and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            frame, self._slot = self._slot, None
            self._cond.notify_all()
        self._check_offline()
        return frame

    @property
    def start_wall(self) -> float:
        """Wall-clock time at which the source started: video time 0 for files not played in real time."""
        return self._started + self._wall_offset

    @property
    def finished(self) -> bool:
        """True once a file or folder (not looped) has been played to the end and its last frame taken."""
        with self._cond:
            return self._finished and self._slot is None

    def drain_events(self) -> list[SourceEvent]:
        with self._cond:
            events, self._events = self._events, []
        return events

    def now(self) -> tuple[float, float]:
        """(monotonic, wall) on this source's clock: the video clock for files not played in real time."""
        if self.fast:
            return self._virtual_now, self._virtual_now + self._wall_offset
        now = time.monotonic()
        return now, time.time()

    # reader thread

    def _run(self) -> None:
        backoff = self.reconnect_initial
        while not self._stop.is_set():
            reader = self._open_reader()
            delivered = 0
            ended = False
            try:
                reader.open()
                delivered, ended = self._pump(reader)
            except SourceError as exc:
                self.stats.last_error = str(exc)
                log.info("source %s: %s", self.name, exc)
            except Exception as exc:  # a reader bug must not kill the thread silently
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("source %s failed", self.name)
            finally:
                reader.close()
            if not self.live and (ended or self.stats.last_error is not None):
                if ended and self.loop and delivered:
                    continue
                with self._cond:
                    self._finished = True
                    self._cond.notify_all()
                return
            if delivered:
                backoff = self.reconnect_initial
            self._check_offline()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.reconnect_max)
            self.stats.reconnects += 1

    def _pump(self, reader: Reader) -> tuple[int, bool]:
        """Reads until the end (returns ended=True) or a failure (raises). Returns (frames delivered, ended)."""
        native = reader.native_fps() or 25.0
        pass_start = time.monotonic()
        base = self._elapsed
        delivered = 0
        position = 0.0
        while not self._stop.is_set():
            got = reader.grab()
            if got is None:
                self._elapsed = base + position + 1.0 / native
                return delivered, True
            position = got
            moment = self._moment(reader, pass_start, position, base + position)
            if moment is None or moment + 1e-3 < self._next_due:
                continue
            image = reader.retrieve()
            if image is None:
                continue
            behind = moment - self._next_due >= self.interval
            self._next_due = moment + self.interval if behind else self._next_due + self.interval
            self._publish(image, moment, None if reader.live else base + position)
            delivered += 1
        return delivered, False

    def _moment(self, reader: Reader, pass_start: float, position: float, video_time: float) -> float | None:
        """The capture time of the grabbed frame; paces files played in real time (None: stopping)."""
        if reader.live:
            return time.monotonic()
        if self.fast:
            return self._started + video_time
        delay = pass_start + position - time.monotonic()
        if delay > 0 and self._stop.wait(delay):
            return None
        return time.monotonic()

    def _publish(self, image: np.ndarray, moment: float, position: float | None) -> None:
        wall = moment + self._wall_offset if self.fast else time.time()
        with self._cond:
            if self.fast:
                while self._slot is not None and not self._stop.is_set():
                    self._cond.wait(0.5)
            elif self._slot is not None:
                self.stats.dropped += 1
            self._slot = Frame(image, self.stats.frames, moment, wall, position)
            self.stats.frames += 1
            self.stats.last_frame_wall = wall
            self._last_frame = moment
            self._virtual_now = moment
            if self.stats.online is not True:
                if self._offline_since is not None:
                    down = moment - self._offline_since
                    self._events.append(SourceEvent("online", moment, wall, "frames are back", down))
                self._offline_since = None
                self.stats.online = True
            self._cond.notify_all()

    def _check_offline(self) -> None:
        if not self.live:  # files and folders end (or fail to open) rather than go offline
            return
        now = time.monotonic()
        with self._cond:
            if self._offline_since is not None or self._finished or now - self._last_frame < self.offline_seconds:
                return
            self._offline_since = self._last_frame
            self.stats.online = False
            reason = self.stats.last_error or f"no frame for {self.offline_seconds:g} s"
            self._events.append(SourceEvent("offline", now, now + self._wall_offset, reason))


def redact(source: str) -> str:
    """`source` with any password in the URL replaced by `***` (for status, logs and the API)."""
    parsed = urlparse(source)
    if not parsed.password:
        return source
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


def classify(source: str) -> SourceKind:
    """What kind of source a string names (no I/O except checking a local path)."""
    if re.fullmatch(r"\d+", source) or source.startswith(("webcam:", "/dev/video")):
        return "webcam"
    scheme = urlparse(source).scheme.lower()
    if scheme in STREAM_SCHEMES:
        return "stream"
    if scheme in ("http", "https"):
        suffix = Path(urlparse(source).path).suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            return "file"
        return "stream" if suffix in HTTP_STREAM_SUFFIXES else "http"
    return "folder" if Path(_local(source)).is_dir() or _is_image(source) else "file"


def _local(source: str) -> str:
    return source[len("file://") :] if source.startswith("file://") else source


def _is_image(source: str) -> bool:
    return Path(source).suffix.lower() in IMAGE_SUFFIXES


def _webcam(source: str) -> str | int:
    rest = source.removeprefix("webcam:")
    return int(rest) if rest.isdigit() else rest


def open_source(
    source: str,
    *,
    fps: float,
    loop: bool = False,
    realtime: bool = True,
    offline_seconds: float = 10.0,
    reconnect_initial: float = 0.5,
    reconnect_max: float = 30.0,
    timeout_s: float | None = None,
    name: str = "source",
) -> FrameSource:
    """A (not yet started) FrameSource for `source`. Raises SourceError for a local path that does not exist."""
    kind = classify(source)
    timeout = timeout_s if timeout_s is not None else max(2.0, offline_seconds)
    factory: Callable[[], Reader]
    if kind == "webcam":
        target = _webcam(source)
        factory = lambda: CaptureReader(target, live=True, timeout_s=timeout)  # noqa: E731
    elif kind == "stream":
        factory = lambda: CaptureReader(source, live=True, timeout_s=timeout)  # noqa: E731
    elif kind == "http":
        factory = lambda: HttpReader(source, timeout_s=timeout, poll_interval=1.0 / fps)  # noqa: E731
    elif kind == "folder":
        files = _folder_files(Path(_local(source)))
        factory = lambda: FolderReader(files, 1.0 / fps)  # noqa: E731
    else:
        path = _local(source)
        if "://" not in path and not Path(path).is_file():
            raise SourceError(f"{path}: no such file")
        factory = lambda: CaptureReader(path, live=False, timeout_s=timeout)  # noqa: E731
    live = kind in ("webcam", "stream", "http")
    return FrameSource(
        factory,
        fps=fps,
        live=live,
        loop=loop,
        realtime=realtime,
        offline_seconds=offline_seconds,
        reconnect_initial=reconnect_initial,
        reconnect_max=reconnect_max,
        name=name,
    )


def _folder_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"{path}: no images in this folder")
    return files
