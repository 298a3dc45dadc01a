"""The lab's foreseeable errors: bad input to a `Lab` call, and a broken USDC conservation law."""

from __future__ import annotations

from backstop.errors import BackstopError


class LabError(BackstopError):
    """A `Lab` call that cannot be made as asked (unknown market, missing key, no ADL trigger, ...)."""


class ConservationError(LabError, AssertionError):
    """USDC held by a contract differs from what the ledger says it owes. An AssertionError too, so that a
    failing check reads as a failed assertion in a test."""
