"""Finished liveness sessions, kept for statistics: one row per session in the event database.

Sessions live minutes (in memory or Redis); what operators ask later is "how many checks a day, how many
passed, why the others failed". So when a session reaches a final state its outcome is written here,
through SQLAlchemy (SQLite by default, PostgreSQL by URL, the same database as events): the session id,
the business's `user_ref`, the state, the reasons, the asked actions, the frame count and the times. No
image and no face data. A repeated write of the same session (a second worker, a retried request) is
ignored. Rows older than `retain_days` are deleted on the way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from vigilo.db import make_engine

log = logging.getLogger(__name__)

CLEANUP_EVERY_S = 3600.0


class _Base(DeclarativeBase):
    pass


class OutcomeRow(_Base):
    __tablename__ = "liveness_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # passed, failed, expired, cancelled
    reasons: Mapped[str] = mapped_column(String(1024))  # JSON list
    actions: Mapped[str] = mapped_column(String(256))  # JSON list
    frames: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


@dataclass(frozen=True)
class Outcome:
    session_id: str
    user_ref: str | None
    status: str
    reasons: list[str]
    actions: list[str]
    frames: int
    created_at: float  # epoch seconds
    finished_at: float


@dataclass(frozen=True)
class DaySummary:
    day: dt.date  # in the requested time zone
    sessions: int
    passed: int
    by_status: dict[str, int]

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.sessions if self.sessions else None


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).replace(tzinfo=None)


class OutcomeStore:
    """Writes outcomes and summarises them. Thread-safe."""

    def __init__(self, url: str, retain_days: float = 90.0, clock: Callable[[], float] = time.time) -> None:
        self.engine = make_engine(url)
        _Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.retain_days = retain_days
        self.clock = clock
        self._next_cleanup = 0.0
        self._lock = threading.Lock()

    def record(self, outcome: Outcome) -> bool:
        """Stores the outcome; False when this session was already stored."""
        row = OutcomeRow(
            session_id=outcome.session_id,
            user_ref=outcome.user_ref,
            status=outcome.status,
            reasons=json.dumps(outcome.reasons[:20], ensure_ascii=False)[:1024],
            actions=json.dumps(outcome.actions)[:256],
            frames=outcome.frames,
            created_at=_utc(outcome.created_at),
            finished_at=_utc(outcome.finished_at),
        )
        with self._sessions() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        self._cleanup_if_due()
        return True

    def recent(self, since: float) -> list[Outcome]:
        query = select(OutcomeRow).where(OutcomeRow.finished_at >= _utc(since)).order_by(OutcomeRow.finished_at)
        with self._sessions() as session:
            return [_outcome(row) for row in session.scalars(query)]

    def daily(self, days: int, tz: dt.tzinfo, now: float | None = None) -> list[DaySummary]:
        """The last `days` days (today included) in `tz`, oldest first, with zero rows for quiet days."""
        now = self.clock() if now is None else now
        today = dt.datetime.fromtimestamp(now, tz=tz).date()
        first = today - dt.timedelta(days=days - 1)
        start = dt.datetime.combine(first, dt.time(), tzinfo=tz).timestamp()
        counts: dict[dt.date, Counter[str]] = {first + dt.timedelta(days=i): Counter() for i in range(days)}
        for outcome in self.recent(start):
            day = dt.datetime.fromtimestamp(outcome.finished_at, tz=tz).date()
            if day in counts:
                counts[day][outcome.status] += 1
        return [DaySummary(day, sum(c.values()), c["passed"], dict(c)) for day, c in counts.items()]

    def reasons(self, since: float, limit: int = 10) -> list[tuple[str, int]]:
        """The most frequent failure reasons since `since` (the part before ':' when a step is named)."""
        counted: Counter[str] = Counter()
        for outcome in self.recent(since):
            if outcome.status != "passed":
                counted.update({reason.split(":", 1)[0] for reason in outcome.reasons} or {"unknown"})
        return sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:limit]  # ties: by name

    def _cleanup_if_due(self) -> None:
        now = self.clock()
        with self._lock:
            if now < self._next_cleanup:
                return
            self._next_cleanup = now + CLEANUP_EVERY_S
        cutoff = _utc(now - self.retain_days * 86400)
        with self._sessions() as session:
            session.execute(delete(OutcomeRow).where(OutcomeRow.finished_at < cutoff))
            session.commit()

    def close(self) -> None:
        self.engine.dispose()


def _outcome(row: OutcomeRow) -> Outcome:
    return Outcome(
        session_id=row.session_id,
        user_ref=row.user_ref,
        status=row.status,
        reasons=list(json.loads(row.reasons)),
        actions=list(json.loads(row.actions)),
        frames=row.frames,
        created_at=row.created_at.replace(tzinfo=dt.UTC).timestamp(),
        finished_at=row.finished_at.replace(tzinfo=dt.UTC).timestamp(),
    )


def outcome_of(record: dict[str, Any], reasons: Sequence[str], actions: Sequence[str], now: float) -> Outcome:
    """The outcome of a finished session record (`LivenessService`'s store record)."""
    return Outcome(
        session_id=str(record["id"]),
        user_ref=record.get("user_ref"),
        status=str(record["status"]),
        reasons=list(reasons),
        actions=list(actions),
        frames=int(record.get("frames") or 0),
        created_at=float(record["created_at"]),
        finished_at=float(record.get("finished_at") or now),
    )
