"""Session stores: the same contract in memory and in a real redis-server, atomic under threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.liveness.session_fixtures import Clock, make_service, noise_frame
from vigilo.api.errors import ApiError
from vigilo.liveness.session import CreatedSession
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.liveness.store import MemoryStore, RedisStore, Remember, Remembered, SessionStore, build_store


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[SessionStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_url")
    redis_store = RedisStore(url)
    redis_store._redis.flushdb()
    yield redis_store
    redis_store.close()


def test_create_get_update_delete(store: SessionStore) -> None:
    store.create("s1", {"n": 1, "items": []}, ttl_s=30)
    assert store.get("s1") == {"n": 1, "items": []}

    def change(record: dict[str, object]) -> str:
        record["n"] = 2
        return "ok"

    saved, result = store.update("s1", change, ttl_s=30)
    assert result == "ok" and saved == {"n": 2, "items": []} and store.get("s1") == saved
    assert store.update("missing", change, ttl_s=30) == (None, None)
    store.delete("s1")
    assert store.get("s1") is None


def test_a_failing_update_writes_nothing(store: SessionStore) -> None:
    store.create("s1", {"n": 1}, ttl_s=30)

    def change(record: dict[str, object]) -> None:
        record["n"] = 99
        raise ApiError(409, "liveness_seq_not_increasing")

    with pytest.raises(ApiError):
        store.update("s1", change, ttl_s=30)
    assert store.get("s1") == {"n": 1}


def test_records_expire(store: SessionStore) -> None:
    store.create("short", {"n": 1}, ttl_s=0.2)
    store.set_alias("alias", "short", ttl_s=0.2)
    assert store.get("short") is not None and store.get_alias("alias") == "short"
    time.sleep(0.3)
    assert store.get("short") is None and store.get_alias("alias") is None


def test_failure_windows_slide(store: SessionStore) -> None:
    now = 1000.0
    counts = [store.add_failure("user:x", now + i, window_s=180) for i in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    assert store.count_failures("user:x", now + 10, 180) == 5
    assert store.count_failures("user:x", now + 182, 180) == 2  # those at +3 and +4 s
    assert store.count_failures("user:y", now, 180) == 0


def test_memory_of_frames(store: SessionStore) -> None:
    store.remember("frames", ["a", "b"], now=100.0, ttl_s=60)
    store.remember("frames", ["c"], now=150.0, ttl_s=60)
    assert store.seen("frames", ["a", "c", "z"], now=120.0) == {"a", "c"}
    assert store.seen("frames", ["a", "c"], now=170.0) == {"c"}
    assert store.recall("frames", now=170.0) == {"c"}
    store.remember("capped", [str(i) for i in range(10)], now=100.0, ttl_s=60, limit=4)
    capped = store.recall("capped", now=100.0)
    assert 1 <= len(capped) <= 4 and "9" in capped and "0" not in capped


def test_concurrent_updates_are_atomic(store: SessionStore) -> None:
    """Eight threads increment one record 25 times each; no increment may be lost."""
    store.create("counter", {"n": 0, "log": []}, ttl_s=60)

    def bump(worker: int) -> None:
        for i in range(25):

            def change(record: dict[str, list[str] | int], i: int = i) -> None:
                value = record["n"]
                assert isinstance(value, int)
                time.sleep(0.0005)  # widen the race window
                record["n"] = value + 1
                log = record["log"]
                assert isinstance(log, list)
                log.append(f"{worker}:{i}")

            store.update("counter", change, ttl_s=60)

    threads = [threading.Thread(target=bump, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.get("counter")
    assert final is not None and final["n"] == 200 and len(set(final["log"])) == 200


def test_build_store_picks_by_url(redis_url: str) -> None:
    assert isinstance(build_store(None), MemoryStore)
    redis_store = build_store(redis_url)
    assert isinstance(redis_store, RedisStore)
    redis_store.close()


def test_concurrent_frames_to_one_session_in_redis(
    clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path, redis_url: str
) -> None:
    """Frames of one session sent from several threads at once: every accepted frame is counted once,
    the stored seq is the highest accepted one, and refusals are only ordering refusals."""
    service = make_service(clock, analyzer, tmp_path, store=RedisStore(redis_url))
    created = service.create()
    base_ms = clock.ms
    clock.advance(3.0)  # frames below were captured over the last 3 s, 40 ms apart

    def submit(seq: int) -> str:
        try:
            service.submit_frame(
                created.session_id,
                noise_frame(10_000 + seq),
                seq=seq,
                captured_at=base_ms + 40.0 * seq,
                nonce=created.nonce,
            )
            return "ok"
        except ApiError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(submit, range(1, 41)))
    accepted = outcomes.count("ok")
    assert accepted >= 1
    assert set(outcomes) <= {"ok", "liveness_seq_not_increasing", "liveness_time_not_increasing"}
    record = service.store.get(created.session_id)
    assert record is not None
    assert record["frames"] == accepted == len(record["shas"]) == len(set(record["shas"]))
    accepted_seqs = [seq for seq, outcome in zip(range(1, 41), outcomes, strict=True) if outcome == "ok"]
    assert record["last_seq"] == max(accepted_seqs)
    assert service.get(created.session_id, nonce=created.nonce).frames == accepted
    service.store.close()


def _bump(record: dict[str, object]) -> int:
    value = record["n"]
    assert isinstance(value, int)
    record["n"] = value + 1
    return value + 1


def test_read_gathers_the_session_failure_counts_and_remembered_strings(store: SessionStore) -> None:
    store.create("s1", {"n": 1}, ttl_s=30)
    store.add_failure("ip:a", 100.0, window_s=60)
    store.add_failure("ip:a", 101.0, window_s=60)
    store.remember("frames", ["x"], now=100.0, ttl_s=60)
    found = store.read(
        "s1", failure_keys=["ip:a", "ip:b"], window_s=60, namespace="frames", items=["x", "y"], now=110.0
    )
    assert found.snapshot is not None and found.snapshot.record == {"n": 1}
    assert found.failures == (2, 0) and found.seen == {"x"}
    later = store.read("missing", failure_keys=["ip:a"], window_s=60, namespace="frames", items=["x"], now=170.0)
    assert later.snapshot is None and later.failures == (0,) and later.seen == frozenset()


def test_an_update_from_a_stale_read_sees_the_latest_state(store: SessionStore) -> None:
    store.create("s1", {"n": 0}, ttl_s=30)
    stale = store.read("s1").snapshot
    assert stale is not None
    store.update("s1", _bump, ttl_s=30)  # someone else writes after our read
    saved, result = store.update("s1", _bump, ttl_s=30, base=stale)
    assert result == 2 and saved == {"n": 2} and store.get("s1") == {"n": 2}
    fresh = store.read("s1").snapshot
    assert fresh is not None
    assert store.update("s1", _bump, ttl_s=30, base=fresh)[1] == 3
    store.delete("s1")
    assert store.update("s1", _bump, ttl_s=30, base=fresh) == (None, None)
    assert store.get("s1") is None


def test_an_update_remembers_with_its_write_and_refuses_what_is_remembered(store: SessionStore) -> None:
    store.create("a", {"n": 0}, ttl_s=30)
    store.create("b", {"n": 0}, ttl_s=30)
    read_b = store.read("b", namespace="frames", items=["x"], now=100.0)
    assert read_b.seen == frozenset()  # b looked before a took the frame...
    store.update("a", _bump, ttl_s=30, remember=Remember("frames", ("x",), now=100.0, ttl_s=60))
    assert store.seen("frames", ["x"], now=101.0) == {"x"}
    with pytest.raises(Remembered) as refused:  # ...and still cannot write it after a did
        store.update("b", _bump, ttl_s=30, base=read_b.snapshot, remember=Remember("frames", ("x",), 101.0, 60))
    assert refused.value.item == "x" and store.get("b") == {"n": 0}
    # Once forgotten (60 s later), the same string goes through and is remembered again.
    store.update("b", _bump, ttl_s=30, remember=Remember("frames", ("x",), now=161.0, ttl_s=60))
    assert store.get("b") == {"n": 1} and store.seen("frames", ["x"], now=200.0) == {"x"}


@pytest.fixture(params=["memory", "redis"])
def frame_store(request: pytest.FixtureRequest, clock: Clock) -> Iterator[SessionStore]:
    """A store for a service driven by the test's clock: memory expiry follows that clock."""
    if request.param == "memory":
        yield MemoryStore(clock)
        return
    redis_store = RedisStore(request.getfixturevalue("redis_url"))
    redis_store._redis.flushdb()
    yield redis_store
    redis_store.close()


