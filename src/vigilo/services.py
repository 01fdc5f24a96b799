"""The plain-Python services one process runs, built lazily from the settings.

Routers, the CLI and background workers all reach components through here, so each
component is built once per process and shares its resources (ONNX sessions, pools).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from vigilo.config import Settings

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._built: dict[str, Any] = {}
        self._errors: dict[str, str] = {}

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._built:
                try:
                    self._built[name] = build()
                    self._errors.pop(name, None)
                except Exception as exc:
                    self._errors[name] = str(exc)
                    raise
            return self._built[name]

    @property
    def phone_detector(self) -> Any:
        from vigilo.phone.detector import PhoneDetector

        return self._get("phone_detector", lambda: PhoneDetector.from_config(self.settings.detector))

    @property
    def alert_service(self) -> Any:
        from vigilo.alerts.service import AlertService

        return self._get("alert_service", lambda: AlertService.from_settings(self.settings))

    def alert_channels_configured(self) -> bool:
        """Whether the config (YAML channels or the seed's WECOM_*/DINGTALK_* names) names any channel."""
        settings = self.settings
        wecom = settings.wecom
        seed_wecom = wecom.corp_id or wecom.secret or wecom.agent_id is not None
        return bool(settings.alerts.channels or seed_wecom or settings.dingtalk.webhook)

    @property
    def event_store(self) -> Any:
        from vigilo.phone.events import EventStore

        storage = self.settings.storage
        return self._get("event_store", lambda: EventStore(storage.resolved_database_url(), storage.data_dir))

    @property
    def snapshot_links(self) -> Any:
        """Signs and checks snapshot links (messages carry them only when `server.public_url` is set)."""
        from vigilo.phone.alerting import SnapshotLinks, link_secret

        settings = self.settings
        config = settings.events.alerts

        def build() -> SnapshotLinks:
            secret = config.link_secret.get_secret_value() if config.link_secret else None
            base = settings.server.public_url or f"http://{settings.server.host}:{settings.server.port}"
            return SnapshotLinks(base, link_secret(secret, settings.storage.data_dir), config.link_ttl_hours * 3600)

        return self._get("snapshot_links", build)

    def cameras_configured(self) -> bool:
        return bool(self.settings.cameras.streams)

    @property
    def camera_manager(self) -> Any:
        """Every configured camera, with events going to the alert channels (when any is configured)."""
        store, links = self.event_store, self.snapshot_links  # built first: `_get` does not nest
        # A camera worker hands its alerts to the bus; notifier workers put them into the outbox.
        bus = self.alert_bus if self.role == "camera" and self.alert_channels_configured() else None
        return self._get("camera_manager", lambda: self._build_camera_manager(store, links, bus))

    def _build_camera_manager(self, store: Any, links: Any, bus: Any) -> Any:
        from vigilo.phone.alerting import EventAlerter
        from vigilo.phone.manager import CameraManager

        settings = self.settings
        alerter = None
        if self.alert_channels_configured() and settings.events.alerts.enabled:
            alerter = EventAlerter(
                bus.publish if bus is not None else lambda alert: self.alert_service.submit(alert),
                settings.events.alerts,
                links=links if settings.server.public_url else None,
                locale=getattr(settings.alerts, "locale", None) or settings.server.default_locale,
                timezones={name: camera.schedule.tzinfo() for name, camera in settings.cameras.streams.items()},
            )
        return CameraManager(
            dict(settings.cameras.streams),
            lambda: self.phone_detector,
            store,
            settings.events,
            on_event=alerter.phone if alerter else None,
            on_camera=alerter.camera if alerter else None,
        )

    @property
    def role(self) -> str:
        return self.settings.server.role

    def runs(self, part: str) -> bool:
        """Whether this process's role runs `part`: "api", "cameras" or "delivery"."""
        wanted = {"api": ("all", "api"), "cameras": ("all", "camera"), "delivery": ("all", "notifier")}
        return self.role in wanted[part]

    @property
    def alert_bus(self) -> Any:
        """The Redis stream between camera and notifier workers (roles other than `all`)."""
        from vigilo.bus import AlertBus, bus_redis_url

        return self._get("alert_bus", lambda: AlertBus(bus_redis_url(self.settings), self.settings.bus))

    @property
    def liveness(self) -> Any:
        from vigilo.liveness.service import build_liveness_service

        settings = self.settings
        return self._get(
            "liveness",
            lambda: build_liveness_service(
                settings.liveness,
                settings.sessions.redis_url,
                settings.storage.data_dir,
                settings.storage.resolved_database_url(),
            ),
        )

    def warm_up(self) -> None:
        """Builds what the configuration needs, so the first request is not slow."""
        if self.role != "notifier":  # a notifier never detects
            self.phone_detector  # noqa: B018  (property access builds it)

    def readiness_problems(self) -> list[str]:
        problems = [f"{name}: {error}" for name, error in self._errors.items()]
        loading = "phone_detector" not in self._built and "phone_detector" not in self._errors
        if loading and self.role != "notifier":
            problems.append("phone_detector: loading")
        return problems

    def component_status(self) -> dict[str, str]:
        return {name: "ready" for name in self._built}

    def close(self) -> None:
        with self._lock:
            for component in reversed(self._built.values()):  # the last built may use the first
                closer = getattr(component, "close", None)
                if callable(closer):
                    closer()
            self._built.clear()
