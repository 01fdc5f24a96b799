"""`LivenessService`: sessions, frames, anti-replay, lockouts and signed results. Plain Python.

The server is the authority: the client only sends frames (with `seq` and `captured_at`); every decision
is made here from the frames and kept in the `SessionStore`. Frames are analysed outside the store's
atomic section and applied inside it, so concurrent frames of one session are serialised (the later
`seq` wins, the other is refused as out of order) without holding a lock during face analysis. A frame
costs the store one `read` (session, lockout count, replay lookup) and one `update` from that read, which
also remembers the frame's hash against replays (with Redis: two round trips).

Sessions are single-use: one challenge, frames until it is decided, one signed result.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from vigilo.api.errors import ApiError
from vigilo.config.liveness import LivenessConfig
from vigilo.i18n import Locale, message
from vigilo.liveness import decision
from vigilo.liveness.actions import Action, parse_actions, prompt, random_challenge, random_windows
from vigilo.liveness.audit import FrameAudit
from vigilo.liveness.frames import exact_hash, mean_abs_diff, thumbnail
from vigilo.liveness.outcomes import OutcomeStore, outcome_of
from vigilo.liveness.session import (
    FINAL_STATES,
    OPEN_STATES,
    CreatedSession,
    SessionView,
    Step,
    UploadRules,
)
from vigilo.liveness.signals import FaceSignals
from vigilo.liveness.store import Record, Remember, Remembered, SessionStore, Snapshot, StoreConflict
from vigilo.liveness.tokens import load_or_create_secret, sign_result
from vigilo.vision.imageio import ImageError, decode_image

log = logging.getLogger(__name__)
T = TypeVar("T")

KEEP_AFTER_EXPIRY_S = 600  # finished sessions stay readable (for their result) this long
# The clock check's anchor is the quickest of the first frames (smallest arrival minus capture time), not
# simply the first: one slow first upload (a TLS handshake on a poor network, a busy server) would
# otherwise make every later, quicker frame look as if its capture time ran ahead. An attacker gains
# nothing new: delaying the first frame on purpose already moved the anchor, and these frames only
# calibrate (no action counts before the prompt that follows calibration).
ANCHOR_FRAMES = 5


class Analyzer(Protocol):
    def analyze(self, image_bgr: np.ndarray, *, mirrored: bool = False) -> FaceSignals: ...


@dataclass(frozen=True)
class _Frame:
    seq: int
    captured_at: float  # ms
    received_ms: float
    sha: str
    fingerprint: str  # thumbnail, for near-duplicates
    signals: FaceSignals
    aspect: float
    ip: str | None


class LivenessService:
    def __init__(
        self,
        config: LivenessConfig,
        store: SessionStore,
        analyzer: Analyzer,
        *,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
        audit: FrameAudit | None = None,
        outcomes: OutcomeStore | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.analyzer = analyzer
        self.clock = clock
        self.audit = audit
        self.outcomes = outcomes
        configured = config.result_secret.get_secret_value() if config.result_secret else None
        self._secret = load_or_create_secret(configured, data_dir)

    @property
    def result_secret(self) -> str:
        return self._secret

    def close(self) -> None:
        closer = getattr(self.analyzer, "close", None)
        if callable(closer):
            closer()
        self.store.close()
        if self.outcomes is not None:
            self.outcomes.close()

    # ---- sessions -------------------------------------------------------------------------
    def create(
        self,
        *,
        user_ref: str | None = None,
        actions: list[str] | None = None,
        count: int | None = None,
        locale: Locale = "zh-CN",
        mirrored: bool = False,
        ip: str | None = None,
    ) -> CreatedSession:
        """A new session with an explicit action list or `count` random actions (default from config)."""
        now = self.clock()
        self._check_lockout(user_ref=user_ref, ip=ip, now=now)
        challenge = self._challenge(actions, count)
        low, high = self.config.step_window_ms
        windows = random_windows(len(challenge), low, high)
        session_id = secrets.token_urlsafe(18)
        nonce = secrets.token_urlsafe(24)
        expires_at = now + self.config.session_ttl_s
        record: Record = {
            "id": session_id,
            "nonce": nonce,
            "user_ref": user_ref,
            "locale": locale,
            "mirrored": mirrored,
            "created_at": now,
            "expires_at": expires_at,
            "status": "created",
            "frames": 0,
            "last_seq": None,
            "last_captured": None,
            "clock0": None,
            "shas": [],
            "last_fp": None,
            "ip": None,
            "finished_at": None,
            "failure_counted": False,
            "result_issued": False,
            "decision": decision.new_state(challenge, windows).to_dict(),
        }
        self.store.create(session_id, record, self._ttl(record))
        steps = [
            Step(i + 1, str(a), {"zh-CN": prompt(a, "zh-CN"), "en": prompt(a, "en")}, w)
            for i, (a, w) in enumerate(zip(challenge, windows, strict=True))
        ]
        return CreatedSession(session_id, nonce, user_ref, expires_at, locale, mirrored, steps, self.upload_rules)

    @property
    def upload_rules(self) -> UploadRules:
        c = self.config
        return UploadRules(c.fps, c.max_fps, c.max_frame_bytes, c.max_frame_pixels, c.max_frames)

    def get(self, session_id: str, *, nonce: str | None = None, trusted: bool = False) -> SessionView:
        record = self._load(session_id, nonce, trusted)
        if record["status"] in OPEN_STATES and self.clock() >= record["expires_at"]:
            record = self._finish(session_id, "expired", "session_expired")
        return self._view(record)

    def cancel(self, session_id: str, *, nonce: str | None = None, trusted: bool = False) -> SessionView:
        """Ends an open session. One that had frames counts as a failure (a cancel must not dodge lockouts)."""
        self._load(session_id, nonce, trusted)
        record = self._finish(session_id, "cancelled", "cancelled")
        return self._view(record)

    def submit_frame(
        self,
        session_id: str,
        data: bytes,
        *,
        seq: int,
        captured_at: float,
        nonce: str | None = None,
        trusted: bool = False,
        ip: str | None = None,
        received_at: float | None = None,
    ) -> SessionView:
        """Analyses one frame and advances the session. `captured_at` is epoch milliseconds.

        `received_at` (epoch seconds) is when the request arrived, if the caller knows: a busy server may
        start on a frame seconds later, and timing the frame by then would make a queueing delay look like
        a client clock running ahead (`liveness_clock_skew`; seen at 200 users on 2 cores)."""
        now = received_at if received_at is not None else self.clock()
        # The hash is known before analysis: the replay lookup rides along with the session read.
        replay = self.config.replay_memory_s > 0 and len(data) <= self.config.max_frame_bytes
        found = self.store.read(
            session_id,
            failure_keys=self._lockout_keys(user_ref=None, ip=ip),
            window_s=self.config.lockout_window_s,
            namespace="frames",
            items=[exact_hash(data)] if replay else [],
            now=now,
        )
        record = self._authorise(found.snapshot.record if found.snapshot else None, nonce, trusted)
        self._check_open(session_id, record, now)
        self._raise_if_locked(found.failures)
        self._check_order(record, seq, captured_at, now * 1000.0)
        frame = self._analyse(record, data, seq, captured_at, now, ip)
        self._check_replay(record, frame, found.seen)
        saved, completed = self._apply_frame(session_id, record, found.snapshot, frame, now)
        self._keep_for_audit(session_id, frame, data)
        self._after_finish(session_id, saved, now)
        return self._view(saved, completed)

    def result(self, session_id: str) -> str:
        """The signed result of a finished session (trusted callers only). Issued once."""
        record = self._load(session_id, None, trusted=True)
        if record["status"] in OPEN_STATES and self.clock() >= record["expires_at"]:
            record = self._finish(session_id, "expired", "session_expired")
        if record["status"] in OPEN_STATES:
            raise ApiError(409, "liveness_result_not_ready")

        def issue(r: Record) -> None:
            if r["result_issued"]:
                raise ApiError(409, "liveness_result_issued")
            r["result_issued"] = True

        saved, _ = self._update(session_id, issue, self._ttl(record))
        if saved is None:
            raise ApiError(404, "liveness_session_not_found")
        return sign_result(self._claims(saved), self._secret, self.clock(), self.config.result_ttl_s)

    # ---- audit storage (trusted callers only) ------------------------------------------------------
    def audit_frames(self, session_id: str) -> dict[str, Any]:
        audit = self._audit()
        frames = audit.frames(session_id)
        return {
            "session_id": session_id,
            "frames": [f.to_json() for f in frames],
            "expires_at": audit.expires_at(session_id) if frames else None,
        }

    def audit_frame(self, session_id: str, seq: int) -> bytes:
        return self._audit().read(session_id, seq)

    def delete_audit(self, session_id: str) -> int:
        return self._audit().delete(session_id)

    def _audit(self) -> FrameAudit:
        if self.audit is None:
            raise ApiError(404, "liveness_audit_off")
        return self.audit

    def _keep_for_audit(self, session_id: str, frame: _Frame, data: bytes) -> None:
        if self.audit is None:
            return
        try:
            self.audit.save(session_id, frame.seq, frame.captured_at, data)
        except OSError as exc:
            # The user's check goes on; the operator learns from the log that the audit trail has a gap.
            log.error("audit: frame %s of a session could not be stored: %s", frame.seq, exc.strerror)

    # ---- seed compatibility -------------------------------------------------------------------
    def seed_session(self, user: str, *, locale: Locale = "zh-CN", ip: str | None = None, fresh: bool = False) -> str:
        """The user's current seed-compatible session id; a new one when none is open (or `fresh`)."""
        alias = f"seed:{user}"
        session_id = self.store.get_alias(alias)
        record = self.store.get(session_id) if session_id else None
        if record is not None and record["status"] in OPEN_STATES and self.clock() >= record["expires_at"]:
            record = self._finish(str(record["id"]), "expired", "session_expired")
        if record is not None and not fresh and record["status"] in (*OPEN_STATES, "passed"):
            return str(record["id"])
        if record is not None and record["status"] in OPEN_STATES:
            self._finish(str(record["id"]), "cancelled", "reset")
        created = self.create(user_ref=user, count=self.config.seed_compat.actions, locale=locale, ip=ip)
        self.store.set_alias(alias, created.session_id, self.config.session_ttl_s + KEEP_AFTER_EXPIRY_S)
        return created.session_id

    def seed_current(self, user: str) -> str | None:
        return self.store.get_alias(f"seed:{user}")

    def next_seq(self, session_id: str) -> int:
        record = self.store.get(session_id)
        last = record.get("last_seq") if record else None
        return int(last) + 1 if last is not None else 1

    # ---- internals ----------------------------------------------------------------------------
    def _challenge(self, actions: list[str] | None, count: int | None) -> list[Action]:
        pool = [Action(a) for a in self.config.action_pool]
        try:
            if actions:
                return parse_actions(actions)
            return random_challenge(count or self.config.default_actions, pool)
        except ValueError as exc:
            raise ApiError(422, "liveness_invalid_actions", reason=str(exc)) from None

    def _apply_frame(
        self, session_id: str, record: Record, base: Snapshot | None, frame: _Frame, now: float
    ) -> tuple[Record, str | None]:
        """Writes the frame into the session from the read `base`, remembering its hash in the same step."""
        remember = None
        if self.config.replay_memory_s > 0:
            remember = Remember("frames", (frame.sha,), now, self.config.replay_memory_s, limit=200_000)

        def change(latest: Record) -> str | None:
            return self._apply(latest, frame, now)

        try:
            saved, completed = self._update(session_id, change, self._ttl(record), base=base, remember=remember)
        except Remembered:
            # Another session took the same bytes between our read and our write.
            raise ApiError(409, "liveness_replayed_frame") from None
        if saved is None:
            raise ApiError(404, "liveness_session_not_found")
        return saved, completed

    def _update(
        self,
        session_id: str,
        change: Callable[[Record], T],
        ttl_s: float,
        *,
        base: Snapshot | None = None,
        remember: Remember | None = None,
    ) -> tuple[Record | None, T]:
        try:
            return self.store.update(session_id, change, ttl_s, base=base, remember=remember)
        except StoreConflict:
            # Many frames of one session fighting over it: the client retries, nothing is half-written.
            raise ApiError(409, "liveness_session_busy") from None

    def _ttl(self, record: Record) -> float:
        return max(1.0, float(record["expires_at"]) - self.clock() + KEEP_AFTER_EXPIRY_S)

    def _load(self, session_id: str, nonce: str | None, trusted: bool) -> Record:
        return self._authorise(self.store.get(session_id), nonce, trusted)

    def _authorise(self, record: Record | None, nonce: str | None, trusted: bool) -> Record:
        if record is None:
            raise ApiError(404, "liveness_session_not_found")
        if not trusted and (nonce is None or not hmac.compare_digest(nonce.encode(), record["nonce"].encode())):
            raise ApiError(403, "liveness_bad_nonce")
        return record

    def _check_open(self, session_id: str, record: Record, now: float) -> None:
        if record["status"] in OPEN_STATES and now >= record["expires_at"]:
            self._finish(session_id, "expired", "session_expired")
            raise ApiError(410, "liveness_session_expired")
        if record["status"] == "expired":
            raise ApiError(410, "liveness_session_expired")
        if record["status"] in FINAL_STATES:
            raise ApiError(409, "liveness_session_closed", state=record["status"])

    def _check_lockout(self, *, user_ref: str | None, ip: str | None, now: float) -> None:
        window = self.config.lockout_window_s
        keys = self._lockout_keys(user_ref=user_ref, ip=ip)
        self._raise_if_locked([self.store.count_failures(key, now, window) for key in keys])

    @staticmethod
    def _lockout_keys(*, user_ref: str | None, ip: str | None) -> list[str]:
        return [key for key in (f"user:{user_ref}" if user_ref else None, f"ip:{ip}" if ip else None) if key]

    def _raise_if_locked(self, failures: Sequence[int]) -> None:
        window, limit = self.config.lockout_window_s, self.config.lockout_failures
        if any(count >= limit for count in failures):
            raise ApiError(429, "liveness_locked", minutes=max(1, round(window / 60)))

    def _check_order(self, record: Record, seq: int, captured_at: float, now_ms: float) -> None:
        """Monotonic seq and capture time, a sane frame rate, and capture times that do not run ahead of
        the server's clock (frames prepared in advance and sent in a burst)."""
        if record["last_seq"] is not None and seq <= record["last_seq"]:
            raise ApiError(409, "liveness_seq_not_increasing", last=record["last_seq"])
        last = record["last_captured"]
        if last is not None:
            if captured_at <= last:
                raise ApiError(409, "liveness_time_not_increasing")
            if captured_at - last < 1000.0 / self.config.max_fps * 0.9:
                raise ApiError(429, "liveness_frame_rate", max_fps=self.config.max_fps)
        if record["clock0"] is not None and record["frames"] >= ANCHOR_FRAMES:
            first_captured, first_received = record["clock0"]
            ahead = (captured_at - first_captured) - (now_ms - first_received)
            if ahead > self.config.max_clock_skew_ms:
                raise ApiError(422, "liveness_clock_skew")

    def _analyse(self, record: Record, data: bytes, seq: int, captured_at: float, now: float, ip: str | None) -> _Frame:
        if len(data) > self.config.max_frame_bytes:
            raise ApiError(413, "liveness_frame_too_large", limit_kb=self.config.max_frame_bytes // 1024)
        try:
            image = decode_image(data, self.config.max_frame_pixels)
        except ImageError as exc:
            raise ApiError(413 if exc.code == "image_too_large" else 422, exc.code, **exc.params) from None
        signals = self.analyzer.analyze(image, mirrored=bool(record["mirrored"]))
        height, width = image.shape[:2]
        return _Frame(
            seq=seq,
            captured_at=float(captured_at),
            received_ms=now * 1000.0,
            sha=exact_hash(data),
            fingerprint=thumbnail(image),
            signals=signals,
            aspect=width / height,
            ip=ip,
        )

    def _check_replay(self, record: Record, frame: _Frame, seen: frozenset[str]) -> None:
        """The same bytes seen in this session (duplicate) or in any recent session (replay, as `read` found
        it; the update checks again atomically)."""
        if frame.sha in record["shas"]:
            raise ApiError(409, "liveness_duplicate_frame")
        if frame.sha in seen:
            raise ApiError(409, "liveness_replayed_frame")

    def _apply(self, record: Record, frame: _Frame, now: float) -> str | None:
        """Inside the store's atomic update: re-checks against the latest state, then feeds the decision."""
        self._check_open(record["id"], record, now)
        self._check_order(record, frame.seq, frame.captured_at, frame.received_ms)
        if frame.sha in record["shas"]:
            raise ApiError(409, "liveness_duplicate_frame")
        limit = self.config.near_duplicate_mad
        previous = record["last_fp"]
        if limit > 0 and previous and mean_abs_diff(previous, frame.fingerprint) < limit:
            raise ApiError(409, "liveness_duplicate_frame")
        if record["clock0"] is None:
            record["ip"] = frame.ip
        if record["clock0"] is None or (record["frames"] < ANCHOR_FRAMES and _sooner(frame, record["clock0"])):
            record["clock0"] = [frame.captured_at, frame.received_ms]
        record["last_seq"] = frame.seq
        record["last_captured"] = frame.captured_at
        record["shas"].append(frame.sha)
        record["last_fp"] = frame.fingerprint
        record["frames"] += 1
        state = decision.DecisionState.from_dict(record["decision"])
        verdict = decision.feed(state, frame.captured_at, frame.signals, self.config.thresholds, aspect=frame.aspect)
        if not state.done and record["frames"] >= self.config.max_frames:
            decision.expire(state, "frame_limit")
        record["decision"] = state.to_dict()
        record["hint"] = verdict.hint
        record["status"] = _status(state)
        if state.done:
            record["finished_at"] = now
        return verdict.completed

    def _finish(self, session_id: str, status: str, reason: str) -> Record:
        """Moves an open session to a final state (no-op on a finished one) and counts the failure."""
        now = self.clock()

        def close(r: Record) -> None:
            if r["status"] not in OPEN_STATES:
                return
            state = decision.DecisionState.from_dict(r["decision"])
            decision.expire(state, reason)
            r["decision"] = state.to_dict()
            r["status"] = status
            r["hint"] = None
            r["finished_at"] = now

        saved, _ = self._update(session_id, close, KEEP_AFTER_EXPIRY_S)
        if saved is None:
            raise ApiError(404, "liveness_session_not_found")
        self._after_finish(session_id, saved, now)
        return saved

    def _after_finish(self, session_id: str, record: Record, now: float) -> None:
        """Records the outcome of a finished session once, and counts a failed one (with frames) once,
        against its user and the IP that sent its frames."""
        if record["status"] not in FINAL_STATES:
            return
        self._record_outcome(session_id, record, now)
        if record["status"] == "passed" or record["frames"] == 0:
            return

        def mark(r: Record) -> bool:
            first = not r["failure_counted"]
            r["failure_counted"] = True
            return first

        _, first = self._update(session_id, mark, KEEP_AFTER_EXPIRY_S)
        if not first:
            return
        window = self.config.lockout_window_s
        for key in (
            f"user:{record['user_ref']}" if record["user_ref"] else None,
            f"ip:{record['ip']}" if record["ip"] else None,
        ):
            if key:
                self.store.add_failure(key, now, window)

    def _record_outcome(self, session_id: str, record: Record, now: float) -> None:
        if self.outcomes is None or record.get("outcome_recorded"):
            return

        def mark(r: Record) -> bool:
            first = not r.get("outcome_recorded")
            r["outcome_recorded"] = True
            return first

        _, first = self._update(session_id, mark, KEEP_AFTER_EXPIRY_S)
        if not first:
            return
        state = decision.DecisionState.from_dict(record["decision"])
        try:
            self.outcomes.record(outcome_of(record, state.reasons, state.actions, now))
        except Exception as exc:  # statistics must never fail a user's check
            log.error("liveness outcome of a session not stored: %s", type(exc).__name__)

    def _view(self, record: Record, completed: str | None = None) -> SessionView:
        state = decision.DecisionState.from_dict(record["decision"])
        locale: Locale = record["locale"]
        total = len(state.actions)
        action = state.current_action if record["status"] in OPEN_STATES else None
        hint_code = record.get("hint") if record["status"] in OPEN_STATES else None
        return SessionView(
            session_id=record["id"],
            state=record["status"],
            step=min(total, state.step + 1) if not state.passed else total,
            total=total,
            action=str(action) if action else None,
            prompt=prompt(action, locale) if action else None,
            progress=state.progress,
            hint=message(hint_code, locale) if hint_code else None,
            hint_code=hint_code,
            done=record["status"] in FINAL_STATES,
            passed=record["status"] == "passed",
            frames=int(record["frames"]),
            expires_at=float(record["expires_at"]),
            completed=completed,
        )

    def _claims(self, record: Record) -> dict[str, Any]:
        state = decision.DecisionState.from_dict(record["decision"])
        claims: dict[str, Any] = {
            "jti": record["id"],
            "sid": record["id"],
            "nonce": record["nonce"],
            "user_ref": record["user_ref"],
            "decision": "pass" if record["status"] == "passed" else "fail",
            "passed": record["status"] == "passed",
            "state": record["status"],
            "reasons": state.reasons,
            "requested": state.actions,
            "actions": [
                {
                    "action": step.action,
                    "prompted_at": step.prompted_at,
                    "started_at": step.started_at,
                    "completed_at": step.completed_at,
                    "duration_ms": round(step.duration_ms, 1),
                }
                for step in state.completed
            ],
            "frames": record["frames"],
            "created_at": record["created_at"],
            "finished_at": record["finished_at"],
        }
        if record["user_ref"]:
            claims["sub"] = record["user_ref"]
        return claims


def _status(state: decision.DecisionState) -> str:
    if state.phase == "passed":
        return "passed"
    if state.phase == "failed":
        return "failed"
    return "calibrating" if state.phase == "calibrating" else "in_progress"


def build_liveness_service(
    config: LivenessConfig, redis_url: str | None, data_dir: Path, database_url: str | None = None
) -> LivenessService:
    """The service as `Services` builds it: the configured store, a pooled face analyzer, and outcomes
    kept in `database_url` (the event database) for the dashboard's statistics."""
    from vigilo.liveness.signals import FaceAnalyzer
    from vigilo.liveness.store import build_store

    analyzer = FaceAnalyzer(pool_size=config.analyzer_pool, max_faces=2)
    audit = FrameAudit(config.audit, data_dir) if config.audit.enabled else None
    outcomes = OutcomeStore(database_url) if database_url else None
    return LivenessService(config, build_store(redis_url), analyzer, data_dir=data_dir, audit=audit, outcomes=outcomes)


def _sooner(frame: _Frame, anchor: list[float]) -> bool:
    """`frame` reached the server sooner after its capture than the anchor frame did."""
    return frame.received_ms - frame.captured_at < anchor[1] - anchor[0]
