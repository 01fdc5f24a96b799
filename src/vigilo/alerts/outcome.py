"""What one delivery attempt came to, and the one table per platform that decides it.

Every IM platform answers business failures with HTTP 200 and a non-zero code in the JSON
body, so a delivery counts as SENT only when that code says so. The tables below are the
only place where platform codes are mapped onto outcomes (source: the protocol reference,
section 7.1). A code that is in no table is treated as RETRY: a transient failure read as
permanent loses an alert, while a permanent one read as transient only costs a few attempts
before the outbox dead-letters it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # transient: try again with backoff
    REFRESH_TOKEN = "refresh_token"  # credential went stale; the channel has already dropped it
    RATE_LIMITED = "rate_limited"  # wait `retry_after` seconds before the next send to this destination
    PERMANENT = "permanent"  # configuration or content problem: retrying will not help


@dataclass
class DeliveryResult:
    outcome: Outcome
    platform_code: int | str | None = None
    reason: str = ""  # plain English for operators; never carries a secret
    retry_after: float | None = None  # seconds
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SENT


@dataclass(frozen=True)
class CodeRule:
    outcome: Outcome
    meaning: str
    retry_after: float | None = None


_R, _T, _L, _P = Outcome.RETRY, Outcome.REFRESH_TOKEN, Outcome.RATE_LIMITED, Outcome.PERMANENT

# WeCom blocks a caller for 60 s after a minute-level frequency limit (protocol ref. 1.4).
WECOM_BLOCK_S = 60.0
# DingTalk throttles a robot for 10 minutes once it sends more than 20 messages a minute (3.4).
DINGTALK_BLOCK_S = 600.0
# Feishu: 5/s and 100/min per bot; which one was hit is not said, so wait out the minute.
FEISHU_BLOCK_S = 60.0

WECOM_APP: Mapping[int, CodeRule] = {
    -1: CodeRule(_R, "WeCom is busy"),
    40001: CodeRule(_T, "access token rejected (invalid credential)"),
    40014: CodeRule(_T, "access token invalid"),
    42001: CodeRule(_T, "access token expired"),
    41001: CodeRule(_T, "access token missing"),
    45009: CodeRule(_L, "API frequency limit reached", WECOM_BLOCK_S),
    45033: CodeRule(_L, "too many concurrent calls", 5.0),
    40013: CodeRule(_P, "invalid corp id"),
    40091: CodeRule(_P, "invalid app secret"),
    48002: CodeRule(_P, "API not allowed for this app"),
    40056: CodeRule(_P, "invalid agent id"),
    60020: CodeRule(_P, "caller IP is not in the app's trusted IP list"),
    81013: CodeRule(_P, "every recipient (user, department, tag) is invalid"),
    82001: CodeRule(_P, "every recipient (user, department, tag) is invalid"),
    40003: CodeRule(_P, "invalid user id"),
    40007: CodeRule(_P, "invalid media id"),
    40008: CodeRule(_P, "invalid message type"),
    40031: CodeRule(_P, "invalid user list"),
    40032: CodeRule(_P, "user list too long"),
    40035: CodeRule(_P, "invalid parameter"),
    40063: CodeRule(_P, "a required parameter is empty"),
    44004: CodeRule(_P, "empty text content"),
    45002: CodeRule(_P, "content too long"),
    50002: CodeRule(_P, "recipient outside the app's visible range"),
    40004: CodeRule(_P, "invalid media type"),
    40005: CodeRule(_P, "invalid upload type"),
    40006: CodeRule(_P, "invalid file size"),
    40009: CodeRule(_P, "invalid image size"),
    44001: CodeRule(_P, "empty media"),
    45001: CodeRule(_P, "media too large"),
}

# `gettoken` itself: a rejected secret there is a configuration error, not a stale token.
WECOM_GETTOKEN: Mapping[int, CodeRule] = {
    **WECOM_APP,
    40001: CodeRule(_P, "app secret rejected (invalid credential)"),
    40014: CodeRule(_P, "app secret rejected"),
}

WECOM_BOT: Mapping[int, CodeRule] = {
    -1: CodeRule(_R, "WeCom is busy"),
    45009: CodeRule(_L, "robot limit of 20 messages a minute reached", WECOM_BLOCK_S),
    93000: CodeRule(_P, "invalid webhook key (robot removed or key wrong)"),
    40008: CodeRule(_P, "invalid message type"),
    44004: CodeRule(_P, "empty text content"),
    45002: CodeRule(_P, "content too long"),
    40009: CodeRule(_P, "image too large"),
    40035: CodeRule(_P, "invalid parameter"),
}

DINGTALK: Mapping[int, CodeRule] = {
    -1: CodeRule(_R, "DingTalk is busy"),
    410100: CodeRule(_L, "robot throttled for sending too fast (blocked 10 minutes)", DINGTALK_BLOCK_S),
    130101: CodeRule(_L, "robot throttled: more than 20 messages a minute", DINGTALK_BLOCK_S),
    90030: CodeRule(_L, "webhook call quota used up", 3600.0),
    310000: CodeRule(_P, "security check failed (signature, timestamp, keyword or IP allowlist)"),
    300005: CodeRule(_P, "robot access token does not exist"),
    300001: CodeRule(_P, "robot access token does not exist or bad parameter"),
    40035: CodeRule(_P, "access token missing"),
    43002: CodeRule(_P, "POST required"),
    400013: CodeRule(_P, "group has been disbanded"),
    400101: CodeRule(_P, "robot access token does not exist"),
    400102: CodeRule(_P, "robot is disabled"),
    400105: CodeRule(_P, "unsupported message type"),
    400106: CodeRule(_P, "robot does not exist or is not in the group"),
    430101: CodeRule(_P, "content contains an unsafe link"),
    430102: CodeRule(_P, "content contains inappropriate text"),
    430103: CodeRule(_P, "content contains an inappropriate image"),
    430104: CodeRule(_P, "content is inappropriate"),
}

FEISHU: Mapping[int, CodeRule] = {
    11232: CodeRule(_L, "bot frequency limit reached (5/s, 100/min)", FEISHU_BLOCK_S),
    19001: CodeRule(_P, "invalid webhook token (bot removed or token wrong)"),
    19021: CodeRule(_P, "signature mismatch or timestamp more than an hour off (check secret and clock)"),
    19022: CodeRule(_P, "caller IP not allowed"),
    19024: CodeRule(_P, "required keyword not found in message"),
    9499: CodeRule(_P, "bad request (malformed body or over 20 KB)"),
}

TABLES: Mapping[str, Mapping[int, CodeRule]] = {
    "wecom": WECOM_APP,
    "wecom_gettoken": WECOM_GETTOKEN,
    "wecom_bot": WECOM_BOT,
    "dingtalk": DINGTALK,
    "feishu": FEISHU,
}


def classify_code(
    table: str,
    code: int,
    *,
    http_status: int | None = None,
    platform_message: str = "",
    retry_after: float | None = None,
) -> DeliveryResult:
    """The result for a body code from `table`; 0 is SENT, anything else a failure.

    `platform_message` (the platform's errmsg/msg) is appended for operators; callers must have
    scrubbed it of secrets. `retry_after` overrides the table's wait when the platform said one.
    """
    if code == 0:
        return DeliveryResult(Outcome.SENT, 0, "ok", None, http_status)
    rule = TABLES[table].get(code)
    if rule is None:
        outcome, meaning, wait = Outcome.RETRY, "unrecognised error code", None
    else:
        outcome, meaning, wait = rule.outcome, rule.meaning, rule.retry_after
    if http_status == 429:
        # Some gateways answer 429 with a body code of their own (Feishu 9499 is reported so).
        outcome, wait = Outcome.RATE_LIMITED, wait or 60.0
    if retry_after is not None and outcome is Outcome.RATE_LIMITED:
        wait = max(retry_after, 0.0)
    reason = f"{meaning} (code {code})"
    if platform_message:
        reason += f": {platform_message[:300]}"
    return DeliveryResult(outcome, code, reason, wait if outcome is Outcome.RATE_LIMITED else None, http_status)


def classify_http_status(status: int, retry_after: float | None = None) -> DeliveryResult | None:
    """Outcome from the HTTP status alone, or None when the status is a success (2xx)."""
    if 200 <= status < 300:
        return None
    if status == 429:
        return DeliveryResult(Outcome.RATE_LIMITED, None, "HTTP 429 Too Many Requests", retry_after or 60.0, status)
    if status >= 500 or status == 408:
        return DeliveryResult(Outcome.RETRY, None, f"HTTP {status} from the server", None, status)
    if status in (401, 403):
        return DeliveryResult(Outcome.PERMANENT, None, f"HTTP {status}: credentials rejected", None, status)
    return DeliveryResult(Outcome.PERMANENT, None, f"HTTP {status} from the server", None, status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (HTTP dates are ignored)."""
    if not value:
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return None
