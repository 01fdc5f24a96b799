"""The actions a liveness challenge asks for, their prompts, and random challenges.

Directions are the SUBJECT's own: `turn_left` means the person turns to their own left. The face analyzer
reports yaw > 0 for that in an unmirrored frame. Front cameras usually show (and often send) a mirrored
picture; the client says so when it creates the session (`mirrored: true`), and the analyzer flips those
frames before measuring, so the decision logic never deals with mirroring.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from enum import StrEnum

from vigilo.i18n import Locale


class Action(StrEnum):
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    SMILE = "smile"
    NOD = "nod"


PROMPTS: dict[Action, dict[Locale, str]] = {
    Action.TURN_LEFT: {"zh-CN": "请向左转头", "en": "Turn your head to your left"},
    Action.TURN_RIGHT: {"zh-CN": "请向右转头", "en": "Turn your head to your right"},
    Action.BLINK: {"zh-CN": "请眨眼", "en": "Blink your eyes"},
    Action.OPEN_MOUTH: {"zh-CN": "请张嘴", "en": "Open your mouth"},
    Action.SMILE: {"zh-CN": "请微笑", "en": "Smile"},
    Action.NOD: {"zh-CN": "请点头", "en": "Nod your head"},
}

DEFAULT_POOL: tuple[Action, ...] = (
    Action.TURN_LEFT,
    Action.TURN_RIGHT,
    Action.BLINK,
    Action.OPEN_MOUTH,
    Action.SMILE,
)

TURNS = frozenset({Action.TURN_LEFT, Action.TURN_RIGHT})


def prompt(action: Action | str, locale: Locale) -> str:
    texts = PROMPTS[Action(action)]
    return texts.get(locale) or texts["zh-CN"]


def parse_actions(names: Sequence[str]) -> list[Action]:
    """Validated action list; raises ValueError on unknown names or repeats."""
    actions = [Action(name) for name in names]
    if len(set(actions)) != len(actions):
        raise ValueError("an action may appear only once per challenge")
    return actions


def random_challenge(count: int, pool: Sequence[Action] = DEFAULT_POOL) -> list[Action]:
    """`count` distinct actions in a random order, from a cryptographic source."""
    unique = list(dict.fromkeys(pool))
    if not 1 <= count <= len(unique):
        raise ValueError(f"count must be between 1 and {len(unique)}")
    rng = secrets.SystemRandom()
    return rng.sample(unique, count)


def random_windows(count: int, low_ms: int, high_ms: int) -> list[int]:
    """A time window per step, drawn at random so a recording cannot know them in advance."""
    rng = secrets.SystemRandom()
    return [rng.randint(low_ms, high_ms) for _ in range(count)]
