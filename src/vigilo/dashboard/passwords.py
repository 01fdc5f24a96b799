"""Admin password hashes for `server.admin_password_hash`, with the standard library only.

`hashlib.scrypt` (memory-hard, OpenSSL) makes the hash; PBKDF2-SHA256 hashes are accepted as well, for
hosts whose OpenSSL lacks scrypt. No extra dependency (passlib, argon2-cffi) is needed for one admin
password checked a few times a day, and the format is plain text an operator can paste into YAML:

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>
    pbkdf2_sha256$<iterations>$<salt, base64>$<hash, base64>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # 32 MiB, about 0.1 s
PBKDF2_ITERATIONS = 600_000
_MAX_SCRYPT_N = 2**20


class PasswordHashError(ValueError):
    """The stored hash is not in a format this module writes."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise PasswordHashError("bad base64 in the password hash") from exc


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    memory = 128 * n * r * p + 1024 * 1024
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=32)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A new scrypt hash of `password` with a random salt."""
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_scrypt(password, salt, n, r, p))}"


def check_hash_format(stored: str) -> None:
    """Raises `PasswordHashError` unless `stored` looks like a hash this module can verify."""
    _parse(stored)


def _parse(stored: str) -> tuple[str, list[int], bytes, bytes]:
    parts = stored.strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            if n < 2 or n > _MAX_SCRYPT_N or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16:
                raise PasswordHashError("scrypt parameters out of range")
            return "scrypt", [n, r, p], _unb64(parts[4]), _unb64(parts[5])
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if not 1_000 <= iterations <= 10_000_000:
                raise PasswordHashError("pbkdf2 iterations out of range")
            return "pbkdf2_sha256", [iterations], _unb64(parts[2]), _unb64(parts[3])
    except ValueError as exc:
        raise PasswordHashError(str(exc)) from exc
    raise PasswordHashError(
        "not a scrypt$... or pbkdf2_sha256$... hash (make one with `vigilo dashboard hash-password`)"
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (constant-time compare). False, not an error, for a bad hash."""
    try:
        kind, params, salt, expected = _parse(stored)
    except PasswordHashError:
        return False
    if kind == "scrypt":
        actual = _scrypt(password, salt, *params)
    else:
        actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, params[0], dklen=len(expected))
    return hmac.compare_digest(actual, expected)
