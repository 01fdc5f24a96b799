"""E-mail channel against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS and SMTPS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.alerts.conftest import jpeg
from tests.fakes.smtp import PASSWORD, USERNAME, FakeSmtp
from vigilo.alerts.channels.email import EmailChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


@pytest.fixture(scope="module")
def _plain_server() -> Iterator[FakeSmtp]:
    fake = FakeSmtp().start()
    yield fake
    fake.stop()


@pytest.fixture
def smtp(_plain_server: FakeSmtp) -> FakeSmtp:
    _plain_server.reset()
    return _plain_server


def channel(port: int, **kwargs: object) -> EmailChannel:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "from_addr": USERNAME,
        "to": ["ops@example.cn", "sec@example.cn"],
        "security": "none",
        "username": USERNAME,
        "password": PASSWORD,
        "timeout": 5.0,
    }
    options.update(kwargs)
    return EmailChannel("mail", **options)  # type: ignore[arg-type]


def alert(**kwargs: object) -> AlertMessage:
    values: dict[str, object] = {
        "title": "发现手机",
        "body": "A 区 2 部手机",
        "labels": {"camera": "cam-3"},
        "idempotency_key": "ev-1",
    }
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


async def test_mail_with_login_and_snapshot(smtp: FakeSmtp) -> None:
    picture = jpeg()
    result = await channel(smtp.port).send(alert(severity="urgent", snapshot=picture))
    assert result.outcome is Outcome.SENT, result.reason
    (mail,) = smtp.mails
    assert mail.rcpt_tos == ["ops@example.cn", "sec@example.cn"] and smtp.logins == [USERNAME]
    assert str(mail.message["Subject"]) == "[紧急] 发现手机"
    assert mail.message["Message-ID"] == "<ev-1@vigilo.alerts>"
    parts = list(mail.message.walk())
    text = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "A 区 2 部手机" in text and "camera: cam-3" in text
    image = next(p for p in parts if p.get_content_type() == "image/jpeg")
    assert image.get_payload(decode=True) == picture


async def test_wrong_password_is_permanent_and_not_leaked(smtp: FakeSmtp, alert_logs: pytest.LogCaptureFixture) -> None:
    wrong = "wrong-password-7777"
    result = await channel(smtp.port, password=wrong).send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 535)
    assert wrong not in result.reason and wrong not in alert_logs.text and PASSWORD not in alert_logs.text
    assert smtp.mails == []


async def test_every_recipient_refused_permanently(smtp: FakeSmtp) -> None:
    smtp.refuse = {"ops@example.cn": "550 no such user", "sec@example.cn": "550 no such user"}
    result = await channel(smtp.port).send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 550)


async def test_temporary_refusal_is_retry(smtp: FakeSmtp) -> None:
    smtp.refuse = {"ops@example.cn": "450 mailbox busy", "sec@example.cn": "451 try later"}
    result = await channel(smtp.port).send(alert())
    assert result.outcome is Outcome.RETRY


async def test_partial_refusal_is_sent_and_reported(smtp: FakeSmtp) -> None:
    smtp.refuse = {"sec@example.cn": "550 no such user"}
    result = await channel(smtp.port).send(alert())
    assert result.ok and "sec@example.cn" in result.reason
    assert smtp.mails[0].rcpt_tos == ["ops@example.cn"]


async def test_starttls_required_by_plain_server_config_fails(smtp: FakeSmtp) -> None:
    result = await channel(smtp.port, security="starttls").send(alert())
    assert result.outcome is Outcome.PERMANENT and "STARTTLS" in result.reason


async def test_starttls_with_a_trusted_private_ca(cert: tuple[Path, Path]) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*cert)
    fake = FakeSmtp(tls_context=server_ctx).start()
    try:
        trusted = ssl.create_default_context(cafile=str(cert[0]))
        ok = await channel(fake.port, security="starttls", ssl_context=trusted).send(alert())
        untrusted = await channel(fake.port, security="starttls").send(alert(idempotency_key="ev-2"))
        plain = await channel(fake.port, security="none").send(alert(idempotency_key="ev-3"))
    finally:
        fake.stop()
    assert ok.outcome is Outcome.SENT, ok.reason
    assert untrusted.outcome is Outcome.PERMANENT and "certificate" in untrusted.reason
    assert plain.outcome is not Outcome.SENT  # the server requires STARTTLS
    assert len(fake.mails) == 1


async def test_connection_refused_is_retry() -> None:
    from tests.conftest import free_port

    result = await channel(free_port()).send(alert())
    assert result.outcome is Outcome.RETRY and "SMTP connection failed" in result.reason


class _SmtpsFake(FakeSmtp):
    """The shared fake SMTP server, but speaking TLS from the first byte (port 465 style)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self._controller = Controller(
            self._controller.handler,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=context,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=False,  # aiosmtpd only counts STARTTLS as TLS; this socket is TLS from the start
        )


async def test_smtps_implicit_tls_delivers_and_refuses_an_untrusted_certificate(cert: tuple[Path, Path]) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*cert)
    fake = _SmtpsFake(server_ctx).start()
    common: dict[str, object] = {
        "host": "127.0.0.1",
        "port": fake.port,
        "from_addr": USERNAME,
        "to": ["ops@example.cn"],
        "security": "ssl",
        "username": USERNAME,
        "password": PASSWORD,
        "timeout": 5.0,
    }
    message = AlertMessage(title="发现手机", body="A 区 2 部手机", idempotency_key="smtps-1")
    try:
        trusted = ssl.create_default_context(cafile=str(cert[0]))
        ok = await EmailChannel("mail", ssl_context=trusted, **common).send(message)
        untrusted = await EmailChannel("mail", **common).send(message)
    finally:
        fake.stop()
    assert ok.outcome is Outcome.SENT, ok.reason
    assert untrusted.outcome is Outcome.PERMANENT and "certificate" in untrusted.reason
    assert [m.rcpt_tos for m in fake.mails] == [["ops@example.cn"]]
    assert PASSWORD not in ok.reason + untrusted.reason
