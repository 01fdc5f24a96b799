"""`vigilo watch SOURCE`: one camera from the command line, with a live status line and events as they happen."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.text import Text

from vigilo.cli.common import EXIT_PROBLEMS, ConfigOption, err_console, fail, settings_or_exit
from vigilo.config import Settings
from vigilo.config.cameras import CameraConfig
from vigilo.phone.detector import PERSON, PhoneDetector
from vigilo.phone.events import CameraEvent, EventStore, PhoneEvent
from vigilo.phone.sources import SourceError
from vigilo.phone.watcher import CameraStatus, CameraWatcher
from vigilo.vision.onnx_detector import ModelError
from vigilo.vision.runtime import ProviderError

_print_lock = threading.Lock()


def parse_zone(text: str) -> dict[str, Any]:
    """`NAME=x1,y1,x2,y2` (a rectangle) or `NAME=x1,y1,x2,y2,x3,y3[,...]` (a polygon), relative 0..1."""
    name, sep, coords = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--zone {text!r}: expected NAME=x1,y1,x2,y2[,...]")
    try:
        values = [float(v) for v in coords.split(",")]
    except ValueError:
        raise ValueError(f"--zone {text!r}: coordinates must be numbers") from None
    if len(values) == 4:
        x1, y1, x2, y2 = values
        polygon = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    elif len(values) >= 6 and len(values) % 2 == 0:
        polygon = list(zip(values[::2], values[1::2], strict=True))
    else:
        raise ValueError(f"--zone {text!r}: give 4 numbers (a rectangle) or 3 or more x,y pairs")
    return {"name": name.strip(), "polygon": polygon}


def build_camera(settings: Settings, source: str, overrides: dict[str, Any]) -> CameraConfig:
    """The configured camera named `source`, or an ad-hoc one on `cameras.defaults`; then the CLI overrides."""
    if source in settings.cameras.streams:
        base = settings.cameras.streams[source].model_dump(by_alias=True)
    else:
        name = Path(source).stem if "://" not in source else (urlparse(source).hostname or "")  # never the password
        base = settings.cameras.adhoc(source, name=name or "camera").model_dump(by_alias=True)
    return CameraConfig.model_validate({**base, **overrides})


def watch(
    source: str = typer.Argument(
        ...,
        help="A camera name from the config, an rtsp:// or http(s):// URL, a video file, a folder, or a webcam index.",
    ),
    zone: list[str] = typer.Option(
        None, "--zone", help="NAME=x1,y1,x2,y2 (rectangle) or NAME=x1,y1,...,xn,yn (polygon), relative 0..1."
    ),
    fps: float = typer.Option(None, "--fps", min=0.1, max=60, help="Frames per second to check."),
    threshold: float = typer.Option(None, "--threshold", "-t", min=0.0, max=1.0, help="Phone score threshold."),
    loop: bool = typer.Option(None, "--loop/--no-loop", help="Video files: start again at the end."),
    fast: bool = typer.Option(
        False, "--fast", help="Files and folders: as fast as possible in video time, not in real time."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per event on stdout."),
    config: Path = ConfigOption,
) -> None:
    """Watch one camera or video for phones: one event per phone episode, with a snapshot."""
    settings = settings_or_exit(config)
    overrides: dict[str, Any] = {}
    try:
        if zone:
            overrides["zones"] = [parse_zone(z) for z in zone]
        if fps is not None:
            overrides["fps"] = fps
        if threshold is not None:
            overrides["threshold"] = threshold
        if loop is not None:
            overrides["loop"] = loop
        if fast:
            overrides["realtime"] = False
        camera = build_camera(settings, source, overrides)
    except ValidationError as exc:
        fail(_first(exc))
    except ValueError as exc:
        fail(str(exc))
    if camera.person.enabled and PERSON not in settings.detector.classes:
        settings.detector.classes.append(PERSON)
    try:
        detector = PhoneDetector.from_config(settings.detector)
    except (ModelError, ProviderError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    store = EventStore(settings.storage.resolved_database_url(), settings.storage.data_dir)
    printer = _Printer(camera, as_json)
    try:
        watcher = CameraWatcher(
            camera, detector, store, events=settings.events, on_event=printer.phone, on_camera=printer.camera
        )
    except (SourceError, ValueError) as exc:
        fail(str(exc))
    _run(watcher, printer)
    store.close()


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))


def _run(watcher: CameraWatcher, printer: _Printer) -> None:
    live = (
        Live(Text(""), console=err_console, transient=True, refresh_per_second=4) if err_console.is_terminal else None
    )
    printer.live = live
    with live or contextlib.nullcontext():
        watcher.start()
        try:
            while not watcher.wait(0.25):
                if live is not None:
                    live.update(Text(_status_line(watcher.status())))
        except KeyboardInterrupt:
            watcher.stop()
    status = watcher.status()
    if not printer.as_json:
        err_console.print(
            f"{printer.started} episode(s); {status.frames} frame(s) checked, {status.dropped} dropped", markup=False
        )
    if status.frames == 0 and status.finished and status.last_error:
        err_console.print(f"vigilo: cannot read {status.source}: {status.last_error}", markup=False)
        raise typer.Exit(EXIT_PROBLEMS)


def _status_line(status: CameraStatus) -> str:
    state = {True: "online", False: "OFFLINE", None: "connecting"}[status.online]
    lag = "-" if status.lag_ms is None else f"{status.lag_ms:.0f} ms"
    last = "-" if status.last_frame_at is None else status.last_frame_at.astimezone().strftime("%H:%M:%S")
    return (
        f"{status.camera}: {state}  {status.fps:.1f} fps  lag {lag}  last frame {last}  "
        f"phones {status.detections}  open episodes {status.open_episodes}"
        + ("" if status.schedule_active else "  (outside schedule)")
    )


class _Printer:
    def __init__(self, camera: CameraConfig, as_json: bool) -> None:
        self.config = camera
        self.as_json = as_json
        self.live: Live | None = None
        self.started = 0

    def phone(self, event: PhoneEvent) -> None:
        if event.change == "started":
            self.started += 1
        if self.as_json:
            self._json(event.to_json())
            return
        when = self.config.schedule.local(event.last_seen_at.timestamp()).strftime("%H:%M:%S")
        where = f"{event.camera} / {event.zone}"
        if event.change == "started":
            text = (
                f"phone episode #{event.id} started: {event.phone_count} phone(s), {event.severity}, "
                f"score {event.peak_score:.2f}"
            )
        elif event.change == "updated":
            text = f"phone episode #{event.id} now has {event.phone_count} phone(s), {event.severity}"
        else:
            text = f"phone episode #{event.id} ended after {event.duration_seconds:.1f} s (peak {event.peak_score:.2f})"
        snapshot = f"  [{event.snapshot}]" if event.snapshot and event.change != "ended" else ""
        self._line(f"{when} {where}: {text}{snapshot}")

    def camera(self, event: CameraEvent) -> None:
        if self.as_json:
            self._json(event.to_json())
            return
        when = self.config.schedule.local(event.at.timestamp()).strftime("%H:%M:%S")
        if event.kind == "offline":
            self._line(f"{when} {event.camera}: camera offline ({event.reason})")
        else:
            down = f" after {event.down_seconds:.1f} s" if event.down_seconds is not None else ""
            self._line(f"{when} {event.camera}: camera back online{down}")

    def _json(self, data: dict[str, Any]) -> None:
        with _print_lock:
            sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    def _line(self, text: str) -> None:
        with _print_lock:
            if self.live is not None:
                self.live.console.print(text, markup=False, highlight=False)
            else:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