def test_the_same_bytes_sent_to_two_sessions_at_once_are_accepted_once(
    frame_store: SessionStore, clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    """Both frames may pass the replay lookup of their read; only one may pass the atomic update."""
    service = make_service(clock, analyzer, tmp_path, store=frame_store)
    clock.advance(1.0)
    for round_ in range(8):
        sessions = [service.create() for _ in range(2)]
        data = noise_frame(50_000 + round_)
        gate = threading.Barrier(2)

        def submit(created: CreatedSession, data: bytes = data, gate: threading.Barrier = gate) -> str:
            gate.wait()
            try:
                service.submit_frame(created.session_id, data, seq=1, captured_at=clock.ms, nonce=created.nonce)
            except ApiError as exc:
                return exc.code
            return "ok"

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = sorted(pool.map(submit, sessions))
        assert outcomes == ["liveness_replayed_frame", "ok"], outcomes
        assert sorted(service.get(s.session_id, trusted=True).frames for s in sessions) == [0, 1]


def test_an_accepted_frame_costs_two_redis_round_trips(
    clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path, redis_url: str
) -> None:
    """Counted at the client on a real redis-server: one request sent is one round trip. The frame is
    really stored and its hash really remembered, so the count cannot drop by skipping work."""
    import redis

    class Counting(redis.connection.Connection):
        sent = 0

        def send_packed_command(self, command: object, check_health: bool = True) -> None:
            Counting.sent += 1
            super().send_packed_command(command, check_health)

    store = RedisStore(redis_url)
    store._redis.connection_pool.connection_class = Counting
    service = make_service(clock, analyzer, tmp_path, store=store)
    created = service.create()
    frames = [noise_frame(60_000 + i) for i in range(8)]
    for seq, data in enumerate(frames[:2], start=1):  # warm-up: connection handshake, script load
        clock.advance(0.1)
        service.submit_frame(
            created.session_id, data, seq=seq, captured_at=clock.ms, nonce=created.nonce, ip="10.2.0.1"
        )
    before = Counting.sent
    for seq, data in enumerate(frames[2:], start=3):
        clock.advance(0.1)
        service.submit_frame(
            created.session_id, data, seq=seq, captured_at=clock.ms, nonce=created.nonce, ip="10.2.0.1"
        )
    round_trips = (Counting.sent - before) / len(frames[2:])
    assert round_trips <= 2, round_trips
    record = store.get(created.session_id)
    assert record is not None and record["frames"] == len(frames) and record["last_seq"] == len(frames)
    assert store.seen("frames", record["shas"], clock.now) == set(record["shas"])
    store.close()
