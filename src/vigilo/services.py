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
    def liveness(self) -> Any:
        from vigilo.liveness.service import build_liveness_service

        settings = self.settings
        return self._get(
            "liveness",
            lambda: build_liveness_service(settings.liveness, settings.sessions.redis_url, settings.storage.data_dir),
        )

    def warm_up(self) -> None:
        """Builds what the configuration needs, so the first request is not slow."""
        self.phone_detector  # noqa: B018  (property access builds it)

    def readiness_problems(self) -> list[str]:
        problems = [f"{name}: {error}" for name, error in self._errors.items()]
        if "phone_detector" not in self._built and "phone_detector" not in self._errors:
            problems.append("phone_detector: loading")
        return problems

    def component_status(self) -> dict[str, str]:
        return {name: "ready" for name in self._built}

    def close(self) -> None:
        with self._lock:
            for component in self._built.values():
                closer = getattr(component, "close", None)
                if callable(closer):
                    closer()
            self._built.clear()
