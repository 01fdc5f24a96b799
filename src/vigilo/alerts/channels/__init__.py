"""One module per platform; every channel implements `vigilo.alerts.channels.base.Channel`."""

from vigilo.alerts.channels.base import Channel, ChannelConfigError

__all__ = ["Channel", "ChannelConfigError"]
