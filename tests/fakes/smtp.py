"""Fake SMTP server (aiosmtpd) with optional login, STARTTLS and scripted recipient refusals."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port

USERNAME = "vigilo@example.cn"
PASSWORD = "fake-smtp-password-0123"


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.fake.refuse.get(address)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.fake.mails.append(
            Mail(str(envelope.mail_from), list(envelope.rcpt_tos), message_from_bytes(content, policy=policy.default))
        )
        return "250 Message accepted"


class FakeSmtp:
    """`refuse` maps a recipient to the SMTP reply for RCPT TO (e.g. "550 no such user")."""

    def __init__(self, *, require_auth: bool = True, tls_context: ssl.SSLContext | None = None) -> None:
        self.mails: list[Mail] = []
        self.refuse: dict[str, str] = {}
        self.logins: list[str] = []
        self.port = free_port()
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            "auth_require_tls": tls_context is not None,
            "authenticator": self._authenticate,
            "auth_required": require_auth,
        }
        if tls_context is not None:
            kwargs["tls_context"] = tls_context
            kwargs["require_starttls"] = True
        self._controller = Controller(_Handler(self), **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode()
            self.logins.append(user)
            if user == USERNAME and auth_data.password.decode() == PASSWORD:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def reset(self) -> None:
        self.mails.clear()
        self.refuse.clear()
        self.logins.clear()

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
