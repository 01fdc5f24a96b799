"""Apprise passthrough: any Apprise URL (Telegram, Slack, ntfy, ...) as one channel.

`apprise` is optional and imported only when such a channel is built. Apprise reports only
success or failure, not why, so every failure is RETRY and the outbox's attempt limit decides
when to give up. Our own clients stay the default for WeCom, DingTalk and Feishu because
Apprise does not check their error codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from vigilo.alerts.channels.base import Channel, ChannelConfigError, Clock, fingerprint
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult, Outcome


def _load_apprise() -> Any:
    try:
        import apprise  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ChannelConfigError("apprise channels need the optional 'apprise' package: pip install apprise") from None
    return apprise


class AppriseChannel(Channel):
    kind = "apprise"

    def __init__(self, name: str, *, url: str, timeout: float = 10.0, clock: Clock | None = None) -> None:
        super().__init__(name, base_url=None, timeout=timeout, clock=clock)
        self._apprise = _load_apprise()
        self._url = url
        self._notifier = self._apprise.Apprise()
        if not self._notifier.add(url):
            raise ChannelConfigError(f"apprise channel {name!r}: Apprise does not understand its URL")

    @property
    def destination_key(self) -> str:
        scheme = self._url.split("://", 1)[0]
        return f"apprise:{scheme}:{fingerprint(self._url)}"

    def _secrets(self) -> Iterable[str]:
        return [self._url]

    async def _send(self, message: AlertMessage) -> DeliveryResult:
        notify_type = (
            self._apprise.NotifyType.FAILURE if message.severity == "urgent" else self._apprise.NotifyType.WARNING
        )
        rendered = self.render(message, "")
        body = rendered.text or rendered.title
        ok = await asyncio.to_thread(self._notifier.notify, body=body, title=rendered.title, notify_type=notify_type)
        if ok:
            return DeliveryResult(Outcome.SENT, None, "delivered")
        return DeliveryResult(Outcome.RETRY, None, "Apprise reported a failure (it gives no reason)")
