"""Silences added at runtime (API, CLI), persisted next to the outbox so they survive restarts.

Configured silences (`alerts.policy.silences`) stay in the YAML; the ones stored here are merged
into the policy when the service starts, after each change made through this store, and every few
seconds (`refresh`), so a silence added by `vigilo alerts silence add` in another process reaches
a running server without a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from vigilo.alerts.policy import AlertPolicy, Silence


class _Base(DeclarativeBase):
    pass


class SilenceRow(_Base):
    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[str] = mapped_column(Text)  # JSON object label -> value
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float, index=True)
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class StoredSilence:
    id: int
    match: dict[str, str]
    starts_at: float
    ends_at: float
    comment: str
    created_by: str
    created_at: float

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_silence(self) -> Silence:
        return Silence(
            dict(self.match),
            datetime.fromtimestamp(self.ends_at, UTC),
            datetime.fromtimestamp(self.starts_at, UTC),
            self.comment,
        )

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        moment = time.time() if now is None else now
        return {
            "id": self.id,
            "match": dict(self.match),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "comment": self.comment,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "active": self.active(moment),
        }


def _stored(row: SilenceRow) -> StoredSilence:
    return StoredSilence(
        row.id, json.loads(row.matchers), row.starts_at, row.ends_at, row.comment, row.created_by, row.created_at
    )


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `2h`, `1d`, `1h30m` -> seconds (ValueError otherwise, or when not positive)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    total, number = 0.0, ""
    for char in text.strip().lower():
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 2h, 1d)")
    if number or total <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 2h, 1d)")
    return total


def parse_matchers(items: list[str]) -> dict[str, str]:
    """`["camera=room-3", "zone=desk"]` -> `{"camera": "room-3", "zone": "desk"}`."""
    match: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"not a label matcher: {item!r} (use label=value)")
        match[name.strip()] = value.strip()
    if not match:
        raise ValueError("a silence needs at least one label matcher")
    return match


class SilenceStore:
    """The `alert_silences` table in the outbox's database (same engine)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time, refresh_s: float = 5.0) -> None:
        self.engine = engine
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._refresh_s = refresh_s
        self._loaded_at: float | None = None
        for attempt in range(3):  # another process creating the table at the same moment is fine
            try:
                _Base.metadata.create_all(engine)
                break
            except DBAPIError:
                if attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def add(
        self,
        match: dict[str, str],
        duration_s: float,
        comment: str = "",
        created_by: str = "",
        starts_at: float | None = None,
    ) -> StoredSilence:
        if not match:
            raise ValueError("a silence needs at least one label matcher")
        if duration_s <= 0:
            raise ValueError("a silence must last longer than 0 s")
        now = self._clock()
        start = now if starts_at is None else starts_at
        row = SilenceRow(
            matchers=json.dumps(match, ensure_ascii=False, sort_keys=True),
            starts_at=start,
            ends_at=start + duration_s,
            comment=comment[:500],
            created_by=created_by[:100],
            created_at=now,
        )
        with self._sessions.begin() as session:
            session.add(row)
        self._loaded_at = None
        return _stored(row)

    def list(self, include_expired: bool = False) -> list[StoredSilence]:
        query = select(SilenceRow).order_by(SilenceRow.id.desc())
        if not include_expired:
            query = query.where(SilenceRow.ends_at > self._clock())
        with self._sessions() as session:
            return [_stored(row) for row in session.scalars(query)]

    def get(self, silence_id: int) -> StoredSilence | None:
        with self._sessions() as session:
            row = session.get(SilenceRow, silence_id)
            return None if row is None else _stored(row)

    def expire(self, silence_id: int) -> StoredSilence | None:
        """Ends a silence now (kept in the table for the record); None when there is no such id."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(SilenceRow, silence_id)
            if row is None:
                return None
            if row.ends_at > now:
                row.ends_at = now
            stored = _stored(row)
        self._loaded_at = None
        return stored

    def load_into(self, policy: AlertPolicy) -> None:
        """Replaces the policy's silences: configured + stored (unexpired) + added at run time."""
        configured = [Silence.from_config(s) for s in policy.config.silences]
        now = datetime.fromtimestamp(self._clock(), UTC)
        policy.runtime_silences = [s for s in policy.runtime_silences if now < s.ends_at]
        policy.silences = configured + [s.to_silence() for s in self.list()] + policy.runtime_silences
        self._loaded_at = self._clock()

    def refresh(self, policy: AlertPolicy) -> None:
        """`load_into` when the last load is older than `refresh_s` (or a change was made here)."""
        if self._loaded_at is None or self._clock() - self._loaded_at >= self._refresh_s:
            self.load_into(policy)
