"""What an actor of the replay decides to do at one second (a keeper, a trader, a standing bidder): a named
action and how to send it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Intent", "send_all"]


@dataclass
class Intent:
    """One action a keeper (or trader) decides on: `key` names it (the same decision at another second has the
    same key)."""

    key: tuple
    keeper: Any  # the backstop.replay.state.KeeperState that acts; None: a trader's (backstop.replay.traders)
    send: Callable[[], None]


def send_all(intents: list[Intent]) -> list[Intent]:
    """Sends every intent in order; returns them (what an actor group's `act` returns)."""
    for intent in intents:
        intent.send()
    return intents
