"""The durable outbox in Redis: the same rows, leases, claim tokens and sealed digests as `Outbox`.

For deployments that run several notifier workers against one Redis and want no SQL server. Every
change that must be atomic (enqueue with its unique key, claim, seal, the updates a claim makes,
requeue, purge) is one Lua script, so two processes never claim the same row and a worker whose
lease ran out cannot overwrite a row another claim holds. Snapshots stay files in `snapshot_dir`.

Keys under the prefix:
  seq, dseq                   INCR counters for row and digest ids
  row:<id>                    hash, the `OutboxRecord` columns (None: field absent) and the row's
                              index keys (`_key`, `_gq`, `_gid`, `_ep`, fields starting with "_")
  keys                        hash json([channel, idempotency_key]) -> row id (the unique key)
  created, byid               zsets of every row id by created_at and by id (reports, listing)
  due, leases                 zsets of pending rows by next_attempt_at, in-flight rows by lease_until
  gq:<group>                  zset of a group's queued rows (pending, never attempted) by next_attempt_at
  gsent                       hash group -> latest sent_at of the group
  ep:<episode>                set of an episode's row ids
  digest:<id>, dkeys, dm:<id> a sealed digest, its unique key, its member row ids; `digests`: all ids

Durability is Redis's: without `appendonly yes` a Redis restart loses queued alerts (docs/alerts-delivery.md).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.attributes import instance_dict, manager_of_class

from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outbox import (
    IN_FLIGHT,
    PENDING,
    SENT,
    NewRow,
    OutboxRecord,
    StateCount,
    _digest_payload,
    _message_payload,
    deferred_values,
    digest_message,
    failed_values,
    not_retryable,
    remove_unused_snapshots,
    row_message,
    sent_values,
    store_snapshot,
)

log = logging.getLogger(__name__)

_CONVERT: dict[str, Callable[[str], Any]] = {
    column.name: column.type.python_type for column in OutboxRecord.__table__.columns
}
_MANAGER = manager_of_class(OutboxRecord)
_CHUNK = 1000  # rows per script call: each call blocks Redis for a few milliseconds

# Shared by every script: keeps the due/lease/group indexes in line with a row's fields.
_PRELUDE = """
local K = ARGV[1]
local function num(x) return string.format('%.17g', x) end
local function reindex(id)
  local f = redis.call('HMGET', K .. 'row:' .. id, 'state', 'next_attempt_at', 'lease_until', 'attempts', '_gq')
  local state, nxt, lease, attempts, gq = f[1], f[2], f[3], f[4], f[5]
  if state == 'pending' then redis.call('ZADD', K .. 'due', nxt, id) else redis.call('ZREM', K .. 'due', id) end
  if state == 'in_flight' then
    redis.call('ZADD', K .. 'leases', lease or '0', id)
  else
    redis.call('ZREM', K .. 'leases', id)
  end
  if state == 'pending' and tonumber(attempts) == 0 then
    redis.call('ZADD', gq, nxt, id)
  else
    redis.call('ZREM', gq, id)
  end
