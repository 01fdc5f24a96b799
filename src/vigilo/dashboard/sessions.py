"""Dashboard sessions: an HMAC-signed cookie with an expiry and a CSRF token, and a login rate limit.

The cookie holds `{"u": who, "exp": unix time, "csrf": random}` as base64url JSON plus an HMAC-SHA256
signature. The signing key is derived from the session secret (`dashboard.session_secret`, or a key
generated once into `<data_dir>/dashboard-session.key`, 0600) *and* the configured credentials, so
changing the admin password or the API keys ends every session. Sessions are not stored server-side:
logging out clears the browser's cookie; rotate a credential to end sessions everywhere.
(`itsdangerous` is not a dependency of Vigilo; this is the few lines of it that are needed.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from vigilo.liveness.tokens import load_or_create_secret

COOKIE = "vigilo_dashboard"
KEY_FILE = "dashboard-session.key"


@dataclass(frozen=True)
class Session:
    user: str
    expires_at: float
    csrf: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Makes and reads session cookies."""

    def __init__(
        self, secret: str, credentials: Iterable[str], ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        material = hashlib.sha256("\n".join(sorted(credentials)).encode("utf-8")).digest()
        self._key = hmac.new(secret.encode("utf-8"), b"vigilo-dashboard-session\n" + material, "sha256").digest()
        self.ttl_s = ttl_s
        self._clock = clock

    @classmethod
    def from_settings(
        cls, configured: str | None, data_dir: Path, credentials: Iterable[str], ttl_s: float
    ) -> SessionSigner:
        return cls(load_or_create_secret(configured, data_dir, file_name=KEY_FILE), credentials, ttl_s)

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), "sha256").digest())

    def issue(self, user: str) -> tuple[str, Session]:
        session = Session(user, self._clock() + self.ttl_s, secrets.token_urlsafe(24))
        payload = {"u": session.user, "exp": int(session.expires_at), "csrf": session.csrf}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._sign(body)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session in `cookie`, or None when it is missing, forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        try:
            if not hmac.compare_digest(self._sign(body), signature):
                return None
            data = json.loads(_unb64(body))
            session = Session(str(data["u"]), float(data["exp"]), str(data["csrf"]))
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None
        return session if session.expires_at > self._clock() else None


def csrf_ok(session: Session | None, presented: str | None) -> bool:
    if session is None or not presented:
        return False
    return hmac.compare_digest(session.csrf.encode("utf-8"), presented.encode("utf-8"))


class LoginLimiter:
    """At most `max_failures` failed logins per client within a sliding window of `window_s` seconds.

    In this process's memory: behind several API workers each counts on its own (docs/dashboard.md)."""

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        with self._lock:
            times = self._recent(client, self._clock())
            if not times:
                self._failures.pop(client, None)
            return len(times) >= self.max_failures

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # many clients: forget those with nothing recent
                for name in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window_s]:
                    del self._failures[name]
