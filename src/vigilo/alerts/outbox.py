"""Durable outbox: every alert for every channel is a row here before anything is sent.

SQLite (WAL) by default, PostgreSQL by URL; the same in Redis: `outbox_redis.RedisOutbox`.
A worker *claims* due rows with a lease (`in_flight` + `lease_until` + a claim token); when it
dies mid-delivery the lease expires and another pass claims the rows again, so delivery is
at-least-once. The channel gets the row's
idempotency key so platforms that dedupe (DingTalk msgUuid, WeCom duplicate check) drop repeats.

Timestamps are epoch seconds (floats) from the injected clock.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    delete,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from vigilo.alerts.message import AlertMessage
from vigilo.db import make_engine

PENDING, IN_FLIGHT, SENT, DEAD, SUPPRESSED = "pending", "in_flight", "sent", "dead", "suppressed"
STATES = (PENDING, IN_FLIGHT, SENT, DEAD, SUPPRESSED)


class _Base(DeclarativeBase):
    pass


class OutboxRecord(_Base):
    """One alert for one channel."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        UniqueConstraint("channel", "idempotency_key", name="uq_alert_outbox_channel_key"),
        Index("ix_alert_outbox_due", "state", "next_attempt_at"),
        Index("ix_alert_outbox_group", "channel", "group_key"),
        Index("ix_alert_outbox_episode", "channel", "episode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(100))
    destination: Mapped[str] = mapped_column(String(512))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(String(255), default="")
    episode: Mapped[str | None] = mapped_column(String(255), nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    snapshot_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    batch_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The sealed digest this row travels in from its first digest attempt on (see `seal_digest`).
    digest_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    last_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)

    def to_dict(self) -> dict[str, Any]:
        data = {c.name: getattr(self, c.name) for c in self.__table__.columns}
        data.pop("payload")
        data.pop("claim_token")
        data["title"] = json.loads(self.payload).get("title", "")
        return data


class DigestRecord(_Base):
    """One message carrying several rows, stored before its first send and resent unchanged.

    Its members are the outbox rows whose `digest_id` points here. Retries, another worker and a
    restart after a kill send this exact message with this exact idempotency key, so a platform
    that dedupes (DingTalk msgUuid, WeCom duplicate check) shows it once.
    """

    __tablename__ = "alert_digest"
    __table_args__ = (UniqueConstraint("channel", "idempotency_key", name="uq_alert_digest_channel_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)  # the message, its items included
    snapshot_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class StateCount:
    """Rows of one channel in one state: how many, their failed attempts, how many failed at all."""

    channel: str
    state: str
    count: int
    failures: int
    retried: int


@dataclass(frozen=True)
class NewRow:
    channel: str
    destination: str
    idempotency_key: str
    group_key: str
    message: AlertMessage
    due_at: float
    episode: str | None = None
    state: str = PENDING
    reason: str | None = None


class OutboxError(Exception):
    """A request about a row that cannot be honoured; `code` is stable (API error codes)."""

    def __init__(self, code: str, text: str, **params: object) -> None:
        super().__init__(text)
        self.code = code
        self.params = params


def _message_payload(message: AlertMessage) -> str:
    return json.dumps(_message_fields(message), ensure_ascii=False)


def _digest_payload(message: AlertMessage) -> str:
    fields = _message_fields(message)
    fields["items"] = [{**_message_fields(item), "key": item.idempotency_key} for item in message.items]
    return json.dumps(fields, ensure_ascii=False)


def _message_fields(message: AlertMessage) -> dict[str, Any]:
    return {
        "title": message.title,
        "body": message.body,
        "severity": message.severity,
        "labels": message.labels,
        "image_url": message.image_url,
        "mentions": message.mentions,
        "at_all": message.at_all,
        "body_format": message.body_format,
        "phones": message.phones,
        "score": message.score,
        "occurred_at": message.occurred_at,
        "facts": message.facts,
    }


def store_snapshot(snapshot_dir: Path, data: bytes | None) -> str | None:
    """Writes a snapshot once per content (file named by its hash); returns its path."""
    if not data:
        return None
    path = snapshot_dir / f"{hashlib.sha256(data).hexdigest()}.jpg"
    if path.exists():
        path.touch()  # in use again: `purge` goes by age
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
        partial.write_bytes(data)
        partial.replace(path)
    return str(path)


def remove_unused_snapshots(snapshot_dir: Path, kept: set[str | None], before: float) -> None:
    """Deletes snapshot files older than `before` that no row or digest refers to any more."""
    if not snapshot_dir.is_dir():
        return
    for path in snapshot_dir.glob("*.jpg"):
        if str(path) not in kept and path.stat().st_mtime < before:
            path.unlink(missing_ok=True)


def row_message(row: OutboxRecord) -> AlertMessage:
    """The message stored in an outbox row (its snapshot read from disk)."""
    return _message_from(json.loads(row.payload), row.idempotency_key, _read_snapshot(row.snapshot_path))


def digest_message(payload: str, key: str, snapshot_path: str | None) -> AlertMessage:
    """A sealed digest exactly as stored (items included)."""
    data = json.loads(payload)
    message = _message_from(data, key, _read_snapshot(snapshot_path))
    message.items = [_message_from(item, item.get("key", ""), None) for item in data.get("items") or []]
    return message


def not_retryable(row_id: int, state: str | None) -> OutboxError:
    """The error for `requeue` of a missing row (state None) or of a row that is not dead."""
    if state is None:
        return OutboxError("alert_not_found", f"no alert delivery with id {row_id}", id=row_id)
    return OutboxError(
        "alert_not_retryable",
        f"alert delivery {row_id} is {state}; only dead letters can be retried",
        id=row_id,
        state=state,
    )


def _read_snapshot(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        return None  # the text still goes out; the image was cleaned up or lost


def _message_from(data: dict[str, Any], key: str, snapshot: bytes | None) -> AlertMessage:
    return AlertMessage(
        title=data["title"],
        body=data["body"],
        severity=data.get("severity", "default"),
        labels=dict(data.get("labels") or {}),
        snapshot=snapshot,
        image_url=data.get("image_url"),
        mentions=list(data.get("mentions") or []),
        at_all=bool(data.get("at_all")),
        idempotency_key=key,
        body_format=data.get("body_format", "markdown"),
        phones=data.get("phones"),
        score=data.get("score"),
        occurred_at=data.get("occurred_at"),
        facts=dict(data.get("facts") or {}),
    )


class Outbox:
    def __init__(self, url: str, snapshot_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.snapshot_dir = snapshot_dir
        self._clock = clock
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._create_schema()

    def _create_schema(self, tries: int = 3) -> None:
        """Creates the table when missing; another process creating it at the same time is fine."""
        for attempt in range(tries):
            try:
                _Base.metadata.create_all(self.engine)
                self._add_missing_columns()
                return
            except DBAPIError:
                if attempt == tries - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _add_missing_columns(self) -> None:
        """Outboxes created before `digest_id` existed get the column (create_all adds tables only)."""
        columns = {c["name"] for c in inspect(self.engine).get_columns(OutboxRecord.__tablename__)}
        if "digest_id" not in columns:
            with self.engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {OutboxRecord.__tablename__} ADD COLUMN digest_id INTEGER"))

    def close(self) -> None:
        self.engine.dispose()

    # -- writing -----------------------------------------------------------------------------

    def _store_snapshot(self, data: bytes | None) -> str | None:
        return store_snapshot(self.snapshot_dir, data)

    def enqueue(self, row: NewRow) -> int:
        """Stores one row; a repeated (channel, idempotency key) returns the existing row's id."""
        now = self._clock()
        record = OutboxRecord(
            channel=row.channel,
            destination=row.destination,
            idempotency_key=row.idempotency_key,
            group_key=row.group_key,
            episode=row.episode,
            payload=_message_payload(row.message),
            snapshot_path=self._store_snapshot(row.message.snapshot),
            state=row.state,
            attempts=0,
            failures=0,
            next_attempt_at=row.due_at,
            last_reason=row.reason,
            created_at=now,
        )
        with self._sessions() as session:
            session.add(record)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = session.scalar(
                    select(OutboxRecord.id).where(
                        OutboxRecord.channel == row.channel,
                        OutboxRecord.idempotency_key == row.idempotency_key,
                    )
                )
                if existing is None:
                    raise
                return existing
            return record.id

    def group_due_at(self, channel: str, group_key: str, wait: float, interval: float) -> float:
        """When a new alert of this group should go out: with the group's queued ones, after the
        group's interval since its last message, or after `wait` for a new group."""
        now = self._clock()
        with self._sessions() as session:
            queued = session.scalar(
                select(func.min(OutboxRecord.next_attempt_at)).where(
                    OutboxRecord.channel == channel,
                    OutboxRecord.group_key == group_key,
                    OutboxRecord.state == PENDING,
                    OutboxRecord.attempts == 0,
                )
            )
            if queued is not None:
                return max(queued, now)
            last = session.scalar(
                select(func.max(OutboxRecord.sent_at)).where(
                    OutboxRecord.channel == channel,
                    OutboxRecord.group_key == group_key,
                    OutboxRecord.state == SENT,
                )
            )
        if last is not None and now < last + interval:
            return last + interval
        return now + wait

    def episode_active(self, channel: str, episode: str, since: float) -> bool:
        """An alert of this episode is queued, or was sent after `since`."""
        with self._sessions() as session:
            found = session.scalar(
                select(OutboxRecord.id)
                .where(
                    OutboxRecord.channel == channel,
                    OutboxRecord.episode == episode,
                    or_(
                        OutboxRecord.state.in_((PENDING, IN_FLIGHT)),
                        (OutboxRecord.state == SENT) & (OutboxRecord.sent_at >= since),
                    ),
                )
                .limit(1)
            )
        return found is not None

    # -- the worker's side ---------------------------------------------------------------------

    def claim(
        self, lease_seconds: float, limit: int, exclude_channels: Sequence[str] = ()
    ) -> tuple[str, list[OutboxRecord]]:
        """Takes due rows (and rows whose lease expired) for this caller; returns its claim token."""
        now = self._clock()
        token = uuid.uuid4().hex
        claimable = or_(
            (OutboxRecord.state == PENDING) & (OutboxRecord.next_attempt_at <= now),
            (OutboxRecord.state == IN_FLIGHT) & (OutboxRecord.lease_until < now),
        )
        if exclude_channels:
            claimable = claimable & OutboxRecord.channel.not_in(list(exclude_channels))
        due = select(OutboxRecord.id).where(claimable).order_by(OutboxRecord.next_attempt_at).limit(limit)
        statement = (
            update(OutboxRecord)
            .where(OutboxRecord.id.in_(due.scalar_subquery()), claimable)
            .values(_claimed(token, now, lease_seconds))
            .execution_options(synchronize_session=False)
        )
        with self._sessions() as session:
            session.execute(statement)
            session.execute(self._claim_digest_partners(token, now, lease_seconds))
            session.commit()
            rows = session.scalars(
                select(OutboxRecord).where(OutboxRecord.claim_token == token).order_by(OutboxRecord.id)
            ).all()
        return token, list(rows)

    def _claim_digest_partners(self, token: str, now: float, lease_seconds: float) -> Any:
        """The other open rows of every digest this claim touched: a sealed digest goes out whole."""
        claimed = select(OutboxRecord.digest_id).where(
            OutboxRecord.claim_token == token, OutboxRecord.digest_id.is_not(None)
        )
        open_row = (OutboxRecord.state == PENDING) | (
            (OutboxRecord.state == IN_FLIGHT) & (OutboxRecord.lease_until < now)
        )
        return (
            update(OutboxRecord)
            .where(OutboxRecord.digest_id.in_(claimed.scalar_subquery()), open_row)
            .values(_claimed(token, now, lease_seconds))
            .execution_options(synchronize_session=False)
        )

    def seal_digest(self, token: str, rows: Sequence[OutboxRecord], message: AlertMessage) -> int | None:
        """Stores `message` as the digest of `rows` and ties the rows to it, in one transaction,
        before anything is sent. None (nothing stored) when this claim no longer holds every row."""
        ids = [row.id for row in rows]
        snapshot = next((row.snapshot_path for row in reversed(rows) if row.snapshot_path), None)
        with self._sessions() as session:
            digest_id = session.scalar(
                select(DigestRecord.id).where(
                    DigestRecord.channel == rows[0].channel, DigestRecord.idempotency_key == message.idempotency_key
                )
            )
            if digest_id is None:
                record = DigestRecord(
                    channel=rows[0].channel,
                    idempotency_key=message.idempotency_key,
                    payload=_digest_payload(message),
                    snapshot_path=self._store_snapshot(message.snapshot) if message.snapshot else snapshot,
                    created_at=self._clock(),
                )
                session.add(record)
                session.flush()
                digest_id = record.id
            result = session.execute(
                update(OutboxRecord)
                .where(OutboxRecord.id.in_(ids), OutboxRecord.claim_token == token, OutboxRecord.digest_id.is_(None))
                .values(digest_id=digest_id)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(result, "rowcount", 0) or 0) != len(ids):
                session.rollback()
                return None
            session.commit()
        return digest_id

    def load_digest(self, digest_id: int) -> AlertMessage | None:
        """The sealed digest message, exactly as stored (items included)."""
        with self._sessions() as session:
            record = session.get(DigestRecord, digest_id)
        if record is None:
            return None
        return digest_message(record.payload, record.idempotency_key, record.snapshot_path)

    def digest_members(self, digest_id: int) -> list[OutboxRecord]:
        """Every row of a digest, whatever its state."""
        with self._sessions() as session:
            query = select(OutboxRecord).where(OutboxRecord.digest_id == digest_id).order_by(OutboxRecord.id)
            return list(session.scalars(query).all())

    def _update_held(self, token: str, ids: Sequence[int], **values: Any) -> int:
        """Updates rows still held by this claim; a claim that lost its lease changes nothing."""
        statement = (
            update(OutboxRecord)
            .where(OutboxRecord.id.in_(list(ids)), OutboxRecord.claim_token == token)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        with self._sessions() as session:
            result = session.execute(statement)
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    def mark_sent(self, token: str, rows: Sequence[OutboxRecord], batch_key: str, code: str | None) -> int:
        """Records the rows as sent, all in one transaction (a kill cannot leave a digest half marked)."""
        now = self._clock()
        done = 0
        with self._sessions() as session:
            for row in rows:  # latency differs per row
                result = session.execute(
                    update(OutboxRecord)
                    .where(OutboxRecord.id == row.id, OutboxRecord.claim_token == token)
                    .values(**sent_values(now, row.created_at, batch_key, code))
                    .execution_options(synchronize_session=False)
                )
                done += int(getattr(result, "rowcount", 0) or 0)
            session.commit()
        return done

    def mark_failed(
        self,
        token: str,
        ids: Sequence[int],
        *,
        dead: bool,
        next_at: float,
        outcome: str,
        code: str | None,
        reason: str,
    ) -> int:
        values = failed_values(dead, next_at, outcome, code, reason)
        return self._update_held(token, ids, failures=OutboxRecord.failures + 1, **values)

    def defer(self, token: str, ids: Sequence[int], next_at: float, reason: str) -> int:
        """Gives rows back unsent without counting an attempt (our own rate limit said wait)."""
        return self._update_held(token, ids, attempts=OutboxRecord.attempts - 1, **deferred_values(next_at, reason))

    def extend_lease(self, token: str, ids: Sequence[int], until: float) -> int:
        return self._update_held(token, ids, lease_until=until)

    def load_message(self, row: OutboxRecord) -> AlertMessage:
        return row_message(row)

    # -- operators' side ------------------------------------------------------------------------

    def get(self, row_id: int) -> OutboxRecord | None:
        with self._sessions() as session:
            return session.get(OutboxRecord, row_id)

    def rows(self, state: str | None = None, channel: str | None = None, limit: int = 50) -> list[OutboxRecord]:
        query = select(OutboxRecord).order_by(OutboxRecord.id.desc()).limit(limit)
        if state:
            query = query.where(OutboxRecord.state == state)
        if channel:
            query = query.where(OutboxRecord.channel == channel)
        with self._sessions() as session:
            return list(session.scalars(query).all())

    def requeue(self, row_id: int) -> OutboxRecord:
        """Puts a dead letter back in the queue with a fresh attempt budget."""
        with self._sessions() as session:
            row = session.get(OutboxRecord, row_id)
            if row is None or row.state != DEAD:
                raise not_retryable(row_id, None if row is None else row.state)
            result = session.execute(
                update(OutboxRecord)
                .where(OutboxRecord.id == row_id, OutboxRecord.state == DEAD)
                .values(
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=self._clock(),
                    last_reason="requeued",
                    digest_id=None,  # a dead digest never showed: the row goes again on its own
                )
                .execution_options(synchronize_session=False)
            )
            session.commit()
            if not getattr(result, "rowcount", 0):
                raise OutboxError("alert_not_retryable", f"alert delivery {row_id} changed meanwhile", id=row_id)
            session.expire_all()
            fresh = session.get(OutboxRecord, row_id)
            assert fresh is not None
            return fresh

    def purge(self, before: float) -> int:
        """Deletes finished rows (sent, suppressed, dead) created before `before`, and snapshot
        files no row refers to any more. Returns how many rows went."""
        finished = OutboxRecord.state.in_((SENT, SUPPRESSED, DEAD)) & (OutboxRecord.created_at < before)
        with self._sessions() as session:
            result = session.execute(delete(OutboxRecord).where(finished).execution_options(synchronize_session=False))
            in_use = select(OutboxRecord.digest_id).where(OutboxRecord.digest_id.is_not(None))
            session.execute(
                delete(DigestRecord)
                .where(DigestRecord.id.not_in(in_use.scalar_subquery()))
                .execution_options(synchronize_session=False)
            )
            session.commit()
            kept = set(session.scalars(select(OutboxRecord.snapshot_path).distinct()).all())
            kept |= set(session.scalars(select(DigestRecord.snapshot_path).distinct()).all())
        remove_unused_snapshots(self.snapshot_dir, kept, before)
        return int(getattr(result, "rowcount", 0) or 0)

    def session(self) -> Session:
        """A session for read-only reports (the ledger)."""
        return self._sessions()

    # -- the ledger's inputs (the same methods on every backend) -------------------------------

    def state_counts(self, since: float | None = None) -> list[StateCount]:
        """Per channel and state, over rows created at or after `since` (all rows when None)."""
        where = [] if since is None else [OutboxRecord.created_at >= since]
        counts = (
            select(
                OutboxRecord.channel,
                OutboxRecord.state,
                func.count(),
                func.coalesce(func.sum(OutboxRecord.failures), 0),
                func.coalesce(func.sum(case((OutboxRecord.failures > 0, 1), else_=0)), 0),
            )
            .where(*where)
            .group_by(OutboxRecord.channel, OutboxRecord.state)
        )
        with self._sessions() as session:
            found = session.execute(counts).all()
        return [StateCount(ch, st, int(n), int(failed), int(retried)) for ch, st, n, failed, retried in found]

    def sent_latencies(self, channel: str, since: float | None = None, limit: int = 1000) -> list[float]:
        """Latencies (ms) of the `limit` latest sent rows of a channel created at or after `since`."""
        where = [] if since is None else [OutboxRecord.created_at >= since]
        query = (
            select(OutboxRecord.latency_ms)
            .where(OutboxRecord.channel == channel, OutboxRecord.state == SENT, *where)
            .order_by(OutboxRecord.sent_at.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [float(v) for v in session.scalars(query).all() if v is not None]

    def rows_created(self, start: float, end: float) -> list[OutboxRecord]:
        """Every row created in [start, end) (reports)."""
        query = select(OutboxRecord).where(OutboxRecord.created_at >= start, OutboxRecord.created_at < end)
        with self._sessions() as session:
            return list(session.scalars(query).all())


# What each update a claim makes writes, on every backend (the counters each backend adds itself:
# failures + 1 for a failure, attempts - 1 for a deferral).


def sent_values(now: float, created_at: float, batch_key: str, code: str | None) -> dict[str, Any]:
    return {
        "state": SENT,
        "sent_at": now,
        "latency_ms": (now - created_at) * 1000.0,
        "batch_key": batch_key,
        "last_outcome": "sent",
        "last_code": code,
        "last_reason": None,
        "lease_until": None,
        "claim_token": None,
    }


def failed_values(dead: bool, next_at: float, outcome: str, code: str | None, reason: str) -> dict[str, Any]:
    return {
        "state": DEAD if dead else PENDING,
        "next_attempt_at": next_at,
        "last_outcome": outcome,
        "last_code": code,
        "last_reason": reason,
        "lease_until": None,
        "claim_token": None,
    }


def deferred_values(next_at: float, reason: str) -> dict[str, Any]:
    return {
        "state": PENDING,
        "next_attempt_at": next_at,
        "last_reason": reason,
        "lease_until": None,
        "claim_token": None,
    }


def _claimed(token: str, now: float, lease_seconds: float) -> dict[Any, Any]:
    """The columns a claim sets: in flight for this caller until the lease ends, one more attempt."""
    return {
        OutboxRecord.state: IN_FLIGHT,
        OutboxRecord.claim_token: token,
        OutboxRecord.lease_until: now + lease_seconds,
        OutboxRecord.attempts: OutboxRecord.attempts + 1,
    }
