"""What the session layer hands out: challenge steps, upload rules, per-frame views. Plain dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

SessionState = Literal["created", "calibrating", "in_progress", "passed", "failed", "cancelled", "expired"]
OPEN_STATES: frozenset[str] = frozenset({"created", "calibrating", "in_progress"})
FINAL_STATES: frozenset[str] = frozenset({"passed", "failed", "cancelled", "expired"})


@dataclass(frozen=True)
class Step:
    index: int  # 1-based
    action: str
    prompt: dict[str, str]  # {"zh-CN": ..., "en": ...}
    window_ms: int  # time allowed from this step's prompt to its completion


@dataclass(frozen=True)
class UploadRules:
    fps: int  # what the client should send
    max_fps: int  # frames closer together are refused
    max_bytes: int
    max_pixels: int
    max_frames: int
    formats: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    nonce: str
    user_ref: str | None
    expires_at: float  # epoch seconds
    locale: str
    mirrored: bool
    steps: list[Step]
    upload: UploadRules

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SessionView:
    """A session as the client sees it, after a frame or on request."""

    session_id: str
    state: SessionState
    step: int  # 1-based current step; `total` once passed
    total: int
    action: str | None  # the action asked for now
    prompt: str | None  # in the session's locale
    progress: float  # 0..1
    hint: str | None  # a quality or posture hint in the session's locale
    hint_code: str | None
    done: bool
    passed: bool
    frames: int
    expires_at: float
    completed: str | None = None  # the action this frame completed, if any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
