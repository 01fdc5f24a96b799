"""Signed liveness results (HS256 JWT) and the key that signs them."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ISSUER = "vigilo"
AUDIENCE = "vigilo-liveness"
KEY_FILE = "liveness-result.key"


def load_or_create_secret(
    configured: str | None,
    data_dir: Path,
    *,
    file_name: str = KEY_FILE,
    generate: Callable[[], str] = lambda: secrets.token_urlsafe(48),
) -> str:
    """The configured secret, else one kept in `<data_dir>/<file_name>` (created 0600 on first use)."""
    if configured:
        return configured
    path = data_dir / file_name
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    log.info("generated a key at %s", path)
    return secret


def sign_result(claims: dict[str, Any], secret: str, issued_at: float, ttl_s: int) -> str:
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(issued_at),
        "exp": int(issued_at) + ttl_s,
        **claims,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_result(token: str, secret: str, *, leeway: float = 0.0) -> dict[str, Any]:
    """Claims of a valid result; raises `jwt.InvalidTokenError` otherwise. What a business backend does."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=leeway,
        options={"require": ["exp", "iat"]},
    )
    return claims


def verify_user_token(token: str, secret: str) -> str:
    """The `sub` of a user token (HS256, for the seed-compatible endpoints); raises jwt.InvalidTokenError."""
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise jwt.InvalidTokenError("sub must be a non-empty string")
    return subject
