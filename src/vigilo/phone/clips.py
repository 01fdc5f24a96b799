"""Short clips of phone episodes: the sampled frames from a few seconds before an episode starts until a
few seconds after it ends, as an MP4 next to the snapshot.

The watcher sees only the frames it samples (the camera's `fps`), so a clip plays at that rate: a record of
what the detector saw, not full-motion video. Frames wait in memory as JPEG (a 1080p BGR frame is 6 MB, its
JPEG about 0.2 MB): a ring buffer for the seconds before, and one list per open episode, capped at
`max_seconds`. A finished clip is encoded on a background thread so the camera does not lag: with Debian's
`ffmpeg` the JPEGs are piped in and come out as H.264 (plays in browsers and phones), otherwise OpenCV
writes MPEG-4 Part 2 (plays in VLC and desktop players, not in every browser).
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vigilo.config.cameras import ClipsConfig

log = logging.getLogger(__name__)


@dataclass
class _Recording:
    event_id: int
    target: Path
    frames: list[tuple[float, bytes]]
    cutoff: float  # no frames after this (monotonic): the start plus max_seconds
    ends_at: float | None = None  # the episode's end plus after_seconds, once it has ended


@dataclass(frozen=True)
class FinishedClip:
    event_id: int
    target: Path  # the .mp4 to write
    frames: list[tuple[float, bytes]]  # (monotonic, JPEG)
    fps: float


ClipSink = Callable[[FinishedClip], None]


@dataclass
class ClipRecorder:
    """Collects frames for episode clips of one camera. Not thread-safe: the watcher's thread owns it."""

    config: ClipsConfig
    fps: float
    sink: ClipSink
    _recent: deque[tuple[float, bytes]] = field(default_factory=deque)
    _open: dict[str, _Recording] = field(default_factory=dict)

    def add(self, monotonic: float, image: np.ndarray) -> None:
        """One sampled frame: kept for the seconds before, added to open clips, due clips finished."""
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.config.quality])
        if ok:
            jpeg = encoded.tobytes()
            self._recent.append((monotonic, jpeg))
            for recording in self._open.values():
                if monotonic <= recording.cutoff:
                    recording.frames.append((monotonic, jpeg))
        while self._recent and self._recent[0][0] < monotonic - self.config.before_seconds:
            self._recent.popleft()
        self._finish_due(monotonic)

    def start(self, key: str, event_id: int, started: float, target: Path) -> None:
        """An episode began at `started` (monotonic): its clip opens with the frames from before."""
        if key in self._open:
            return
        before = [(t, jpeg) for t, jpeg in self._recent if t >= started - self.config.before_seconds]
        self._open[key] = _Recording(event_id, target, before, cutoff=started + self.config.max_seconds)

    def end(self, key: str, ended: float) -> None:
        """The episode ended at `ended` (monotonic): frames keep coming for `after_seconds`."""
        recording = self._open.get(key)
        if recording is not None:
            recording.ends_at = ended + self.config.after_seconds

    def close(self) -> None:
        """The camera stops: every open clip is finished with what it has."""
        for key in list(self._open):
            self._finish(key)

    def _finish_due(self, now: float) -> None:
        for key, recording in list(self._open.items()):
            if recording.ends_at is not None and now >= recording.ends_at:
                self._finish(key)

    def _finish(self, key: str) -> None:
        recording = self._open.pop(key)
        if len(recording.frames) >= 2:
            self.sink(FinishedClip(recording.event_id, recording.target, recording.frames, self.fps))


def encode_clip(clip: FinishedClip, target: Path) -> Path:
    """Writes the clip to `target` (.mp4): H.264 through ffmpeg when present, else OpenCV's mp4v."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part.mp4")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or not _ffmpeg_h264(ffmpeg, clip, temporary):
        _opencv_mp4v(clip, temporary)
    temporary.replace(target)
    return target


def _ffmpeg_h264(ffmpeg: str, clip: FinishedClip, target: Path) -> bool:
    command = [
        ffmpeg, "-y", "-loglevel", "error", "-f", "image2pipe", "-c:v", "mjpeg", "-framerate", f"{clip.fps:g}",
        "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart", str(target),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, input=b"".join(j for _, j in clip.frames), capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("ffmpeg could not encode a clip (%s); falling back to OpenCV", exc)
        return False
    if done.returncode != 0:
        log.warning("ffmpeg could not encode a clip: %s", done.stderr.decode(errors="replace").strip()[-300:])
        return False
    return True


def _opencv_mp4v(clip: FinishedClip, target: Path) -> None:
    first = cv2.imdecode(np.frombuffer(clip.frames[0][1], np.uint8), cv2.IMREAD_COLOR)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), clip.fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {target}")
    try:
        for _, jpeg in clip.frames:
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is not None and image.shape[:2] == (height, width):
                writer.write(image)
    finally:
        writer.release()


class ClipWriter:
    """One background thread that encodes finished clips and hands each file to `store(event_id, path)`."""

    def __init__(self, store: Callable[[int, Path], None]) -> None:
        self._store = store
        self._queue: queue.Queue[FinishedClip | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="clip-writer", daemon=True)
        self._thread.start()

    def submit(self, clip: FinishedClip) -> None:
        self._queue.put(clip)

    def close(self, timeout: float = 60.0) -> None:
        """Finishes the queued clips (up to `timeout`), then stops."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (clip := self._queue.get()) is not None:
            try:
                path = encode_clip(clip, clip.target)
                self._store(clip.event_id, path)
            except Exception:
                log.exception("event %s: the clip could not be written", clip.event_id)
