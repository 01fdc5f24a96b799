"""Liveness outcomes for statistics: one row per finished session (passed, failed, expired, cancelled) in
the event database, written once however often the session is read again; summarised per day for the
dashboard's liveness page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from tests.dashboard.conftest import PASSWORD, login, settings_for
from tests.liveness.session_fixtures import Clock, noise_frame
from tests.liveness.test_end_to_end import clip_frames, drive, jpeg
from vigilo.api.app import create_app
from vigilo.config.liveness import LivenessConfig
from vigilo.liveness.outcomes import Outcome, OutcomeStore
from vigilo.liveness.service import LivenessService
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.liveness.store import MemoryStore


def test_every_finished_session_is_recorded_once(clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    outcomes = OutcomeStore(f"sqlite:///{tmp_path / 'vigilo.db'}", clock=clock)
    config = LivenessConfig.model_validate({"api_keys": ["k"], "session_ttl_s": 60})
    service = LivenessService(config, MemoryStore(clock), analyzer, data_dir=tmp_path, clock=clock, outcomes=outcomes)

    passing = service.create(user_ref="zju-1", actions=["blink"])
    assert drive(service, clock, passing.session_id, passing.nonce, [jpeg(f) for f in clip_frames("1")])[-1].passed
    cancelled = service.create(user_ref="u-2", actions=["smile"])
    service.submit_frame(cancelled.session_id, noise_frame(1), seq=1, captured_at=clock.ms, nonce=cancelled.nonce)
    service.cancel(cancelled.session_id, trusted=True)
    expired = service.create(user_ref="u-3", actions=["turn_left"])
    clock.advance(61)
    for _ in range(3):  # reading a finished session again does not record it again
        service.get(expired.session_id, trusted=True)
        service.get(passing.session_id, trusted=True)
    service.cancel(cancelled.session_id, trusted=True)

    rows = {o.session_id: o for o in outcomes.recent(0)}
    assert len(rows) == 3
    assert (rows[passing.session_id].status, rows[passing.session_id].reasons) == ("passed", [])
    assert rows[passing.session_id].user_ref == "zju-1" and rows[passing.session_id].actions == ["blink"]
    assert rows[passing.session_id].frames > 5
    assert (rows[cancelled.session_id].status, rows[cancelled.session_id].reasons) == ("cancelled", ["cancelled"])
    assert (rows[expired.session_id].status, rows[expired.session_id].reasons) == ("expired", ["session_expired"])
    (today,) = outcomes.daily(1, dt.UTC)
    assert (today.sessions, today.passed, today.pass_rate) == (3, 1, 1 / 3)
    assert dict(outcomes.reasons(0)) == {"cancelled": 1, "session_expired": 1}


def test_the_dashboard_shows_sessions_per_day_pass_rate_and_reasons(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    app = create_app(settings)
    outcomes = app.state.services.liveness.outcomes
    now = dt.datetime.now().astimezone()
    yesterday = (now - dt.timedelta(days=1)).timestamp()
    for index, (status, reasons, when) in enumerate(
        [
            ("passed", [], now.timestamp()),
            ("passed", [], now.timestamp()),
            ("failed", ["step_timeout:blink"], now.timestamp()),
            ("failed", ["wrong_direction"], yesterday),
        ]
    ):
        outcomes.record(Outcome(f"s-{index}", None, status, reasons, ["blink"], 12, when - 20, when))
    client = TestClient(app, client=("203.0.113.7", 50000), follow_redirects=False)
    assert client.get("/dashboard/liveness").status_code == 303  # the login comes first
    login(client, PASSWORD)
    page = client.get("/dashboard/liveness")
    assert page.status_code == 200, page.text
    html = page.text
    assert "合计 4" in html and "通过率 50%" in html
    assert (
        f'<tr data-day="{now.date().isoformat()}"><td>{now.date().isoformat()}</td><td>3</td><td>2</td><td>1</td>'
        in html
    )
    assert "<code>step_timeout</code></td><td>1</td>" in html and "<code>wrong_direction</code></td><td>1</td>" in html
    assert "Pass rate" in client.get("/dashboard/liveness?lang=en").text
