"""`AlertService`: policy in front, durable outbox in the middle, channels behind.

`submit()` decides (threshold, silences, routes, grouping) and stores one row per channel; the
delivery worker claims due rows, groups them into messages, respects each destination's rate
limit (collapsing what does not fit into one digest), sends, and records what the platform said.
A message counts as sent only when the channel reports `Outcome.SENT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigilo.alerts import ledger
from vigilo.alerts.channels.base import Channel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outbox import DEAD, IN_FLIGHT, PENDING, SENT, SUPPRESSED, NewRow, Outbox, OutboxRecord
from vigilo.alerts.outbox_redis import RedisOutbox
from vigilo.alerts.outcome import DeliveryResult, Outcome
from vigilo.alerts.policy import Alert, AlertPolicy, PolicyDecision
from vigilo.alerts.ratelimit import RateLimiter, build_rate_limiter
from vigilo.alerts.report import Period, build_report, last_slot, report_message, slot_key
from vigilo.alerts.retry import decide, describe
from vigilo.alerts.silences import SilenceStore
from vigilo.config.alert_policy import OUTBOX_REDIS_MISSING, DeliveryConfig
from vigilo.config.model import NotificationConfig, Settings
from vigilo.db import make_engine
from vigilo.i18n import Locale, message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Batch:
    rows: list[OutboxRecord]
    digest_id: int | None = None  # a digest sealed by an earlier attempt: resent unchanged

    @property
    def ids(self) -> list[int]:
        return [row.id for row in self.rows]


def split_sealed(rows: Sequence[OutboxRecord]) -> tuple[list[_Batch], list[list[OutboxRecord]]]:
    """The batches whose message is fixed already, oldest first, and the other rows by group.

    Fixed: digests sealed by an earlier attempt (one batch each), and rows an earlier claim may
    have sent on their own (claimed before: `attempts` > 1 now). The platform may show such a row
    already, under its own key; folded into a new digest it would show twice, so it goes alone
    again, with the same key, for the platform to drop as a repeat.
    """
    sealed: dict[int, list[OutboxRecord]] = {}
    alone: list[_Batch] = []
    groups: dict[str, list[OutboxRecord]] = {}
    for row in rows:
        if row.digest_id is not None:
            sealed.setdefault(row.digest_id, []).append(row)
        elif row.attempts > 1:
            alone.append(_Batch([row]))
        else:
            groups.setdefault(row.group_key, []).append(row)
    batches = [_Batch(members, digest_id) for digest_id, members in sorted(sealed.items())]
    return batches + alone, list(groups.values())


def plan_batches(groups: Sequence[list[OutboxRecord]], free: int) -> list[_Batch]:
    """One message per group while slots last; the last free slot carries all the rest as a digest."""
    if free <= 0 or not groups:
        return []
    if len(groups) <= free:
        return [_Batch(list(g)) for g in groups]
    singles = [_Batch(list(g)) for g in groups[: free - 1]]
    rest = [row for group in groups[free - 1 :] for row in group]
    return [*singles, _Batch(rest)]


class AlertService:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        config: DeliveryConfig,
        notification: NotificationConfig,
        outbox: Outbox | RedisOutbox,
        limiter: RateLimiter,
        *,
        locale: Locale = "zh-CN",
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        silences: SilenceStore | None = None,
    ) -> None:
        self.channels = dict(channels)
        self.config = config
        self.outbox = outbox
        self.limiter = limiter
        self.locale = locale
        self.policy = AlertPolicy(config.policy, notification, self.channels, clock)
        # Persisted silences (API, CLI) live in SQL whatever the outbox: next to a SQL outbox by default.
        if silences is None:
            if not isinstance(outbox, Outbox):
                raise ValueError("an outbox without SQL needs a SilenceStore on a SQL database")
            silences = SilenceStore(outbox.engine, clock)
        self.silences = silences
        self.silences.load_into(self.policy)
        self._clock = clock
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._reports_done: dict[int, str] = {}  # report config index -> last slot key enqueued here

    @classmethod
    def build(
        cls,
        channels: Mapping[str, Channel],
        config: DeliveryConfig,
        notification: NotificationConfig,
        *,
        database_url: str,
        data_dir: Path,
        redis_url: str | None = None,
        locale: Locale = "zh-CN",
    ) -> AlertService:
        """Builds the outbox and limiter from configuration."""
        snapshots = config.outbox.snapshot_dir or data_dir / "alert-snapshots"
        sql_url = config.outbox.database_url or database_url
        outbox: Outbox | RedisOutbox
        silences = None
        if config.outbox.backend == "redis":
            outbox = RedisOutbox(outbox_redis_url(config, redis_url), snapshots, config.outbox.key_prefix)
            silences = SilenceStore(make_engine(sql_url))
        else:
            outbox = Outbox(sql_url, snapshots)
        redis = config.rate_limit.redis_url or redis_url
        limiter = build_rate_limiter(redis, config.rate_limit.key_prefix)
        return cls(channels, config, notification, outbox, limiter, locale=locale, silences=silences)

    @classmethod
    def from_settings(cls, settings: Settings, channels: Mapping[str, Channel] | None = None) -> AlertService:
        """From `Settings`: `alerts.{channels,policy,outbox,retry,rate_limit}`, storage, sessions."""
        alerts = settings.alerts
        config = DeliveryConfig(
            policy=alerts.policy,
            outbox=alerts.outbox,
            retry=alerts.retry,
            rate_limit=alerts.rate_limit,
            reports=alerts.reports,
        )
        if channels is None:
            from vigilo.alerts.registry import build_channels

            channels = build_channels(settings)
        return cls.build(
            channels,
            config,
            settings.notification,
            database_url=settings.storage.resolved_database_url(),
            data_dir=settings.storage.data_dir,
            redis_url=settings.sessions.redis_url,
            locale=settings.server.default_locale,
        )

    # -- intake ---------------------------------------------------------------------------------

    def submit(self, alert: Alert) -> list[int]:
        """Queues `alert` for every channel the policy picks; returns the outbox row ids.

        Blocking (one short database write per channel); call through a thread from async code.
        Below the threshold or with notifications off, nothing is stored and the list is empty.
        """
        if alert.occurred_at is None:
            alert.occurred_at = self._clock()
        self.silences.refresh(self.policy)
        decision = self.policy.evaluate(alert)
        if decision.dropped:
            ledger.DROPPED.labels(reason=decision.drop_kind or "other").inc()
            log.info("alert %s not queued: %s", alert.key, decision.dropped)
            return []
        ids = [self._enqueue_for(name, alert, decision) for name in decision.channels]
        self._notify_worker()
        return ids

    def _enqueue_for(self, name: str, alert: Alert, decision: PolicyDecision) -> int:
        policy = self.config.policy
        channel = self.channels.get(name)
        severity, labels = decision.severity, decision.labels
        group_key = decision.hold_group or decision.group_key
        state, reason, due = PENDING, None, self._clock()
        if channel is None:
            state, reason = DEAD, f"channel {name!r} is not configured (named by an alert route)"
        elif decision.suppressed:
            state, reason = SUPPRESSED, decision.suppressed
        elif alert.episode and self.outbox.episode_active(name, alert.episode, self._clock() - policy.repeat_interval):
            state, reason = SUPPRESSED, "same episode already notified within repeat_interval"
        else:
            due = self.outbox.group_due_at(name, group_key, policy.group_wait, policy.group_interval)
            if decision.held_until is not None:
                due = max(due, decision.held_until)
                reason = "held for quiet hours"
        row = NewRow(
            channel=name,
            destination=channel.destination_key if channel else "",
            idempotency_key=alert.key,
            group_key=group_key,
            message=alert.message(severity, labels, alert.key),
            due_at=due,
            episode=alert.episode,
            state=state,
            reason=reason,
        )
        if state != PENDING:
            ledger.ALERTS.labels(channel=name, state=state).inc()
        return self.outbox.enqueue(row)

    # -- delivery -------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One pass: claims due rows and delivers them; returns how many rows it handled."""
        claimed = await self._start_pass()
        tasks = list(self._busy.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return claimed

    async def _start_pass(self) -> int:
        """Claims due rows and starts one delivery task per channel (not for busy channels)."""
        self._busy = {name: task for name, task in self._busy.items() if not task.done()}
        if self.channels and set(self.channels) <= set(self._busy):
            return 0  # nothing could start now; each channel's task wakes the worker when it ends
        token, rows = await asyncio.to_thread(
            self.outbox.claim,
            self.config.outbox.lease_seconds,
            self.config.outbox.batch_size,
            list(self._busy),
        )
        by_channel: dict[str, list[OutboxRecord]] = {}
        for row in rows:
            by_channel.setdefault(row.channel, []).append(row)
        for name, channel_rows in by_channel.items():
            task = asyncio.create_task(self._deliver_channel(name, token, channel_rows))
            task.add_done_callback(lambda _done: self._notify_worker())  # its channel's next rows go now
            self._busy[name] = task
        return len(rows)

    async def _deliver_channel(self, name: str, token: str, rows: list[OutboxRecord]) -> None:
        try:
            channel = self.channels.get(name)
            if channel is None:
                reason = f"channel {name!r} is no longer configured"
                await self._fail(token, rows, dead=True, delay=0, outcome="permanent", code=None, reason=reason)
                return
            await self._deliver_groups(channel, token, rows)
        except asyncio.CancelledError:
            # Stopping: hand back what this claim still holds, so a restart need not wait out the
            # lease. A send cut off mid-flight may have arrived; the idempotency key covers that.
            self.outbox.defer(token, [r.id for r in rows], self._clock(), "worker stopped")
            raise
        except Exception:
            log.exception("delivery to %s failed unexpectedly; the rows are retried after their lease", name)

    async def _deliver_groups(self, channel: Channel, token: str, rows: list[OutboxRecord]) -> None:
        sealed, groups = split_sealed(rows)
        windows = self.config.rate_limit.windows_for(channel.kind)
        free = await self.limiter.available(channel.destination_key, windows)
        batches = sealed[:free] + plan_batches(groups, free - len(sealed))
        planned = {row.id for batch in batches for row in batch.rows}
        waiting = [row for row in rows if row.id not in planned]
        slots = asyncio.Semaphore(self.config.outbox.concurrency)
        limited = asyncio.Event()  # the limiter said wait: batches not started yet go back unsent

        async def deliver(batch: _Batch) -> None:
            async with slots:  # FIFO: batches start in plan order
                if limited.is_set():
                    waiting.extend(batch.rows)
                    return
                # The message first (database work, sealing a digest), then the slot: what the limiter
                # counts reaches the platform right after, so our window and the platform's stay aligned.
                ready = await asyncio.to_thread(self.ready_message, token, batch)
                if ready is None:
                    return
                if await self.limiter.acquire(channel.destination_key, windows) > 0:
                    limited.set()
                    waiting.extend(batch.rows)
                    return
                await self._deliver_batch(channel, token, batch, *ready)

        keeper = asyncio.create_task(self._keep_lease(token, [row.id for row in rows]))
        try:
            await asyncio.gather(*(deliver(batch) for batch in batches))
        finally:
            keeper.cancel()
        if waiting:
            wait = max(await self.limiter.wait_time(channel.destination_key, windows), 0.05)
            reason = f"waiting for the rate limit of {channel.destination_key}"
            await asyncio.to_thread(self.outbox.defer, token, [r.id for r in waiting], self._clock() + wait, reason)

    async def _keep_lease(self, token: str, ids: list[int]) -> None:
        """Keeps a claim's rows ours while its sends take time: every third of the lease, the rows
        this claim still holds get a new lease (rows already settled have left the claim)."""
        lease = self.config.outbox.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            await asyncio.to_thread(self.outbox.extend_lease, token, ids, self._clock() + lease)

    def compose(self, rows: Sequence[OutboxRecord]) -> tuple[AlertMessage, bool]:
        """The message for a batch, and whether it is a digest of several alerts (not yet sealed)."""
        messages = [self.outbox.load_message(row) for row in rows]
        if len(messages) == 1:
            return messages[0], False
        keys = sorted(m.idempotency_key for m in messages)
        digest_key = "digest-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]
        digest = build_digest(messages, digest_key, self.locale, self.config.outbox.digest_max_items)
        if digest.occurred_at is None:
            digest.occurred_at = self._clock()  # fixed now, so every resend renders the same text
        return digest, True

    def prepare(self, token: str, batch: _Batch) -> tuple[AlertMessage | None, bool]:
        """The message to send for a batch (None: send nothing), and whether it is a digest.

        A new digest is sealed (stored with its members and key) before its first send, and what
        goes out is read back from the store, so the first send and every resend are identical.
        """
        if batch.digest_id is None:
            msg, is_digest = self.compose(batch.rows)
            if not is_digest:
                return msg, False
            digest_id = self.outbox.seal_digest(token, batch.rows, msg)
            if digest_id is None:
                log.warning("digest of %d alerts not sealed: another worker took its rows", len(batch.rows))
                return None, True
        else:
            digest_id = batch.digest_id
        digest = self.outbox.load_digest(digest_id)
        if digest is None:  # only if deleted by hand: the rows come back after each lease, logged
            log.error("digest %d of %d alerts is missing from the outbox; not sent", digest_id, len(batch.rows))
        return digest, True

    def settle_sealed(self, token: str, batch: _Batch) -> bool:
        """For a digest sealed earlier: True when this claim should send it now.

        Already delivered by another claim (some member is sent): the rest is marked sent without
        sending. Some member held by a live claim elsewhere: this claim steps back until that lease ends.
        """
        assert batch.digest_id is not None
        members = self.outbox.digest_members(batch.digest_id)
        sent = [m for m in members if m.state == SENT]
        if sent:
            self.outbox.mark_sent(token, batch.rows, sent[0].batch_key or "", sent[0].last_code)
            return False
        held = {row.id for row in batch.rows}
        elsewhere = [m for m in members if m.state == IN_FLIGHT and m.id not in held]
        if elsewhere:
            until = max((m.lease_until or 0.0) for m in elsewhere)
            self.outbox.defer(token, list(held), max(until, self._clock()), "digest held by another worker")
            return False
        return True

    def ready_message(self, token: str, batch: _Batch) -> tuple[AlertMessage, bool] | None:
        """The message to send for a batch and whether it is a digest; None when there is nothing
        to send (a sealed digest already delivered or held elsewhere, or rows taken by another worker)."""
        if batch.digest_id is not None and not self.settle_sealed(token, batch):
            return None
        msg, is_digest = self.prepare(token, batch)
        return None if msg is None else (msg, is_digest)

    async def _deliver_batch(
        self, channel: Channel, token: str, batch: _Batch, msg: AlertMessage, is_digest: bool
    ) -> None:
        result = await self._send(channel, msg)
        ledger.DELIVERIES.labels(channel=channel.name, outcome=result.outcome.value).inc()
        if result.outcome is Outcome.SENT:
            code = None if result.platform_code is None else str(result.platform_code)
            await asyncio.to_thread(self.outbox.mark_sent, token, batch.rows, msg.idempotency_key, code)
            self._count_sent(channel.name, batch.rows, is_digest)
            return
        await self._handle_failure(channel, token, batch, result)

    async def _send(self, channel: Channel, msg: AlertMessage) -> DeliveryResult:
        try:
            async with asyncio.timeout(self.config.outbox.send_timeout):  # not wait_for: see `_work`
                return await channel.send(msg)
        except TimeoutError:
            return DeliveryResult(Outcome.RETRY, None, f"no answer within {self.config.outbox.send_timeout:g} s")
        except Exception as exc:  # channels should not raise, but a bug must not lose the alert
            log.exception("channel %s raised", channel.name)
            return DeliveryResult(Outcome.RETRY, None, f"channel error: {type(exc).__name__}: {exc}")

    async def _handle_failure(self, channel: Channel, token: str, batch: _Batch, result: DeliveryResult) -> None:
        """One decision for the whole batch: a digest's rows stay together (same next attempt, dead
        together), so the sealed digest is resent whole. Its attempt count is its youngest member's."""
        block = self.config.rate_limit.block_for(channel.kind)
        code = None if result.platform_code is None else str(result.platform_code)
        log.warning("delivery to %s failed: %s", channel.name, describe(result))
        attempts = min(row.attempts for row in batch.rows)
        decision = decide(self.config.retry, result, attempts, block, self._rng)
        if decision.action == "pause":
            await self.limiter.block(channel.destination_key, decision.delay)
        dead = decision.action == "dead"
        await self._fail(
            token,
            batch.rows,
            dead=dead,
            delay=decision.delay,
            outcome=result.outcome.value,
            code=code,
            reason=decision.reason,
        )
        if dead:
            ledger.ALERTS.labels(channel=channel.name, state=DEAD).inc(len(batch.rows))

    async def _fail(
        self,
        token: str,
        rows: Sequence[OutboxRecord],
        *,
        dead: bool,
        delay: float,
        outcome: str,
        code: str | None,
        reason: str,
    ) -> None:
        await asyncio.to_thread(
            lambda: self.outbox.mark_failed(
                token,
                [r.id for r in rows],
                dead=dead,
                next_at=self._clock() + delay,
                outcome=outcome,
                code=code,
                reason=reason,
            )
        )

    def _count_sent(self, channel: str, rows: Sequence[OutboxRecord], is_digest: bool) -> None:
        now = self._clock()
        if is_digest:
            ledger.DIGESTS.labels(channel=channel).inc()
        for row in rows:
            ledger.ALERTS.labels(channel=channel, state="sent").inc()
            ledger.LATENCY.labels(channel=channel).observe(max(0.0, now - row.created_at))

    # -- the worker -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Starts the background delivery worker on the running event loop."""
        if self._task is not None and not self._task.done():
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._work(), name="vigilo-alert-worker")

    async def stop(self, grace: float = 5.0) -> None:
        """Stops the worker; deliveries still running after `grace` seconds are cancelled (their
        rows stay in flight and are claimed again when the lease ends)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pending = [t for t in self._busy.values() if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for t in late:
                t.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._busy = {}

    def warm_up(self) -> None:
        """The one-time work of a process's first sends, done before any slot is taken: compiling
        the templates and loading the HTTP stack's asyncio backend (httpcore imports it on the first
        request). Left to the first sends, it falls between taking a rate-limit slot and the request
        reaching the platform: with several sends in flight, the platform would see the first
        messages arrive up to a second late, bunched with the next ones, over its limit."""
        import anyio._backends._asyncio  # noqa: F401

        for templates in {id(c.templates): c.templates for c in self.channels.values()}.values():
            templates.compile_all()

    async def _work(self) -> None:
        assert self._wake is not None
        try:
            await asyncio.to_thread(self.warm_up)
        except Exception:
            log.exception("warming up the alert channels failed; sending anyway")
        while True:
            self._wake.clear()  # before the pass: a wake during it (a submit, a channel's pass ending) is kept
            try:
                await asyncio.to_thread(self.enqueue_due_reports)
                claimed = await self._start_pass()
            except Exception:
                log.exception("alert worker pass failed; trying again")
                claimed = 0
            if claimed:
                await asyncio.sleep(0)
                continue
            # asyncio.timeout, not asyncio.wait_for: on Python 3.11, wait_for swallows a cancellation that
            # arrives as the wake is set (gh-86296), and `stop()` then waited for this loop forever (seen
            # once in about three runs of the delivery tests, where a channel's end sets the wake).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.outbox.poll_interval):
                    await self._wake.wait()

    def _notify_worker(self) -> None:
        if self._loop is None or self._wake is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- operators ------------------------------------------------------------------------------

    def retry(self, row_id: int) -> OutboxRecord:
        """Re-queues a dead letter (raises `OutboxError` with a stable code otherwise)."""
        row = self.outbox.requeue(row_id)
        self._notify_worker()
        return row

    def rows(self, state: str | None = None, channel: str | None = None, limit: int = 50) -> list[OutboxRecord]:
        return self.outbox.rows(state, channel, limit)

    def stats(self, since: float | None = None) -> list[ledger.ChannelStats]:
        return ledger.channel_stats(self.outbox, since)

    async def send_test(self, name: str, snapshot: bytes | None = None) -> DeliveryResult:
        """Sends a test message straight through one channel (no outbox, no policy), within the
        destination's rate limit: a test must not get a robot blocked."""
        channel = self.channels[name]
        wait = await self.limiter.acquire(channel.destination_key, self.config.rate_limit.windows_for(channel.kind))
        if wait > 0:
            reason = f"{channel.destination_key} is at its rate limit; try again in {wait:.0f} s"
            return DeliveryResult(Outcome.RATE_LIMITED, None, reason, retry_after=wait)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        msg = AlertMessage(
            title=message("alerts_test_title", self.locale),
            body=message("alerts_test_body", self.locale, channel=name, time=stamp),
            labels={"kind": "test"},
            snapshot=snapshot,
            idempotency_key=f"test-{name}-{int(self._clock() * 1000)}",
        )
        return await self._send(channel, msg)

    # -- reports --------------------------------------------------------------------------------

    def report(self, period: Period, end: float | None = None) -> AlertMessage:
        """The report message for the `period` ending at `end` (now)."""
        stop = self._clock() if end is None else end
        data = build_report(self.outbox, period, stop, self.policy.tz)
        return report_message(data, f"report-{period}-{int(stop)}")

    def enqueue_report(self, message: AlertMessage, channels: Sequence[str] | None = None) -> list[int]:
        """Queues a report for `channels` (every channel when None); one row per channel and key."""
        names = list(self.channels) if channels is None else [c for c in channels if c in self.channels]
        ids = []
        for name in names:
            row = NewRow(
                channel=name,
                destination=self.channels[name].destination_key,
                idempotency_key=message.idempotency_key,
                group_key=f"report:{message.idempotency_key}",
                message=message,
                due_at=self._clock(),
            )
            ids.append(self.outbox.enqueue(row))
        self._notify_worker()
        return ids

    def enqueue_due_reports(self, catch_up: float = 3600.0) -> list[int]:
        """Queues each configured report whose local time has come (within `catch_up` seconds).

        The row key names the period's slot, so several processes or a restart queue it once.
        """
        now = self._clock()
        ids: list[int] = []
        for index, config in enumerate(self.config.reports):
            slot = last_slot(now, config.time_of_day(), config.period, config.weekday, self.policy.tz)
            key = slot_key(config.period, slot)
            if self._reports_done.get(index) == key or now - slot.timestamp() > catch_up:
                continue
            data = build_report(self.outbox, config.period, slot.timestamp(), self.policy.tz)
            ids += self.enqueue_report(report_message(data, key), config.channels)
            self._reports_done[index] = key
        return ids

    async def aclose(self) -> None:
        """Stops the worker and releases the rate limiter's and the outbox's connections."""
        await self.stop()
        await self.limiter.close()
        self.close()

    def close(self) -> None:
        """Synchronous part of `aclose` (for `Services.close`): the outbox's connections."""
        self.outbox.close()
        self._close_silences()

    def _close_silences(self) -> None:
        """The silences' own engine, when it is not the SQL outbox's."""
        if getattr(self.outbox, "engine", None) is not self.silences.engine:
            self.silences.engine.dispose()


