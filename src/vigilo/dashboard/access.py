"""Who may use the dashboard: the login check, the session cookie, and the loopback-only open mode.

The same rule as the management API (`vigilo.api.auth`): with `server.api_keys` or
`server.admin_password_hash` configured, a login is required (either one works); with neither, the
dashboard answers loopback clients only, without a login, and refuses everyone else.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from vigilo.alerts.inbound import key_ok
from vigilo.api.auth import is_loopback
from vigilo.config import Settings
from vigilo.dashboard.passwords import verify_password
from vigilo.dashboard.sessions import COOKIE, LoginLimiter, Session, SessionSigner

LOGIN_CSRF_COOKIE = "vigilo_dashboard_login"
LOCAL_USER = "local"


@dataclass
class DashboardState:
    signer: SessionSigner
    limiter: LoginLimiter


def state(request: Request) -> DashboardState:
    """Built on first use, then kept on the app (the signing key may be generated into data_dir)."""
    found: DashboardState | None = getattr(request.app.state, "dashboard", None)
    if found is None:
        settings: Settings = request.app.state.settings
        config = settings.dashboard
        secret = config.session_secret.get_secret_value() if config.session_secret else None
        signer = SessionSigner.from_settings(
            secret, settings.storage.data_dir, credentials(settings), config.session_hours * 3600
        )
        found = DashboardState(signer, LoginLimiter(config.login_max_failures, config.login_window_seconds))
        request.app.state.dashboard = found
    return found


def credentials(settings: Settings) -> list[str]:
    server = settings.server
    values = [key.get_secret_value() for key in server.api_keys]
    if server.admin_password_hash is not None:
        values.append("password:" + server.admin_password_hash.get_secret_value())
    return values


def login_required(settings: Settings) -> bool:
    return bool(settings.server.api_keys) or settings.server.admin_password_hash is not None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# scrypt takes 32 MiB and ~0.1 s per check: a burst of logins from many addresses waits here rather
# than filling the memory (the per-address limit is `LoginLimiter`).
_HASHING = threading.BoundedSemaphore(2)


class LoginBusy(Exception):
    """Too many password checks at once; the visitor is asked to try again."""


def check_secret(settings: Settings, presented: str) -> str | None:
    """The user name for a correct admin password or management key, else None (blocking: scrypt)."""
    if not presented:
        return None
    if key_ok(presented, settings.server.api_keys):
        return "api-key"
    stored = settings.server.admin_password_hash
    if stored is None:
        return None
    if not _HASHING.acquire(timeout=10):
        raise LoginBusy
    try:
        return "admin" if verify_password(presented, stored.get_secret_value()) else None
    finally:
        _HASHING.release()


@dataclass(frozen=True)
class Visitor:
    """The session of this request; `cookie` is set when a new one must be sent (open loopback mode)."""

    session: Session
    cookie: str | None = None


def visitor(request: Request) -> Visitor | None:
    """The logged-in visitor, a new local session in open mode, or None (log in / refused)."""
    settings: Settings = request.app.state.settings
    signer = state(request).signer
    session = signer.read(request.cookies.get(COOKIE))
    if login_required(settings):
        return Visitor(session) if session is not None else None
    if not is_loopback(client_ip(request)):
        return None
    if session is not None:
        return Visitor(session)
    cookie, session = signer.issue(LOCAL_USER)
    return Visitor(session, cookie)


def set_session_cookie(request: Request, response: Response, cookie: str, max_age: float) -> None:
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(max_age),
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/dashboard", httponly=True, samesite="strict")


def login_csrf(request: Request) -> tuple[str, bool]:
    """The login form's double-submit token (from its cookie, or new: second item True)."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE)
    if current and 20 <= len(current) <= 64:
        return current, False
    return secrets.token_urlsafe(24), True


def set_login_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
