"""Alert configuration: named channels, each a typed block or a one-line URL (see docs/alerts.md).

```yaml
alerts:
  channels:
    ops-dingtalk: "dingtalk://TOKEN?secret=SEC..."
    security-wecom:
      type: wecom
      corp_id: ww0123
      agent_id: 1000002
      secret: "..."
      touser: ["zhangsan", "lisi"]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from vigilo.config.alert_policy import AlertPolicyConfig, OutboxConfig, RateLimitConfig, ReportConfig, RetryConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class _ChannelBase(_Section):
    enabled: bool = True
    base_url: str | None = Field(
        None, description="Platform address override (a proxy, a private deployment or a test server)."
    )
    timeout_s: float = Field(10.0, gt=0, le=120)


class WeComAppChannelConfig(_ChannelBase):
    """WeCom self-built application message (gettoken + message/send)."""

    type: Literal["wecom"] = "wecom"
    corp_id: str = Field(min_length=1)
    agent_id: int
    secret: SecretStr
    touser: list[str] = Field(default_factory=lambda: ["@all"])
    toparty: list[str] = Field(default_factory=list)
    totag: list[str] = Field(default_factory=list)
    format: Literal["text", "markdown", "textcard"] = "text"
    card_url: str | None = Field(None, description="Link for the textcard button; required by textcard.")
    duplicate_check_interval: int = Field(
        1800, ge=0, le=14400, description="Seconds WeCom drops a repeated send; 0 turns the check off."
    )
    safe: bool = False


class WeComBotChannelConfig(_ChannelBase):
    """WeCom group robot (webhook/send?key=...)."""

    type: Literal["wecom_bot"] = "wecom_bot"
    key: SecretStr
    format: Literal["text", "markdown"] = "markdown"


class DingTalkChannelConfig(_ChannelBase):
    """DingTalk custom robot; `access_token` may also be the whole webhook URL."""

    type: Literal["dingtalk"] = "dingtalk"
    access_token: SecretStr
    secret: SecretStr | None = Field(None, description="加签 secret (SEC...); signing is off when empty.")
    keyword: str | None = Field(None, description="A custom keyword of the robot; added when missing.")
    format: Literal["text", "markdown"] = "markdown"


class FeishuChannelConfig(_ChannelBase):
    """Feishu (or Lark, `type: lark`) custom bot; `hook` is the token or the whole webhook URL."""

    type: Literal["feishu", "lark"] = "feishu"
    hook: SecretStr
    secret: SecretStr | None = None
    keyword: str | None = None
    format: Literal["text", "post", "interactive"] = "interactive"


class WebhookChannelConfig(_ChannelBase):
    """Generic JSON webhook with an Alertmanager-like body, HMAC-signed when a secret is set."""

    type: Literal["webhook"] = "webhook"
    url: SecretStr
    secret: SecretStr | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    include_snapshot: bool = Field(False, description="Add the JPEG snapshot, base64, to the body.")


class EmailChannelConfig(_ChannelBase):
    """SMTP e-mail."""

    type: Literal["email"] = "email"
    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535, description="Default: 465 for ssl, 587 starttls, 25 none.")
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_addr: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    ca_file: str | None = Field(None, description="PEM file of the CA that signed the server's certificate.")

    def resolved_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"ssl": 465, "starttls": 587, "none": 25}[self.security]


class AppriseChannelConfig(_ChannelBase):
    """Any Apprise URL; needs the optional `apprise` package."""

    type: Literal["apprise"] = "apprise"
    url: SecretStr


ChannelConfig = Annotated[
    WeComAppChannelConfig
    | WeComBotChannelConfig
    | DingTalkChannelConfig
    | FeishuChannelConfig
    | WebhookChannelConfig
    | EmailChannelConfig
    | AppriseChannelConfig,
    Field(discriminator="type"),
]


def _from_url(value: Any) -> Any:
    """A channel given as a URL string becomes its typed block (vigilo.alerts.urls)."""
    if isinstance(value, str):
        from vigilo.alerts.urls import parse_channel_url  # here: vigilo.alerts.urls imports this module

        return parse_channel_url(value)
    return value


ChannelEntry = Annotated[ChannelConfig, BeforeValidator(_from_url)]


class AlertsConfig(_Section):
    channels: dict[str, ChannelEntry] = Field(
        default_factory=dict, description="Channel name -> typed block or URL string (docs/alerts.md)."
    )
    policy: AlertPolicyConfig = Field(default_factory=AlertPolicyConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    locale: Literal["zh-CN", "en"] | None = Field(
        None, description="Language of alert messages; server.default_locale when empty."
    )
    templates_dir: Path | None = Field(
        None, description="Folder of Jinja2 templates overriding the shipped ones (docs/alerts.md, Templates)."
    )
    reports: list[ReportConfig] = Field(default_factory=list, description="Daily/weekly reports (alerts-delivery.md).")
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys for POST /api/v1/alerts and the silences API (Bearer or X-API-Key); empty: refused.",
    )
    max_snapshot_mb: float = Field(2.0, gt=0, le=20, description="Largest snapshot accepted by POST /api/v1/alerts.")

    @model_validator(mode="after")
    def _templates_render(self) -> AlertsConfig:
        """A typo in a user template is a configuration error, found now rather than at 3 a.m."""
        if self.templates_dir is not None:
            from vigilo.alerts.rendering import validate_templates  # here: vigilo.alerts imports this module

            validate_templates(self.templates_dir)
        return self