def outbox_redis_url(config: DeliveryConfig, sessions_redis_url: str | None) -> str:
    """`alerts.outbox.redis_url`, else `sessions.redis_url`; a readable error when neither is set."""
    url = config.outbox.redis_url or sessions_redis_url
    if not url:
        raise ValueError(OUTBOX_REDIS_MISSING)
    return url


def build_digest(messages: Sequence[AlertMessage], key: str, locale: Locale, max_items: int) -> AlertMessage:
    """Several alerts as one message: a list of titles, the newest snapshot, the union of mentions."""
    lines = [f"- {m.title}" for m in messages[:max_items]]
    if len(messages) > max_items:
        lines.append(message("alerts_digest_more", locale, count=len(messages) - max_items))
    common = _common_labels(m.labels for m in messages)
    with_image = [m for m in messages if m.snapshot or m.image_url]
    newest = with_image[-1] if with_image else None
    mentions: list[str] = []
    for m in messages:
        mentions += [name for name in m.mentions if name not in mentions]
    urgent = any(m.severity == "urgent" for m in messages)
    return AlertMessage(
        title=message("alerts_digest_title", locale, count=len(messages)),
        body="\n".join(lines),
        severity="urgent" if urgent else "default",
        labels={**common, "digest": str(len(messages))},
        snapshot=newest.snapshot if newest else None,
        image_url=newest.image_url if newest else None,
        mentions=mentions,
        at_all=any(m.at_all for m in messages),
        idempotency_key=key,
        items=list(messages[:max_items]),
        occurred_at=max((m.occurred_at for m in messages if m.occurred_at is not None), default=None),
    )


def _common_labels(label_sets: Iterable[dict[str, str]]) -> dict[str, str]:
    sets = list(label_sets)
    if not sets:
        return {}
    return {k: v for k, v in sets[0].items() if all(s.get(k) == v for s in sets[1:])}
