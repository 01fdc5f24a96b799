"""`make bench`: phone-detection speed on 640x480 frames, measured in one run.

Rows: the detector alone and the whole detect path (JPEG decode -> detect -> NMS -> draw) at
batch 1 and 8, beside two baselines that run the same ONNX file the way demo code usually does:
one image at a time on a square 416x416 canvas with fresh buffers, and (the naive case) a new
session per image. Prints a Markdown table with the machine it ran on.

Then (`stream_bench`, skipped with `VIGILO_BENCH_STREAMS=0`, alone with `python -m vigilo.bench --streams`)
the stream-watch rows: N cameras at 5 fps sharing one detector, each a looped video file played in real
time (decoded on its own reader thread, like a camera): CPU use, capture → processed lag p50/p99 (the
time from a frame leaving the reader to its events being stored and handed to the alert callbacks), and
the largest N (searched 2..12) that keeps up.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from vigilo.config import DetectorConfig
from vigilo.config.cameras import CamerasConfig, EventsConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import EventStore, PhoneEvent
from vigilo.phone.sources import Frame
from vigilo.phone.watcher import CameraWatcher
from vigilo.vision.draw import draw_detections
from vigilo.vision.imageio import decode_image, encode_jpeg
from vigilo.vision.models import DEFAULT_DETECTOR

SHARED_FRAMES = Path(__file__).resolve().parents[3] / "shared" / "data" / "phone" / "necem" / "test" / "images"
FRAME_SIZE = (640, 480)
DURATION_S = float(os.environ.get("VIGILO_BENCH_SECONDS", "4"))


def sample_frames(count: int = 16) -> list[np.ndarray]:
    """Real webcam frames when the evaluation data is present, else a deterministic synthetic scene."""
    paths = sorted(SHARED_FRAMES.glob("*.jpg"))[:count] if SHARED_FRAMES.is_dir() else []
    if paths:
        return [cv2.resize(cv2.imread(str(p)), FRAME_SIZE) for p in paths]
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(count):
        frame = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (9, 9), 0)
        cv2.rectangle(frame, (250, 150), (330, 300), (20, 20, 20), -1)
        frames.append(frame)
    return frames


def measure(run: Callable[[int], int]) -> tuple[float, float, float, float]:
    """(frames/s, p50 ms, p99 ms per call, CPU ms per frame). `run(i)` does one call, returns its frames.

    CPU time (all threads of this process) per frame is reported too: unlike wall time it barely
    moves when other programs share the machine.
    """
    run(0)  # warm-up
    timings: list[float] = []
    frames = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    i = 1
    while time.perf_counter() - started < DURATION_S or len(timings) < 10:
        t0 = time.perf_counter()
        frames += run(i)
        timings.append((time.perf_counter() - t0) * 1000)
        i += 1
    elapsed = time.perf_counter() - started
    cpu_ms_per_frame = (time.process_time() - cpu_started) * 1000 / max(frames, 1)
    timings.sort()
    p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
    return frames / elapsed, statistics.median(timings), p99, cpu_ms_per_frame


def naive_detect(session_factory: Callable[[], ort.InferenceSession], image: np.ndarray) -> int:
    """Demo-style code: square canvas, new buffers every call, Python-level decode of all anchors."""
    session = session_factory()
    canvas = np.full((416, 416, 3), 114, dtype=np.uint8)
    scale = min(416 / image.shape[0], 416 / image.shape[1])
    resized = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    out = session.run(None, {session.get_inputs()[0].name: blob})[0][0]
    grids, strides = [], []
    for stride in (8, 16, 32):
        size = 416 // stride
        ys, xs = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        grids.append(np.stack((xs, ys), -1).reshape(-1, 2))
        strides.append(np.full((size * size, 1), stride))
    grid, stride_arr = np.concatenate(grids), np.concatenate(strides)
    xy = (out[:, :2] + grid) * stride_arr
    wh = np.exp(out[:, 2:4]) * stride_arr
    scores = out[:, 4:5] * out[:, 5:]
    boxes = np.concatenate((xy - wh / 2, wh), axis=1) / scale
    best = scores.argmax(1)
    conf = scores[np.arange(len(best)), best]
    keep = conf > 0.35
    cv2.dnn.NMSBoxesBatched(boxes[keep].tolist(), conf[keep].tolist(), best[keep].tolist(), 0.35, 0.45)
    return 1


def main() -> None:
    threads = int(os.environ.get("VIGILO_BENCH_THREADS", str(min(2, os.cpu_count() or 1))))
    frames = sample_frames()
    jpegs = [encode_jpeg(f) for f in frames]
    detector = PhoneDetector.from_config(DetectorConfig(threads=threads, batch_size=8))
    zoomed = PhoneDetector.from_config(
        DetectorConfig(threads=threads, batch_size=8, zoom={"enabled": True, "mode": "tiles"})
    )
    model_path = str(DEFAULT_DETECTOR.verify())
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    shared_session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])

    def batch_of(i: int, size: int) -> list[int]:
        return [(i * size + k) % len(frames) for k in range(size)]

    def detector_only(size: int) -> Callable[[int], int]:
        def run(i: int) -> int:
            detector.detect([frames[k] for k in batch_of(i, size)])
            return size

        return run

    def whole_path(size: int, phone_detector: PhoneDetector = detector) -> Callable[[int], int]:
        def run(i: int) -> int:
            images = [decode_image(jpegs[k], 40_000_000) for k in batch_of(i, size)]
            for image, found in zip(images, phone_detector.detect(images), strict=True):
                draw_detections(image, found)
            return size

        return run

    rows = [
        ("Vigilo detector alone", 1, detector_only(1)),
        ("Vigilo detector alone", 8, detector_only(8)),
        ("Vigilo whole detect path (decode → detect → NMS → draw)", 1, whole_path(1)),
        ("Vigilo whole detect path (decode → detect → NMS → draw)", 8, whole_path(8)),
        ("Vigilo whole detect path + 2×2 tiles zoom pass", 8, whole_path(8, zoomed)),
        (
            "baseline: one session, square 416 canvas, fresh buffers",
            1,
            lambda i: naive_detect(lambda: shared_session, frames[i % len(frames)]),
        ),
        (
            "baseline (naive): new session per image",
            1,
            lambda i: naive_detect(
                lambda: ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"]),
                frames[i % len(frames)],
            ),
        ),
    ]
    summary = detector.detector.summary()
    print(f"# Vigilo detection benchmark ({FRAME_SIZE[0]}x{FRAME_SIZE[1]} frames)\n")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs visible, "
        f"{threads} ONNX Runtime threads; onnxruntime {ort.__version__}, {', '.join(summary.providers)}"
    )
    print(
        f"model: {DEFAULT_DETECTOR.name} (canvas {detector.detector.canvas_hw(*FRAME_SIZE)[1]}x"
        f"{detector.detector.canvas_hw(*FRAME_SIZE)[0]} for these frames); "
        f"frames: {'real webcam frames (shared/data)' if SHARED_FRAMES.is_dir() else 'synthetic'}; "
        f"{DURATION_S:.0f} s per row\n"
    )
    print("| path | batch | frames/s | p50 ms per call | p99 ms per call | CPU ms per frame |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, size, run in rows:
        fps, p50, p99, cpu = measure(run)
        print(f"| {name} | {size} | {fps:.1f} | {p50:.1f} | {p99:.1f} | {cpu:.1f} |", flush=True)
    print(f"\nload average while measuring: {os.getloadavg()[0]:.2f} (1 min)")
    from vigilo.alerts import bench as alerts_bench  # alert pipeline rows, with its own loopback robot

    print("\n" + "\n".join(alerts_bench.run()), flush=True)
    from vigilo.liveness import bench as liveness_bench  # the /frames path beside the seed's flow

    print("\n" + "\n".join(liveness_bench.run()), flush=True)


STREAM_FPS = 5.0
STREAM_SECONDS = float(os.environ.get("VIGILO_BENCH_STREAM_SECONDS", "10"))


@dataclass(frozen=True)
class StreamRow:
    streams: int
    fps_per_stream: float  # frames processed per second, per stream
    cpu_percent: float  # of one core (200 % = both cores of a 2-core machine)
    lag_p50_ms: float
    lag_p99_ms: float
    dropped: int

    @property
    def keeps_up(self) -> bool:
        """Every stream processed at ≥ 90 % of its fps and the lag stays under one sampling interval (p50)
        and a second (p99)."""
        return (
            self.fps_per_stream >= 0.9 * STREAM_FPS and self.lag_p50_ms < 1000 / STREAM_FPS and self.lag_p99_ms < 1000
        )


class _TimedWatcher(CameraWatcher):
    """Records capture → processed lag for every frame (the watcher keeps only a short window)."""

    lags: list[float]

    def process(self, frame: Frame) -> list[PhoneEvent]:
        events = super().process(frame)
        self.lags.append(time.monotonic() - frame.monotonic)
        return events


def _write_clip(path: Path, frames: list[np.ndarray], fps: int = 10, seconds: float = 4.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, FRAME_SIZE)
    for index in range(int(fps * seconds)):
        writer.write(frames[(index // 5) % len(frames)])
    writer.release()
    return path


def run_streams(count: int, detector: PhoneDetector, clip: Path, store: EventStore, seconds: float) -> StreamRow:
    """`count` looped real-time copies of `clip` at 5 fps for `seconds`, after a 2 s warm-up."""
    cameras = CamerasConfig.model_validate(
        {"streams": {f"bench-{i}": {"source": str(clip), "fps": STREAM_FPS, "loop": True} for i in range(count)}}
    )
    watchers: list[_TimedWatcher] = []
    for camera in cameras.streams.values():
        watcher = _TimedWatcher(camera, detector, store, events=EventsConfig(snapshots=False))
        watcher.lags = []
        watcher.start()
        watchers.append(watcher)
    time.sleep(2.0)
    for watcher in watchers:
        watcher.lags.clear()
    dropped = sum(w.status().dropped for w in watchers)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    lags = sorted(lag for w in watchers for lag in list(w.lags))
    processed = len(lags)
    dropped = sum(w.status().dropped for w in watchers) - dropped
    for watcher in watchers:
        watcher.request_stop()
    for watcher in watchers:
        watcher.wait(10)
    if not lags:
        return StreamRow(count, 0.0, 100 * cpu / wall, float("inf"), float("inf"), dropped)
    return StreamRow(
        streams=count,
        fps_per_stream=processed / wall / count,
        cpu_percent=100 * cpu / wall,
        lag_p50_ms=1000 * lags[len(lags) // 2],
        lag_p99_ms=1000 * lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        dropped=dropped,
    )


def stream_bench(seconds: float = STREAM_SECONDS, most: int = 12) -> list[StreamRow]:
    """Prints the stream-watch table: 4 streams, then 2..`most` until one does not keep up."""
    threads = int(os.environ.get("VIGILO_BENCH_THREADS", str(min(2, os.cpu_count() or 1))))
    detector = PhoneDetector.from_config(DetectorConfig(threads=threads))
    with tempfile.TemporaryDirectory(prefix="vigilo-bench-") as folder:
        clip = _write_clip(Path(folder) / "clip.mp4", sample_frames())
        store = EventStore(f"sqlite:///{Path(folder) / 'bench.db'}", Path(folder))
        print(f"\n# Stream watch: cameras at {STREAM_FPS:.0f} fps sharing one detector ({threads} threads)\n")
        print(f"looped {FRAME_SIZE[0]}x{FRAME_SIZE[1]} video files played in real time; {seconds:.0f} s per row\n")
        print("| streams | fps per stream | CPU (% of one core) | lag p50 ms | lag p99 ms | dropped | keeps up |")
        print("|---:|---:|---:|---:|---:|---:|---|")
        rows = [_print_row(run_streams(4, detector, clip, store, seconds))]
        for count in range(2, most + 1):
            if count == 4:
                row = rows[0]
            else:
                row = _print_row(run_streams(count, detector, clip, store, seconds))
                rows.append(row)
            if not row.keeps_up:
                break
        kept = [r.streams for r in rows if r.keeps_up]
        print(f"\nmost streams keeping up: {max(kept) if kept else 0} (searched 2..{most})")
        print(f"load average while measuring: {os.getloadavg()[0]:.2f} (1 min)")
        store.close()
    return rows


def _print_row(row: StreamRow) -> StreamRow:
    print(
        f"| {row.streams} | {row.fps_per_stream:.2f} | {row.cpu_percent:.0f} | {row.lag_p50_ms:.0f} "
        f"| {row.lag_p99_ms:.0f} | {row.dropped} | {'yes' if row.keeps_up else 'no'} |",
        flush=True,
    )
    return row


if __name__ == "__main__":
    if "--streams" in sys.argv[1:]:
        stream_bench()
    else:
        main()
        if os.environ.get("VIGILO_BENCH_STREAMS", "1") != "0":
            stream_bench()
