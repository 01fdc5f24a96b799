"""`vigilo serve`'s cameras: one `CameraWatcher` thread per enabled camera, sharing one detector.

`CameraManager` starts the configured cameras, enables and disables them at runtime, reports their
status, and fans every stored event out to the alert adapter and to live subscribers (`EventFeed`, what
the SSE endpoint reads).

An enable/disable is stored in the event database (`camera_switches`) and wins over the YAML's `enabled`
after a restart, until someone edits that `enabled` in the YAML: a stored switch made while the YAML said
something else is dropped, so the last decision (API or YAML) is the one that holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vigilo.config.cameras import CameraConfig, EventsConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import CameraEvent, CameraSwitch, EventStore, PhoneEvent
from vigilo.phone.watcher import CameraStatus, CameraWatcher

log = logging.getLogger(__name__)

Change = PhoneEvent | CameraEvent


class UnknownCamera(KeyError):
    """No camera of that name in `cameras.streams`."""


class EventFeed:
    """Fans events out from watcher threads to asyncio subscribers (bounded queues; a slow one loses the oldest)."""

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Change]]] = []

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Change]]:
        """A queue receiving every event published from now on; call from the event loop."""
        entry = (asyncio.get_running_loop(), asyncio.Queue[Change](self.queue_size))
        with self._lock:
            self._subscribers.append(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._subscribers.remove(entry)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, event: Change) -> None:
        """Thread-safe; never blocks."""
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            with contextlib.suppress(RuntimeError):  # the loop is closed: its subscriber is going away
                loop.call_soon_threadsafe(_offer, queue, event)


def _offer(queue: asyncio.Queue[Change], event: Change) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


@dataclass
class _Camera:
    config: CameraConfig
    enabled: bool
    watcher: CameraWatcher | None = None
    error: str | None = None


@dataclass(frozen=True)
class CameraState:
    name: str
    enabled: bool
    state: str  # disabled, starting, online, offline, off_schedule, finished, failed
    status: CameraStatus | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "enabled": self.enabled, "state": self.state, "error": self.error}
        if self.status is not None:
            out.update({k: v for k, v in self.status.to_json().items() if k != "camera"})
            out["error"] = self.error or self.status.last_error
        return out


def _state(camera: _Camera) -> str:
    if not camera.enabled:
        return "disabled"
    if camera.watcher is None:
        return "failed" if camera.error else "starting"
    status = camera.watcher.status()
    if status.finished:
        return "finished"
    if status.online is None:
        return "starting"
    if not status.online:
        return "offline"
    return "online" if status.schedule_active else "off_schedule"


@dataclass
class CameraManager:
    """Runs the cameras of `cameras.streams`; thread-safe."""

    cameras: dict[str, CameraConfig]
    detector: Callable[[], PhoneDetector]  # built on first start, shared by every camera
    store: EventStore
    events: EventsConfig = field(default_factory=EventsConfig)
    on_event: Callable[[PhoneEvent], None] | None = None
    on_camera: Callable[[CameraEvent], None] | None = None
    feed: EventFeed = field(default_factory=EventFeed)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        switches = self.store.camera_switches()
        self._cameras = {
            name: _Camera(config, self._initially_enabled(config, switches.get(name)))
            for name, config in self.cameras.items()
        }
        self._running = False

    # lifecycle

    def start(self) -> None:
        """Starts every enabled camera (builds the detector first: call from a thread)."""
        with self._lock:
            self._running = True
            for camera in self._cameras.values():
                if camera.enabled:
                    self._start(camera)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._running = False
            watchers = [c.watcher for c in self._cameras.values() if c.watcher is not None]
            for camera in self._cameras.values():
                camera.watcher = None
        for watcher in watchers:
            watcher.request_stop()
        for watcher in watchers:
            watcher.wait(timeout)

    def close(self) -> None:
        self.stop()

    def enable(self, name: str) -> CameraState:
        with self._lock:
            camera = self._camera(name)
            self.store.set_camera_switch(name, True, camera.config.enabled)
            camera.enabled = True
            if self._running and (camera.watcher is None or camera.watcher.status().finished):
                self._start(camera)
            return self._describe(name, camera)

    def disable(self, name: str) -> CameraState:
        with self._lock:
            camera = self._camera(name)
            self.store.set_camera_switch(name, False, camera.config.enabled)
            camera.enabled = False
            watcher, camera.watcher = camera.watcher, None
        if watcher is not None:
            watcher.stop()  # open episodes end (and their notes go out) before this returns
        return self.state(name)

    # status

    def state(self, name: str) -> CameraState:
        with self._lock:
            return self._describe(name, self._camera(name))

    def states(self) -> list[CameraState]:
        with self._lock:
            return [self._describe(name, camera) for name, camera in self._cameras.items()]

    # internals

    def _initially_enabled(self, config: CameraConfig, switch: CameraSwitch | None) -> bool:
        if switch is None:
            return config.enabled
        if switch.configured != config.enabled:
            log.info(
                "camera %s: `enabled` was edited in the YAML since the API switch; following the YAML", config.name
            )
            self.store.clear_camera_switch(config.name)
            return config.enabled
        if switch.enabled != config.enabled:
            state = "enabled" if switch.enabled else "disabled"
            log.info("camera %s: %s through the API at %s (stored)", config.name, state, switch.changed_at.isoformat())
        return switch.enabled

    def _camera(self, name: str) -> _Camera:
        try:
            return self._cameras[name]
        except KeyError:
            raise UnknownCamera(name) from None

    def _describe(self, name: str, camera: _Camera) -> CameraState:
        status = camera.watcher.status() if camera.watcher is not None else None
        return CameraState(name, camera.enabled, _state(camera), status, camera.error)

    def _start(self, camera: _Camera) -> None:
        try:
            camera.watcher = CameraWatcher(
                camera.config,
                self.detector(),
                self.store,
                events=self.events,
                on_event=self._phone,
                on_camera=self._camera_report,
            ).start()
            camera.error = None
        except Exception as exc:
            log.exception("camera %s did not start", camera.config.name)
            camera.watcher, camera.error = None, str(exc)

    def _phone(self, event: PhoneEvent) -> None:
        self.feed.publish(event)
        if self.on_event is not None:
            self.on_event(event)

    def _camera_report(self, event: CameraEvent) -> None:
        self.feed.publish(event)
        if self.on_camera is not None:
            self.on_camera(event)