end
"""

# ARGV: K, unique-key field, created_at, then field/value pairs. Returns the (new or existing) id.
_ENQUEUE = """
local existing = redis.call('HGET', K .. 'keys', ARGV[2])
if existing then return existing end
local id = tostring(redis.call('INCR', K .. 'seq'))
local rk = K .. 'row:' .. id
redis.call('HSET', rk, 'id', id, unpack(ARGV, 4))
redis.call('HSET', K .. 'keys', ARGV[2], id)
redis.call('ZADD', K .. 'created', ARGV[3], id)
redis.call('ZADD', K .. 'byid', id, id)
local ep = redis.call('HGET', rk, '_ep')
if ep then redis.call('SADD', ep, id) end
reindex(id)
return id
"""

# ARGV: K, token, now, lease seconds, limit, excluded channels... Returns the claimed ids.
_CLAIM = """
local token, now, lease, limit = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local excluded = {}
for i = 6, #ARGV do excluded[ARGV[i]] = true end
local function collect(zkey, max, out)
  local offset, taken = 0, 0
  while taken < limit do
    local ids = redis.call('ZRANGEBYSCORE', zkey, '-inf', max, 'LIMIT', offset, 200)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local f = redis.call('HMGET', K .. 'row:' .. id, 'channel', 'next_attempt_at')
      if taken < limit and not excluded[f[1]] then
        out[#out + 1] = {id, tonumber(f[2])}
        taken = taken + 1
      end
    end
    offset = offset + #ids
  end
end
local found = {}
collect(K .. 'due', ARGV[3], found)
collect(K .. 'leases', '(' .. ARGV[3], found)
table.sort(found, function(a, b)
  if a[2] ~= b[2] then return a[2] < b[2] end
  return tonumber(a[1]) < tonumber(b[1])
end)
local claimed, digests = {}, {}
local function take(id)
  local rk = K .. 'row:' .. id
  redis.call('HSET', rk, 'state', 'in_flight', 'claim_token', token, 'lease_until', num(now + lease))
  redis.call('HINCRBY', rk, 'attempts', 1)
  reindex(id)
  claimed[#claimed + 1] = id
  local digest = redis.call('HGET', rk, 'digest_id')
  if digest then digests[digest] = true end
end
for i = 1, math.min(limit, #found) do take(found[i][1]) end
for digest, _ in pairs(digests) do
  for _, id in ipairs(redis.call('SMEMBERS', K .. 'dm:' .. digest)) do
    local f = redis.call('HMGET', K .. 'row:' .. id, 'state', 'lease_until')
    if f[1] == 'pending' or (f[1] == 'in_flight' and tonumber(f[2] or '0') < now) then take(id) end
  end
end
return claimed
"""

# ARGV: K, token, json [[id, {set: {...}, del: [...], incr: {...}, group_sent: t}], ...].
# Changes only rows this claim still holds; returns how many.
_UPDATE_HELD = """
local token, done = ARGV[2], 0
for _, entry in ipairs(cjson.decode(ARGV[3])) do
  local id, spec = tostring(entry[1]), entry[2]
  local rk = K .. 'row:' .. id
  if redis.call('HGET', rk, 'claim_token') == token then
    for name, value in pairs(spec.set or {}) do redis.call('HSET', rk, name, value) end
    for name, by in pairs(spec.incr or {}) do redis.call('HINCRBY', rk, name, by) end
    for _, name in ipairs(spec.del or {}) do redis.call('HDEL', rk, name) end
    if spec.group_sent then
      local gid = redis.call('HGET', rk, '_gid')
      local last = redis.call('HGET', K .. 'gsent', gid)
      if not last or tonumber(last) < tonumber(spec.group_sent) then
        redis.call('HSET', K .. 'gsent', gid, spec.group_sent)
      end
    end
    reindex(id)
    done = done + 1
  end
end
return done
"""

# ARGV: K, token, digest unique-key field, idempotency key, payload, snapshot path ('' none),
# created_at, row ids... Returns the digest id, or false when this claim does not hold every row.
_SEAL = """
local token = ARGV[2]
for i = 8, #ARGV do
  local f = redis.call('HMGET', K .. 'row:' .. ARGV[i], 'claim_token', 'digest_id')
  if f[1] ~= token or f[2] then return false end
end
local digest = redis.call('HGET', K .. 'dkeys', ARGV[3])
if not digest then
  digest = tostring(redis.call('INCR', K .. 'dseq'))
  local dk = K .. 'digest:' .. digest
  redis.call('HSET', dk, 'idempotency_key', ARGV[4], 'payload', ARGV[5], 'created_at', ARGV[7], '_dkey', ARGV[3])
  if ARGV[6] ~= '' then redis.call('HSET', dk, 'snapshot_path', ARGV[6]) end
  redis.call('HSET', K .. 'dkeys', ARGV[3], digest)
  redis.call('SADD', K .. 'digests', digest)
end
for i = 8, #ARGV do
  redis.call('HSET', K .. 'row:' .. ARGV[i], 'digest_id', digest)
  redis.call('SADD', K .. 'dm:' .. digest, ARGV[i])
end
return digest
"""

# ARGV: K, id, now. Returns '' when requeued, else the row's state ('missing' when there is no row).
_REQUEUE = """
local id = ARGV[2]
local rk = K .. 'row:' .. id
local state = redis.call('HGET', rk, 'state')
if not state then return 'missing' end
if state ~= 'dead' then return state end
local digest = redis.call('HGET', rk, 'digest_id')
if digest then redis.call('SREM', K .. 'dm:' .. digest, id) end
redis.call('HSET', rk, 'state', 'pending', 'attempts', '0', 'next_attempt_at', ARGV[3], 'last_reason', 'requeued')
redis.call('HDEL', rk, 'digest_id')
reindex(id)
return ''
"""

# ARGV: K, before, row ids... Deletes the finished ones created before `before`; returns how many.
_PURGE_ROWS = """
local before, removed = tonumber(ARGV[2]), 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local rk = K .. 'row:' .. id
  local f = redis.call('HMGET', rk, 'state', 'created_at', '_key', '_gq', '_ep', 'digest_id')
  local finished = f[1] == 'sent' or f[1] == 'suppressed' or f[1] == 'dead'
  if finished and tonumber(f[2]) < before then
    redis.call('DEL', rk)
    redis.call('HDEL', K .. 'keys', f[3])
    redis.call('ZREM', K .. 'created', id)
    redis.call('ZREM', K .. 'byid', id)
    redis.call('ZREM', f[4], id)
    if f[5] then redis.call('SREM', f[5], id) end
    if f[6] then redis.call('SREM', K .. 'dm:' .. f[6], id) end
    removed = removed + 1
  end
end
return removed
"""

# Reads: one JSON text per call. redis-py parses replies in Python, element by element; a JSON text
# is one element, decoded in C (20,000 rows: a fraction of a second instead of several seconds).
# Each read script takes its rows from ARGV[i..] (see `ids_from`) and answers {"n": rows read, ...}.
_READ_PRELUDE = """
local function ids_from(i)
  if ARGV[i] == 'range' then  -- rows created in a score range: low, high, offset, count
    return redis.call('ZRANGEBYSCORE', K .. 'created', ARGV[i + 1], ARGV[i + 2], 'LIMIT', ARGV[i + 3], ARGV[i + 4])
  end
  local ids = {}
  for j = i + 1, #ARGV do ids[#ids + 1] = ARGV[j] end
  return ids
end
"""

# ARGV: K, rows... -> "rows": one object per row ({} for a missing row).
_GET_ROWS = """
local ids, out = ids_from(2), {}
for _, id in ipairs(ids) do
  local flat, row = redis.call('HGETALL', K .. 'row:' .. id), {}
  for j = 1, #flat, 2 do row[flat[j]] = flat[j + 1] end
  out[#out + 1] = row
end
return cjson.encode({n = #ids, rows = out})
"""

# ARGV: K, field count n, n field names, rows... -> "values": the fields of each row, flat (false: absent).
_GET_FIELDS = """
local n = tonumber(ARGV[2])
local names = {}
for i = 1, n do names[i] = ARGV[2 + i] end
local ids, out = ids_from(3 + n), {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', K .. 'row:' .. id, unpack(names))
  for j = 1, n do out[#out + 1] = f[j] end
end
return cjson.encode({n = #ids, values = out})
"""

# The ledger's inputs, summed in Redis. ARGV: K, channel ('' for none), rows... ->
# "counts": {channel: {state: [rows, failures, rows that failed]}}, "sent": [[sent_at, latency_ms]]
# for the given channel's sent rows.
_LEDGER = """
local ids, counts, sent, channel = ids_from(3), {}, {}, ARGV[2]
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', K .. 'row:' .. id, 'channel', 'state', 'failures', 'sent_at', 'latency_ms')
  if f[1] and f[2] then
    counts[f[1]] = counts[f[1]] or {}
    local entry = counts[f[1]][f[2]] or {0, 0, 0}
    local failed = tonumber(f[3] or '0')
    entry[1] = entry[1] + 1
    entry[2] = entry[2] + failed
    if failed > 0 then entry[3] = entry[3] + 1 end
    counts[f[1]][f[2]] = entry
    if f[1] == channel and f[2] == 'sent' then sent[#sent + 1] = {f[4] or '0', f[5] or false} end
  end
end
return cjson.encode({n = #ids, counts = counts, sent = sent})
"""

# ARGV: K. Deletes digests no row refers to any more.
_PURGE_DIGESTS = """
for _, digest in ipairs(redis.call('SMEMBERS', K .. 'digests')) do
  if redis.call('SCARD', K .. 'dm:' .. digest) == 0 then
    local dkey = redis.call('HGET', K .. 'digest:' .. digest, '_dkey')
    if dkey then redis.call('HDEL', K .. 'dkeys', dkey) end
    redis.call('DEL', K .. 'digest:' .. digest)
    redis.call('SREM', K .. 'digests', digest)
  end
end
return 0
"""


def _text(value: float) -> str:
    return repr(float(value))


def _pair(first: str, second: str | None) -> str:
    return json.dumps([first, second], ensure_ascii=False)


def _record(fields: dict[str, str]) -> OutboxRecord | None:
    """A transient `OutboxRecord` (attached to no session) from a row hash; None for no row."""
    if not fields:
        return None
    record: OutboxRecord = _MANAGER.new_instance()
    # Filled the way SQLAlchemy fills a loaded row (the constructor's per-attribute events cost
    # ten times more, which a report over many rows notices).
    values = instance_dict(record)
    values.update(dict.fromkeys(_CONVERT))
    values.update({name: _CONVERT[name](value) for name, value in fields.items() if name in _CONVERT})
    return record


def _spec(**values: Any) -> dict[str, Any]:
    """An update for `_UPDATE_HELD`: fields to set (as text), fields None removes."""
    spec: dict[str, Any] = {"set": {}, "del": []}
    for name, value in values.items():
        if value is None:
            spec["del"].append(name)
        else:
            spec["set"][name] = _text(value) if isinstance(value, float) else str(value)
    return spec


class RedisOutbox:
    """`Outbox` on Redis: same methods, same semantics (see the module docstring for the keys)."""

    def __init__(
        self,
        url: str,
        snapshot_dir: Path,
        key_prefix: str = "vigilo:alerts:outbox:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.snapshot_dir = snapshot_dir
        self.prefix = key_prefix
        self._clock = clock
        # Any: redis-py's stubs do not know that decode_responses=True makes every answer a str.
        self._redis: Any = redis.Redis.from_url(url, decode_responses=True)
        configure_mappers()  # `_record` fills instances without the constructor, which would do this
        self._scripts = {
            name: self._redis.register_script(_PRELUDE + body)
            for name, body in {
                "enqueue": _ENQUEUE,
                "claim": _CLAIM,
                "update_held": _UPDATE_HELD,
                "seal": _SEAL,
                "requeue": _REQUEUE,
                "purge_rows": _PURGE_ROWS,
                "purge_digests": _PURGE_DIGESTS,
                "get_rows": _READ_PRELUDE + _GET_ROWS,
                "get_fields": _READ_PRELUDE + _GET_FIELDS,
                "ledger": _READ_PRELUDE + _LEDGER,
            }.items()
        }
        self.warn_if_not_durable()

    def warn_if_not_durable(self) -> bool | None:
        """Logs a warning when Redis runs without AOF; None when Redis does not say (CONFIG refused)."""
        try:
            answer = self._redis.config_get("appendonly")
        except redis.RedisError as exc:
            log.debug("cannot read Redis appendonly setting: %s", exc)
            return None
        value = str(answer.get("appendonly", "")).lower()
        if not value:
            return None
        if value != "yes":
            log.warning(
                "alert outbox in Redis %s runs without appendonly (AOF): queued alerts are lost if Redis "
                "restarts; set `appendonly yes` (docs/alerts-delivery.md)",
                self._redis.connection_pool.connection_kwargs.get("host", "?"),
            )
            return False
        return True

    def close(self) -> None:
        self._redis.close()

    def _run(self, name: str, *args: str | int | float) -> Any:
        return self._scripts[name](args=[self.prefix, *args])

    def _key(self, *parts: object) -> str:
        return self.prefix + "".join(str(p) for p in parts)

    def _read(
        self, script: str, *head: str | int, ids: Sequence[int | str] | None = None, **window: Any
    ) -> Iterator[Any]:
        """Runs a read script over rows by id, or over the rows created in a window (`start`, `end`:
        [start, end), None: open), a chunk per call; yields each call's decoded answer."""
        if ids is not None:
            for first in range(0, len(ids), _CHUNK):
                yield json.loads(self._run(script, *head, "ids", *ids[first : first + _CHUNK]))
            return
        start, end = window.get("start"), window.get("end")
        low = "-inf" if start is None else _text(start)
        high = "+inf" if end is None else f"({_text(end)}"
        offset = 0
        while True:
            answer = json.loads(self._run(script, *head, "range", low, high, offset, _CHUNK))
            yield answer
            if answer["n"] < _CHUNK:
                return
            offset += answer["n"]

    def _records(self, answers: Iterable[Any]) -> list[OutboxRecord]:
        found = (_record(fields) for answer in answers for fields in answer["rows"] or [])
        return [row for row in found if row is not None]

    def _fetch(self, ids: Sequence[int | str]) -> list[OutboxRecord]:
        """Rows by id (missing ones skipped), in the order given."""
        return self._records(self._read("get_rows", ids=ids))

    def _fields(self, names: Sequence[str], **select: Any) -> list[list[str | None]]:
        """Some fields of rows by id (`ids=`) or created in a window (`start=`, `end=`); Nones for absent fields."""
        out: list[list[str | None]] = []
        width = len(names)
        for answer in self._read("get_fields", width, *names, **select):
            flat = [None if value is False else value for value in answer["values"] or []]
            out += [flat[i : i + width] for i in range(0, len(flat), width)]
        return out

    # -- writing -----------------------------------------------------------------------------

    def enqueue(self, row: NewRow) -> int:
        """Stores one row; a repeated (channel, idempotency key) returns the existing row's id."""
        now = self._clock()
        group = _pair(row.channel, row.group_key)
        fields: dict[str, Any] = {
            "channel": row.channel,
            "destination": row.destination,
            "idempotency_key": row.idempotency_key,
            "group_key": row.group_key,
            "episode": row.episode,
            "payload": _message_payload(row.message),
            "snapshot_path": store_snapshot(self.snapshot_dir, row.message.snapshot),
            "state": row.state,
            "attempts": 0,
            "failures": 0,
            "next_attempt_at": _text(row.due_at),
            "last_reason": row.reason,
            "created_at": _text(now),
            "_key": _pair(row.channel, row.idempotency_key),
            "_gid": group,
            "_gq": self._key("gq:", group),
            "_ep": None if row.episode is None else self._key("ep:", _pair(row.channel, row.episode)),
        }
        flat = [str(part) for name, value in fields.items() if value is not None for part in (name, value)]
        return int(self._run("enqueue", fields["_key"], fields["created_at"], *flat))

    def group_due_at(self, channel: str, group_key: str, wait: float, interval: float) -> float:
        """When a new alert of this group should go out (see `Outbox.group_due_at`)."""
        now = self._clock()
        group = _pair(channel, group_key)
        queued = self._redis.zrange(self._key("gq:", group), 0, 0, withscores=True)
        if queued:
            return max(float(queued[0][1]), now)
        last = self._redis.hget(self._key("gsent"), group)
        if last is not None and now < float(last) + interval:
            return float(last) + interval
        return now + wait

    def episode_active(self, channel: str, episode: str, since: float) -> bool:
        """An alert of this episode is queued, or was sent after `since`."""
        ids = sorted(self._redis.smembers(self._key("ep:", _pair(channel, episode))))
        for state, sent_at in self._fields(("state", "sent_at"), ids=ids):
            if state in (PENDING, IN_FLIGHT) or (state == SENT and sent_at is not None and float(sent_at) >= since):
                return True
        return False

    # -- the worker's side ---------------------------------------------------------------------

    def claim(
        self, lease_seconds: float, limit: int, exclude_channels: Sequence[str] = ()
    ) -> tuple[str, list[OutboxRecord]]:
        """Takes due rows (and rows whose lease expired) for this caller; returns its claim token."""
        token = uuid.uuid4().hex
        ids = self._run("claim", token, _text(self._clock()), _text(lease_seconds), limit, *exclude_channels)
        rows = self._fetch(sorted(int(i) for i in ids))
        return token, [row for row in rows if row.claim_token == token]

    def seal_digest(self, token: str, rows: Sequence[OutboxRecord], message: AlertMessage) -> int | None:
        """Stores `message` as the digest of `rows` and ties the rows to it atomically, before
        anything is sent. None (nothing stored) when this claim no longer holds every row."""
        snapshot = next((row.snapshot_path for row in reversed(rows) if row.snapshot_path), None)
        if message.snapshot:
            snapshot = store_snapshot(self.snapshot_dir, message.snapshot)
        digest_id = self._run(
            "seal",
            token,
            _pair(rows[0].channel, message.idempotency_key),
            message.idempotency_key,
            _digest_payload(message),
            snapshot or "",
            _text(self._clock()),
            *[row.id for row in rows],
        )
        return None if digest_id is None else int(digest_id)

    def load_digest(self, digest_id: int) -> AlertMessage | None:
        """The sealed digest message, exactly as stored (items included)."""
        fields = self._redis.hgetall(self._key("digest:", digest_id))
        if not fields:
            return None
        return digest_message(fields["payload"], fields["idempotency_key"], fields.get("snapshot_path"))

    def digest_members(self, digest_id: int) -> list[OutboxRecord]:
        """Every row of a digest, whatever its state."""
        return self._fetch(sorted(int(i) for i in self._redis.smembers(self._key("dm:", digest_id))))

    def _update_held(self, token: str, entries: Sequence[tuple[int, dict[str, Any]]]) -> int:
        """Updates rows still held by this claim, in one script; a claim that lost its lease changes nothing."""
        if not entries:
            return 0
        return int(self._run("update_held", token, json.dumps([[row_id, spec] for row_id, spec in entries])))

    def mark_sent(self, token: str, rows: Sequence[OutboxRecord], batch_key: str, code: str | None) -> int:
        """Records the rows as sent, all at once (a kill cannot leave a digest half marked)."""
        now = self._clock()
        entries = []
        for row in rows:
            spec = _spec(**sent_values(now, row.created_at, batch_key, code))
            spec["group_sent"] = _text(now)
            entries.append((row.id, spec))
        return self._update_held(token, entries)

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
        spec = _spec(**failed_values(dead, next_at, outcome, code, reason))
        spec["incr"] = {"failures": 1}
        return self._update_held(token, [(row_id, spec) for row_id in ids])

    def defer(self, token: str, ids: Sequence[int], next_at: float, reason: str) -> int:
        """Gives rows back unsent without counting an attempt (our own rate limit said wait)."""
        spec = _spec(**deferred_values(next_at, reason))
        spec["incr"] = {"attempts": -1}
        return self._update_held(token, [(row_id, spec) for row_id in ids])

    def extend_lease(self, token: str, ids: Sequence[int], until: float) -> int:
        return self._update_held(token, [(row_id, _spec(lease_until=until)) for row_id in ids])

    def load_message(self, row: OutboxRecord) -> AlertMessage:
        return row_message(row)

    # -- operators' side ------------------------------------------------------------------------

    def get(self, row_id: int) -> OutboxRecord | None:
        return _record(self._redis.hgetall(self._key("row:", row_id)))

    def rows(self, state: str | None = None, channel: str | None = None, limit: int = 50) -> list[OutboxRecord]:
        """Newest first, filtered in Python (a page of ids at a time)."""
        found: list[OutboxRecord] = []
        offset = 0
        while len(found) < limit:
            ids = self._redis.zrevrange(self._key("byid"), offset, offset + _CHUNK - 1)
            if not ids:
                break
            offset += len(ids)
            for row in self._fetch(ids):
                if (not state or row.state == state) and (not channel or row.channel == channel):
                    found.append(row)
        return found[:limit]

    def requeue(self, row_id: int) -> OutboxRecord:
        """Puts a dead letter back in the queue with a fresh attempt budget."""
        state = self._run("requeue", row_id, _text(self._clock()))
        if state:
            raise not_retryable(row_id, None if state == "missing" else state)
        fresh = self.get(row_id)
        assert fresh is not None
        return fresh

    def purge(self, before: float) -> int:
        """Deletes finished rows (sent, suppressed, dead) created before `before`, and snapshot
        files no row refers to any more. Returns how many rows went."""
        candidates = list(self._redis.zrangebyscore(self._key("created"), "-inf", f"({_text(before)}"))
        removed = 0
        for start in range(0, len(candidates), _CHUNK):
            removed += int(self._run("purge_rows", _text(before), *candidates[start : start + _CHUNK]))
        self._run("purge_digests")
        remove_unused_snapshots(self.snapshot_dir, self._snapshots_in_use(), before)
        return removed

    def _snapshots_in_use(self) -> set[str | None]:
        kept: set[str | None] = {path for (path,) in self._fields(("snapshot_path",))}
        pipe = self._redis.pipeline(transaction=False)
        for digest_id in self._redis.smembers(self._key("digests")):
            pipe.hget(self._key("digest:", digest_id), "snapshot_path")
        kept.update(pipe.execute())
        return kept

    # -- the ledger's inputs (computed here over the rows; `vigilo alerts purge` bounds them) --

    def _ledger(self, since: float | None, channel: str = "") -> Iterator[Any]:
        return self._read("ledger", channel, start=since)

    def state_counts(self, since: float | None = None) -> list[StateCount]:
        """Per channel and state, over rows created at or after `since` (all rows when None)."""
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for part in self._ledger(since):
            for channel, states in part["counts"].items():
                for state, numbers in states.items():
                    entry = totals[(channel, state)]
                    for i, value in enumerate(numbers):
                        entry[i] += int(value)
        return [StateCount(ch, st, n, failed, retried) for (ch, st), (n, failed, retried) in totals.items()]

    def sent_latencies(self, channel: str, since: float | None = None, limit: int = 1000) -> list[float]:
        """Latencies (ms) of the `limit` latest sent rows of a channel created at or after `since`."""
        sent = [(float(at), latency) for part in self._ledger(since, channel) for at, latency in part["sent"]]
        sent.sort(key=lambda item: item[0], reverse=True)
        return [float(latency) for _, latency in sent[:limit] if latency is not False]

    def rows_created(self, start: float, end: float) -> list[OutboxRecord]:
        """Every row created in [start, end) (reports)."""
        return self._records(self._read("get_rows", start=start, end=end))
