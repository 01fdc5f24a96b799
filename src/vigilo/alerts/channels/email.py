"""SMTP e-mail: STARTTLS, implicit TLS (SMTPS) or plain, with an optional login.

The standard library's smtplib does the protocol; it blocks, so each send runs in a worker
thread (no extra dependency for a channel that sends a handful of mails). SMTP reply codes
decide the outcome: 4xx is transient, 5xx permanent.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

from vigilo.alerts.channels.base import Channel, Clock, fingerprint
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult, Outcome

_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def _by_smtp_code(code: int, what: str) -> DeliveryResult:
    outcome = Outcome.RETRY if 400 <= code < 500 else Outcome.PERMANENT
    return DeliveryResult(outcome, code, f"{what} (SMTP {code})")


class EmailChannel(Channel):
    kind = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        from_addr: str,
        to: Sequence[str],
        security: Literal["starttls", "ssl", "none"] = "starttls",
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, base_url=None, timeout=timeout, clock=clock)
        self.host = host
        self.port = port
        self.from_addr = from_addr
        self.to = list(to)
        self.security = security
        self.username = username
        self._password = password
        self._ssl_context = ssl_context

    @property
    def destination_key(self) -> str:
        return f"email:{self.host}:{fingerprint(','.join(sorted(self.to)))}"

    def _secrets(self) -> Iterable[str]:
        return [self._password] if self._password else []

    def build(self, message: AlertMessage) -> EmailMessage:
        """The MIME message for `message` (plain text, snapshot attached inline)."""
        mail = EmailMessage()
        rendered = self.render(message, "")
        mail["Subject"] = rendered.title.replace("\n", " ")
        mail["From"] = self.from_addr
        mail["To"] = ", ".join(self.to)
        mail["Date"] = formatdate(self.clock(), localtime=False)
        if message.idempotency_key:
            # Stable per alert, so a mail retried after a lost reply can be recognised as a repeat.
            mail["Message-ID"] = f"<{_ID_CHARS.sub('-', message.idempotency_key)}@vigilo.alerts>"
        text = rendered.text
        mail.set_content(text)
        if message.snapshot:
            mail.add_attachment(message.snapshot, maintype="image", subtype="jpeg", filename="snapshot.jpg")
        return mail

    async def _send(self, message: AlertMessage) -> DeliveryResult:
        mail = self.build(message)
        return await asyncio.to_thread(self._deliver, mail)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _deliver(self, mail: EmailMessage) -> DeliveryResult:
        try:
            smtp: smtplib.SMTP
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(mail, from_addr=self.from_addr, to_addrs=self.to)
        except smtplib.SMTPAuthenticationError as exc:
            return DeliveryResult(Outcome.PERMANENT, exc.smtp_code, f"SMTP login refused (SMTP {exc.smtp_code})")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            transient = all(400 <= code < 500 for code in codes)
            return DeliveryResult(
                Outcome.RETRY if transient else Outcome.PERMANENT,
                codes[0] if codes else None,
                f"every recipient refused: {', '.join(sorted(exc.recipients))}",
            )
        except smtplib.SMTPSenderRefused as exc:
            return _by_smtp_code(exc.smtp_code, f"sender address {self.from_addr} refused")
        except smtplib.SMTPNotSupportedError:
            return DeliveryResult(
                Outcome.PERMANENT, None, "the SMTP server does not offer STARTTLS or AUTH as configured"
            )
        except smtplib.SMTPResponseException as exc:
            return _by_smtp_code(exc.smtp_code, "the SMTP server refused the message")
        except ssl.SSLCertVerificationError as exc:
            return DeliveryResult(Outcome.PERMANENT, None, f"TLS certificate not trusted: {exc.verify_message}")
        except (smtplib.SMTPException, OSError) as exc:
            # Connection refused, reset, timeouts, TLS failures, server hanging up: all transient.
            return DeliveryResult(Outcome.RETRY, None, f"SMTP connection failed: {type(exc).__name__}: {exc}")
        if refused:
            return DeliveryResult(Outcome.SENT, 250, f"delivered, but refused for {', '.join(sorted(refused))}")
        return DeliveryResult(Outcome.SENT, 250, "delivered")
