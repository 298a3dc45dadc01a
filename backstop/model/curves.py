"""A pure-Python reference of the Dutch-auction price curves (contracts/auction/*Curve.sol and
contracts/libraries/CurveMath.sol), with the contracts' integer rounding to the last unit.

Both curves start at `top` [wad] and fall with `elapsed` [seconds]; every division rounds down.
- LinearCurve: top * (tau - elapsed) // tau, 0 once elapsed >= tau.
- StairstepExponentialCurve: top * rpow_down(cut, elapsed // step) // RAY, with `cut` [ray].
"""

from __future__ import annotations

from dataclasses import dataclass

from backstop.units import RAY

UINT256_MAX = 2**256 - 1


class TauIsZero(ValueError):
    """LinearCurve: tau must be positive."""


class CutIsZero(ValueError):
    """StairstepExponentialCurve: cut must be positive."""


class CutAboveOne(ValueError):
    """StairstepExponentialCurve: cut must be at most RAY."""


class StepIsZero(ValueError):
    """StairstepExponentialCurve: step must be positive."""


def rpow_down(x: int, n: int) -> int:
    """x**n in [ray] for x [ray] <= RAY, by squaring with every product rounded down (as CurveMath.rpowDown)."""
    if not 0 <= x <= RAY or n < 0:
        raise ValueError("rpow_down takes 0 <= x <= RAY and n >= 0")
    z = RAY
    while n:
        if n & 1:
            z = z * x // RAY
        n >>= 1
        if n:
            x = x * x // RAY
            if x == 0:
                return 0  # a bit of n is still set, so z would become 0: stop early
    return z


def linear_down(top: int, elapsed: int, tau: int) -> int:
    """top * (1 - elapsed / tau) [wad], rounded down; 0 from elapsed >= tau [seconds] on (CurveMath.linearDown)."""
    if elapsed >= tau:
        return 0
    return top * (tau - elapsed) // tau


def stairstep_down(top: int, elapsed: int, step: int, cut: int) -> int:
    """top * cut**(elapsed // step) [wad], power then product rounded down (CurveMath.stairstepDown)."""
    return top * rpow_down(cut, elapsed // step) // RAY


@dataclass(frozen=True)
class LinearCurveModel:
    """LinearCurve with `tau` [seconds] > 0."""

    tau: int

    def __post_init__(self) -> None:
        if self.tau == 0:
            raise TauIsZero()

    def price(self, top: int, elapsed: int) -> int:
        """Price [wad] `elapsed` [seconds] after a start at `top` [wad]."""
        return linear_down(top, elapsed, self.tau)


@dataclass(frozen=True)
class StairstepExponentialCurveModel:
    """StairstepExponentialCurve with `cut` [ray] in (0, RAY] and `step` [seconds] > 0."""

    cut: int
    step: int

    def __post_init__(self) -> None:
        if self.cut == 0:
            raise CutIsZero()
        if self.cut > RAY:
            raise CutAboveOne(self.cut)
        if self.step == 0:
            raise StepIsZero()

    def price(self, top: int, elapsed: int) -> int:
        """Price [wad] `elapsed` [seconds] after a start at `top` [wad]."""
        return stairstep_down(top, elapsed, self.step, self.cut)
