"""Typed configuration: every section of `vigilo.yaml` is declared here, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vigilo.config.alert_policy import OUTBOX_REDIS_MISSING
from vigilo.config.alerts import AlertsConfig
from vigilo.config.cameras import CamerasConfig, EventsConfig
from vigilo.config.dashboard import DashboardConfig
from vigilo.config.liveness import LivenessConfig


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


Role = Literal["all", "api", "camera", "notifier"]


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_mb: float = Field(10.0, gt=0, description="Largest accepted request body, in MiB.")
    max_image_pixels: int = Field(
        40_000_000, gt=0, description="Largest decoded image (width x height) accepted anywhere."
    )
    cors_origins: list[str] = Field(default_factory=list)
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    public_url: str | None = Field(
        None,
        description="Base URL people reach this server at (https://vigilo.example.cn); alert messages link "
        "snapshots there (DingTalk, Feishu). No links when empty.",
    )
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys for the management API (cameras, events; Bearer or X-API-Key). Empty: it answers "
        "loopback clients only (docs/stream-watch.md, Authentication).",
    )
    role: Role = Field(
        "all",
        description="What this process runs (`vigilo serve --role`): all; api (HTTP API, dashboard and pages); "
        "camera (the cameras, alerts published to the bus); notifier (consumes the bus, delivers alerts). "
        "Roles other than all need Redis (bus.redis_url or sessions.redis_url); docs/deploy.md, Scale-out.",
    )
    admin_password_hash: SecretStr | None = Field(
        None,
        description="Dashboard admin password as a hash from `vigilo dashboard hash-password` (never the "
        "password itself). Empty: log in with a management API key (docs/dashboard.md).",
    )

    @field_validator("admin_password_hash")
    @classmethod
    def _password_hash_format(cls, value: SecretStr | None) -> SecretStr | None:
        from vigilo.dashboard.passwords import check_hash_format

        if value is not None:
            check_hash_format(value.get_secret_value())  # a ValueError: names the key, never the value
        return value


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class StorageConfig(Section):
    data_dir: Path = Path("var")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default is SQLite at <data_dir>/vigilo.db.")

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'vigilo.db'}"


class SessionStoreConfig(Section):
    redis_url: str | None = Field(None, description="redis://host:port/db; in-memory when empty.")


class BusConfig(Section):
    """Redis Streams between roles: camera workers add alerts to a stream, notifier workers read it in a
    consumer group, acknowledge an entry once its alert is in the outbox, and take over the entries a dead
    notifier left unacknowledged."""

    redis_url: str | None = Field(None, description="redis://host:port/db; sessions.redis_url when empty.")
    stream: str = Field("vigilo:alerts", min_length=1)
    group: str = Field("notifiers", min_length=1)
    claim_idle_seconds: float = Field(
        30.0, gt=0, description="An entry unacknowledged this long (its notifier died) is taken over."
    )
    max_len: int = Field(10_000, ge=100, description="The stream is trimmed to about this many entries.")


LayoutName = Literal["auto", "yolox", "yolov5", "ultralytics", "damoyolo", "boxes_scores"]


class ZoomConfig(Section):
    """Second pass on upscaled crops, for phones too small for the full-frame pass.

    `persons`: crops around detected persons (phones in hands in wide scenes).
    `tiles`: an overlapping grid over the whole frame (phones on desks or floors).
    Off by default: see docs/detection.md for what each mode adds and costs.
    """

    enabled: bool = False
    mode: Literal["persons", "tiles"] = "tiles"
    grid: int = Field(2, ge=2, le=4, description="Tiles per side in `tiles` mode.")
    overlap: float = Field(0.2, ge=0.0, le=0.5, description="Tile overlap, as a fraction of the tile size.")
    max_crops: int = Field(4, ge=1, le=16, description="Largest number of person crops per frame.")
    person_threshold: float = Field(0.35, ge=0.0, le=1.0)
    margin: float = Field(0.15, ge=0.0, le=1.0, description="Crop margin, as a fraction of the box size.")
    min_person_height: int = Field(
        48, ge=8, description="Smaller persons are skipped: nothing useful comes from upscaling them."
    )


class DetectorConfig(Section):
    model: Path | None = Field(None, description="ONNX file; the bundled YOLOX-Nano COCO when empty.")
    layout: LayoutName = "auto"
    labels: list[str] | None = Field(
        None, description="Class names in model order; read from the model or COCO-80 when empty."
    )
    classes: list[str] = Field(default_factory=lambda: ["cell phone"], min_length=1)
    threshold: float = Field(0.35, ge=0.0, le=1.0)
    nms_iou: float = Field(0.45, gt=0.0, le=1.0)
    input_size: tuple[int, int] | None = Field(
        None, description="[width, height] the model runs at; the model's own size when empty."
    )
    providers: list[str] | None = Field(
        None, description="ONNX Runtime execution providers in order; automatic when empty."
    )
    threads: int = Field(0, ge=0, description="Intra-op threads; 0 lets ONNX Runtime decide.")
    batch_size: int = Field(8, ge=1, le=64)
    zoom: ZoomConfig = Field(default_factory=ZoomConfig)

    @field_validator("input_size")
    @classmethod
    def _input_size_positive(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (value[0] < 32 or value[1] < 32):
            raise ValueError("both sides must be at least 32 pixels")
        return value


class NotificationConfig(Section):
    """The seed's switches (`NOTIFICATION_ENABLED`, `NOTIFICATION_THRESHOLD`)."""

    enabled: bool = True
    threshold: float = Field(0.5, ge=0.0, le=1.0)


