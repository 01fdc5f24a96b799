"""FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from vigilo import __version__
from vigilo.api.auth import warn_when_open
from vigilo.api.errors import install_error_handlers
from vigilo.api.limits import BodySizeLimit
from vigilo.api.routers import alerts, cameras, dashboard, detect, events, health, liveness_page
from vigilo.api.routers import liveness as liveness_api
from vigilo.config import Settings
from vigilo.services import Services

log = logging.getLogger(__name__)


async def _start_alert_worker(services: Services) -> Any:
    """Starts the alert delivery worker when channels are configured; problems go to /readyz."""
    if not services.alert_channels_configured():
        return None
    try:
        alert_service = await anyio.to_thread.run_sync(lambda: services.alert_service)
        await alert_service.start()
    except Exception:
        log.exception("alert delivery worker did not start; /readyz reports the reason")
        return None
    return alert_service


async def _start_bus_consumer(services: Services, alert_service: Any) -> Any:
    """A notifier worker: alerts from the camera workers' stream go into the outbox."""
    if alert_service is None:
        log.error("role notifier: no alert channel is configured, so the alert bus is not read")
        return None
    try:
        bus = await anyio.to_thread.run_sync(lambda: services.alert_bus)
        await anyio.to_thread.run_sync(lambda: bus.start_consuming(alert_service.submit))
    except Exception:
        log.exception("the alert bus consumer did not start; /readyz reports the reason")
        return None
    return bus


async def _start_cameras(services: Services) -> Any:
    """Starts every enabled camera of `cameras.streams` (none configured: nothing to do)."""
    if not services.cameras_configured():
        return None
    try:
        manager = await anyio.to_thread.run_sync(lambda: services.camera_manager)
        await anyio.to_thread.run_sync(manager.start)
    except Exception:
        log.exception("cameras did not start; /readyz reports the reason")
        return None
    return manager


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Builds the app. `services` may be passed in to share them with other parts of a process."""
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load models off the event loop so /healthz answers while they load.
        async def warm_up() -> None:
            try:
                await anyio.to_thread.run_sync(services.warm_up)
            except Exception:
                log.exception("warm-up failed; /readyz reports the reason")

        alert_service = await _start_alert_worker(services) if services.runs("delivery") else None
        if services.role == "notifier":
            await _start_bus_consumer(services, alert_service)
        started: list[Any] = []

        async def start_cameras() -> None:
            started.append(await _start_cameras(services))

        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(warm_up)
                if services.runs("cameras"):
                    tasks.start_soon(start_cameras)
                yield
                tasks.cancel_scope.cancel()
        finally:
            if started and started[0] is not None:
                await anyio.to_thread.run_sync(started[0].stop)
            if alert_service is not None:
                await alert_service.aclose()
            services.close()

    app = FastAPI(
        title="Vigilo",
        version=__version__,
        description="Phone watch and face-action liveness. Errors: `{code, message, detail}`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.default_locale = settings.server.default_locale
    warn_when_open(settings.server.api_keys, settings.server.host)
    install_error_handlers(app)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["*"],
        )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=int(settings.server.max_body_mb * 1024 * 1024),
        default_locale=settings.server.default_locale,
    )
    app.include_router(health.router)
    if services.runs("cameras"):
        app.include_router(cameras.router)  # live camera state lives where the cameras run
    if services.runs("api"):  # notifier workers answer health checks only
        _install_api(app, settings)
    return app


def _install_api(app: FastAPI, settings: Settings) -> None:
    app.include_router(detect.router)
    app.include_router(alerts.router)
    app.include_router(events.router)
    app.include_router(liveness_api.router)
    liveness_page.install(app)  # the H5 page at /liveness/
    if settings.dashboard.enabled:
        app.include_router(dashboard.router)  # the web dashboard at /dashboard/
