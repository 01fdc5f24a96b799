"""Configuration of the liveness check: the `liveness:` section of `vigilo.yaml`."""

from __future__ import annotations

import base64
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ActionName = Literal["turn_left", "turn_right", "blink", "open_mouth", "smile", "nod"]
_DEFAULT_POOL: tuple[ActionName, ...] = ("turn_left", "turn_right", "blink", "open_mouth", "smile")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class LivenessThresholds(_Section):
    """Decision thresholds. Angles in degrees; eye levels relative to the session's own open-eye level."""

    baseline_frames: int = Field(5, ge=1, le=30, description="Good frontal frames that set the baseline.")
    baseline_max_angle: float = Field(
        25.0, gt=0, description="Baseline frames must face the camera within this yaw/pitch."
    )
    baseline_max_spread: float = Field(6.0, gt=0, description="Largest yaw/pitch spread among baseline frames.")
    calibration_ms: int = Field(6000, ge=500, description="Time allowed to collect the baseline.")
    neutral_angle: float = Field(8.0, gt=0, description="Yaw/pitch within this of neutral count as neutral.")
    turn_yaw: float = Field(20.0, gt=0, description="A turn is yaw this far from neutral, asked way round.")
    nod_pitch: float = Field(12.0, gt=0, description="A nod is pitch this far from neutral and back.")
    action_max_angle: float = Field(
        15.0, gt=0, description="Blink, mouth and smile count only with yaw/pitch this close to neutral."
    )
    # 0.7: tuned on ZJU subjects 1-5 at 10 fps, reported on 6-10 (docs/liveness-signals.md); was 0.6.
    blink_closed_ratio: float = Field(0.7, gt=0, lt=1, description="Both eyes below this x open level: closed.")
    blink_open_ratio: float = Field(0.8, gt=0, le=1.5, description="Eyes above this x open level: open.")
    blink_min_ms: int = Field(60, ge=0)
    blink_max_ms: int = Field(800, gt=0)
    mouth_open_rise: float = Field(0.25, gt=0, description="Mouth-opening rise over neutral for `open_mouth`.")
    smile_rise: float = Field(0.25, gt=0, description="Smile-score rise over neutral for `smile`.")
    smile_max_mouth_rise: float = Field(
        0.45,
        gt=0,
        description="A smile counts only while the mouth opens less than this over neutral: the smile model "
        "reads a wide-open mouth as a smile. 99 % of GENKI-4K smiles open the mouth less than 0.39.",
    )
    conflict_factor: float = Field(
        1.5, ge=1.0, description="Another deliberate action this many times its threshold fails the step."
    )
    min_reaction_ms: int = Field(
        150, ge=0, description="An action completed sooner than this after its prompt is not counted."
    )
    identity_tolerance: float = Field(
        0.12, gt=0, description="Largest relative drift of face-geometry ratios before identity fails."
    )
    identity_strikes: int = Field(3, ge=1, description="Consecutive drifting frames that fail the check.")
    min_face_size: float = Field(0.15, ge=0, description="Face height over frame height below this: too small.")
    min_brightness: float = Field(50.0, ge=0, description="Mean face brightness (0-255) below this: too dark.")
    max_brightness: float = Field(235.0, le=255, description="Above this: too bright.")
    min_sharpness: float = Field(
        15.0,
        ge=0,
        description="Laplacian variance of the face (at 128x128) below this: blurred. Sharp faces measured "
        "43-375 on ZJU/GENKI/AFLW samples, the same blurred with sigma 2 px 5-39 (0 turns the gate off).",
    )
    max_centre_offset: float = Field(
        0.3,
        gt=0,
        le=1,
        description="Face centre farther than this from the frame centre (/diagonal): off centre.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> LivenessThresholds:
        if self.blink_closed_ratio >= self.blink_open_ratio:
            raise ValueError("blink_closed_ratio must be below blink_open_ratio")
        if self.blink_min_ms >= self.blink_max_ms:
            raise ValueError("blink_min_ms must be below blink_max_ms")
        return self


class SeedCompatConfig(_Section):
    """`/api/task/*`, the seed's endpoints, mapped onto sessions.

    `token` (default): `Authorization: Bearer` carries either a business API key (the user then comes from the
    body's `user_id`: the business backend vouches for it) or a user token, an HS256 JWT signed with
    `user_token_secret` whose `sub` is the user. `body`: the seed's own behaviour, no authentication and the user
    from the body, so anyone can act as anyone (OWASP API1); only for trusted networks. `off`: 404.
    """

    mode: Literal["token", "body", "off"] = "token"
    user_token_secret: SecretStr | None = None
    actions: int = Field(3, ge=1, le=5, description="Actions per seed-compatible session.")


class AuditConfig(_Section):
    """Audit storage of liveness frames: off by default (frames never touch the disk). When on, every
    accepted frame is kept encrypted (Fernet: AES-128-CBC + HMAC-SHA256) for `ttl_hours`, readable and
    deletable by the business backend through the API."""

    enabled: bool = Field(False, description="Keep accepted frames, encrypted, for review of disputed results.")
    ttl_hours: int = Field(72, ge=1, le=24 * 365, description="Stored frames are deleted this long after a session.")
    keys: list[SecretStr] = Field(
        default_factory=list,
        description="Fernet keys (urlsafe base64 of 32 bytes). The first encrypts, all decrypt (rotation). "
        "Empty: one is generated in <data_dir>/liveness-audit.key (0600).",
    )
    dir: str | None = Field(None, description="Where the encrypted frames go. Empty: <data_dir>/liveness-audit.")

    @field_validator("keys")
    @classmethod
    def _fernet_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(keys):
            try:
                raw = base64.urlsafe_b64decode(key.get_secret_value().encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raw = b""
            if len(raw) != 32:
                # The key itself is never echoed: config errors end up in logs.
                raise ValueError(
                    f"keys[{index}] is not a Fernet key (urlsafe base64 of 32 bytes; make one with "
                    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
                )
        return keys


class LivenessConfig(_Section):
    api_keys: list[SecretStr] = Field(
        default_factory=list, description="Business API keys for creating sessions and reading results."
    )
    result_secret: SecretStr | None = Field(
        None, description="HS256 key signing results; generated under data_dir when empty."
    )
    result_ttl_s: int = Field(600, ge=30, description="Lifetime of a signed result.")
    session_ttl_s: int = Field(180, ge=10, le=3600, description="A session expires this long after creation.")
    default_actions: int = Field(3, ge=1, le=5)
    action_pool: list[ActionName] = Field(
        default_factory=lambda: list(_DEFAULT_POOL), min_length=1, description="Actions random challenges use."
    )
    step_window_ms: tuple[int, int] = Field(
        (6000, 9000), description="Each step's time window is drawn from this range [min, max]."
    )
    max_frames: int = Field(200, ge=5, description="Frames accepted per session.")
    fps: int = Field(10, ge=1, le=60, description="Frame rate the client should send at.")
    max_fps: int = Field(30, ge=1, le=120, description="Frames closer together than 1/max_fps are refused.")
    max_frame_bytes: int = Field(2 * 1024 * 1024, gt=0)
    max_frame_pixels: int = Field(4_000_000, gt=0)
    max_clock_skew_ms: int = Field(
        2000, ge=0, description="captured_at may run ahead of the server's clock by this much at most."
    )
    lockout_failures: int = Field(5, ge=1)
    lockout_window_s: int = Field(180, ge=1)
    replay_memory_s: int = Field(3600, ge=0, description="How long frame hashes are remembered against replay.")
    near_duplicate_mad: float = Field(
        0.2,
        ge=0,
        description="A frame whose 64x48 grey thumbnail differs from the previous frame's by less than this "
        "(mean grey levels) is a duplicate; 0 turns the check off.",
    )
    analyzer_pool: int = Field(2, ge=1, le=16)
    return_urls: list[str] = Field(
        default_factory=list,
        description="H5 page (/liveness/): URL prefixes the page may return to (redirect) and whose origins "
        "may embed it and receive its postMessage events, e.g. https://app.example.com/liveness/. "
        "Empty: no redirect, embedding from any origin.",
    )
    thresholds: LivenessThresholds = Field(default_factory=LivenessThresholds)
    seed_compat: SeedCompatConfig = Field(default_factory=SeedCompatConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @model_validator(mode="after")
    def _windows(self) -> LivenessConfig:
        low, high = self.step_window_ms
        if low < 1000 or high < low:
            raise ValueError("step_window_ms must be [min, max] with 1000 <= min <= max")
        if self.fps > self.max_fps:
            raise ValueError("fps must not exceed max_fps")
        for url in self.return_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"return_urls entries must be absolute http(s) URLs: {url!r}")
        return self