class WeComConfig(Section):
    """Seed names: `WECOM_CORP_ID`, `WECOM_AGENT_ID`, `WECOM_SECRET`."""

    corp_id: str | None = None
    agent_id: int | None = None
    secret: SecretStr | None = None


class DingTalkConfig(Section):
    """Seed names: `DINGTALK_WEBHOOK`, `DINGTALK_SECRET`."""

    webhook: SecretStr | None = None
    secret: SecretStr | None = None


class Settings(BaseSettings):
    """The whole configuration. Sections map one to one onto top-level YAML keys.

    Sources, strongest first: environment, `.env`, the YAML file, defaults
    (see `vigilo.config.loader`). Nested keys come from `VIGILO_<SECTION>__<KEY>`.
    """

    model_config = SettingsConfigDict(
        extra="forbid", env_prefix="VIGILO_", env_nested_delimiter="__", validate_default=True
    )

    server: ServerConfig = Field(default_factory=ServerConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    sessions: SessionStoreConfig = Field(default_factory=SessionStoreConfig)
    bus: BusConfig = Field(default_factory=BusConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    notification: NotificationConfig = Field(default_factory=NotificationConfig)
    wecom: WeComConfig = Field(default_factory=WeComConfig)
    dingtalk: DingTalkConfig = Field(default_factory=DingTalkConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    cameras: CamerasConfig = Field(default_factory=CamerasConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)

    @model_validator(mode="after")
    def _outbox_redis_url(self) -> Settings:
        """A Redis outbox without a URL fails at load (one line), not at the first alert."""
        outbox = self.alerts.outbox
        if outbox.backend == "redis" and not (outbox.redis_url or self.sessions.redis_url):
            raise ValueError(OUTBOX_REDIS_MISSING)
        return self

    def secret_values(self) -> list[str]:
        """Every secret in the config, so logging can redact them."""
        found: list[str] = []

        def walk(node: object) -> None:
            if isinstance(node, SecretStr):
                value = node.get_secret_value()
                if value:
                    found.append(value)
            elif isinstance(node, BaseModel):
                for name in type(node).model_fields:
                    walk(getattr(node, name))
            elif isinstance(node, list | tuple):
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                for item in node.values():
                    walk(item)

        walk(self)
        return found
