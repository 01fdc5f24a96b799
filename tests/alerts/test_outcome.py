"""The classification tables and message helpers (pure functions, no server needed)."""

from __future__ import annotations

import pytest

from vigilo.alerts.channels.base import truncate_utf8
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import TABLES, Outcome, classify_code, classify_http_status, parse_retry_after


@pytest.mark.parametrize(
    ("table", "code", "outcome", "wait"),
    [
        ("wecom", 0, Outcome.SENT, None),
        ("wecom", -1, Outcome.RETRY, None),
        ("wecom", 45033, Outcome.RATE_LIMITED, 5.0),
        ("wecom", 40001, Outcome.REFRESH_TOKEN, None),
        ("wecom", 40014, Outcome.REFRESH_TOKEN, None),
        ("wecom", 42001, Outcome.REFRESH_TOKEN, None),
        ("wecom_gettoken", 40001, Outcome.PERMANENT, None),
        ("wecom", 60020, Outcome.PERMANENT, None),
        ("wecom_bot", 93000, Outcome.PERMANENT, None),
        ("wecom_bot", 45009, Outcome.RATE_LIMITED, 60.0),
        ("dingtalk", 310000, Outcome.PERMANENT, None),
        ("dingtalk", 300005, Outcome.PERMANENT, None),
        ("dingtalk", 410100, Outcome.RATE_LIMITED, 600.0),
        ("dingtalk", 130101, Outcome.RATE_LIMITED, 600.0),
        ("feishu", 11232, Outcome.RATE_LIMITED, 60.0),
        ("feishu", 19021, Outcome.PERMANENT, None),
        ("feishu", 123456, Outcome.RETRY, None),
    ],
)
def test_table(table: str, code: int, outcome: Outcome, wait: float | None) -> None:
    result = classify_code(table, code)
    assert (result.outcome, result.retry_after, result.platform_code) == (outcome, wait, code)
    assert result.reason


def test_every_rate_limit_rule_has_a_wait_and_only_those() -> None:
    for table in TABLES.values():
        for rule in table.values():
            assert (rule.retry_after is not None) == (rule.outcome is Outcome.RATE_LIMITED)


def test_platform_wait_overrides_and_429_forces_rate_limited() -> None:
    assert classify_code("dingtalk", 410100, retry_after=30).retry_after == 30
    result = classify_code("feishu", 9499, http_status=429)
    assert result.outcome is Outcome.RATE_LIMITED and result.retry_after == 60.0


def test_http_status_alone() -> None:
    assert classify_http_status(204) is None
    assert classify_http_status(503).outcome is Outcome.RETRY  # type: ignore[union-attr]
    assert classify_http_status(401).outcome is Outcome.PERMANENT  # type: ignore[union-attr]
    assert classify_http_status(429, 5).retry_after == 5  # type: ignore[union-attr]
    assert parse_retry_after("12") == 12.0 and parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_utf8_truncation_never_splits_a_character() -> None:
    cut = truncate_utf8("手机" * 100, 50)
    assert len(cut.encode()) <= 50 and cut.endswith("…")
    cut.encode().decode()  # valid UTF-8
    assert truncate_utf8("short", 50) == "short"


def test_mentions_split_into_mobiles_and_user_ids() -> None:
    message = AlertMessage("t", "b", mentions=["13800000000", "+8613900000000", "zhangsan", "ou_123", "12345"])
    assert message.mention_mobiles == ["13800000000", "13900000000"]
    assert message.mention_user_ids == ["zhangsan", "ou_123", "12345"]
