"""Password hashes, session cookies, the login limiter, the hash-password command and the config check."""

from __future__ import annotations

import base64
import hashlib

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from vigilo.cli.main import app as cli
from vigilo.config import Settings
from vigilo.dashboard.charts import bar_chart
from vigilo.dashboard.passwords import PasswordHashError, check_hash_format, hash_password, verify_password
from vigilo.dashboard.sessions import LoginLimiter, SessionSigner, csrf_ok


def test_scrypt_and_pbkdf2_hashes_verify() -> None:
    stored = hash_password("s3cret-passw0rd", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("s3cret-passw0rd", stored)
    assert not verify_password("s3cret-passw0rd ", stored)
    assert hash_password("s3cret-passw0rd", n=2**10) != stored  # salted
    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", b"another-one", salt, 1000)
    pbkdf2 = f"pbkdf2_sha256$1000${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_password("another-one", pbkdf2) and not verify_password("another-two", pbkdf2)
    for bad in ("plaintext-password", "scrypt$3$8$1$AA==$AA==", "pbkdf2_sha256$10$AA==$AA==", "scrypt$x"):
        with pytest.raises(PasswordHashError):
            check_hash_format(bad)
        assert not verify_password("plaintext-password", bad)


def test_config_refuses_a_plaintext_password(tmp_path: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(server={"admin_password_hash": "hunter2-hunter2"})
    assert "admin_password_hash" in str(caught.value)
    Settings(server={"admin_password_hash": hash_password("hunter2-hunter2", n=2**10)})


def test_session_cookie_signature_expiry_and_credential_rotation() -> None:
    clock = [1000.0]
    signer = SessionSigner("secret-a", ["key-1"], ttl_s=60, clock=lambda: clock[0])
    cookie, session = signer.issue("admin")
    assert signer.read(cookie) == session
    assert csrf_ok(session, session.csrf) and not csrf_ok(session, "x" + session.csrf) and not csrf_ok(session, None)
    assert SessionSigner("secret-b", ["key-1"], 60, lambda: clock[0]).read(cookie) is None
    assert SessionSigner("secret-a", ["key-2"], 60, lambda: clock[0]).read(cookie) is None  # rotated key
    for broken in ("", "abc", cookie + "x", cookie.replace(".", ".."), "e30." + cookie.split(".")[1]):
        assert signer.read(broken) is None
    clock[0] += 61
    assert signer.read(cookie) is None


def test_login_limiter_sliding_window() -> None:
    clock = [0.0]
    limiter = LoginLimiter(2, 10.0, clock=lambda: clock[0])
    limiter.failed("a")
    clock[0] = 5.0
    limiter.failed("a")
    assert limiter.blocked("a") and not limiter.blocked("b")
    clock[0] = 10.5  # the first failure left the window
    assert not limiter.blocked("a")
    limiter.failed("a")
    assert limiter.blocked("a")


def test_hash_password_command_reads_stdin() -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["dashboard", "hash-password", "--stdin"], input="a long enough password\n")
    assert made.exit_code == 0, made.output
    stored = made.output.strip()
    assert stored.startswith("scrypt$") and verify_password("a long enough password", stored)
    assert "a long enough password" not in made.output
    short = runner.invoke(cli, ["dashboard", "hash-password", "--stdin"], input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output


def test_bar_chart_is_plain_svg_with_escaped_labels() -> None:
    svg = str(bar_chart([("<b>", 3), ("01:00", 0), ("02:00", 1)], "room & <3>"))
    assert svg.startswith("<svg") and svg.count('class="bar"') == 3
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "room &amp; &lt;3&gt;" in svg
