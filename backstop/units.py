"""Units shared by the contracts and the Python tooling (see contracts/libraries/FixedPointMath.sol).

- usdc: integer USDC amounts with 6 decimals.
- wad: integer 18-decimal fixed point (prices in USD per base unit, sizes in base units).
- bps: basis points, 10_000 = 100%.
"""

from __future__ import annotations

from decimal import Decimal

WAD = 10**18
RAY = 10**27
BPS = 10_000
USDC = 10**6
USDC_TO_WAD = 10**12
NOTIONAL_SCALE = WAD * USDC_TO_WAD


def mul_div_down(x: int, y: int, d: int) -> int:
    """floor(x * y / d) for non-negative integers, as OpenZeppelin's Math.mulDiv."""
    if x < 0 or y < 0 or d <= 0:
        raise ValueError("mul_div_down takes non-negative x, y and positive d")
    return x * y // d


def mul_div_up(x: int, y: int, d: int) -> int:
    """ceil(x * y / d) for non-negative integers, as Math.mulDiv(..., Rounding.Ceil)."""
    if x < 0 or y < 0 or d <= 0:
        raise ValueError("mul_div_up takes non-negative x, y and positive d")
    return -(-x * y // d)


def notional_down(size: int, price: int) -> int:
    """Notional [usdc] of |size| [wad] at price [wad], rounded down."""
    return mul_div_down(abs(size), price, NOTIONAL_SCALE)


def notional_up(size: int, price: int) -> int:
    """Notional [usdc] of |size| [wad] at price [wad], rounded up."""
    return mul_div_up(abs(size), price, NOTIONAL_SCALE)


def bps_down(amount: int, rate_bps: int) -> int:
    return mul_div_down(amount, rate_bps, BPS)


def bps_up(amount: int, rate_bps: int) -> int:
    return mul_div_up(amount, rate_bps, BPS)


def to_usdc(amount: float | int | str | Decimal) -> int:
    """Dollars to [usdc] units, exact for decimal strings: to_usdc("1.5") == 1_500_000."""
    return int((Decimal(str(amount)) * USDC).to_integral_value())


def to_wad(amount: float | int | str | Decimal) -> int:
    """A decimal number to [wad]: to_wad("6.02") == 6_020_000_000_000_000_000."""
    return int((Decimal(str(amount)) * WAD).to_integral_value())


def from_usdc(units: int) -> Decimal:
    return Decimal(units) / USDC


def from_wad(units: int) -> Decimal:
    return Decimal(units) / WAD


def market_id(name: str) -> bytes:
    """A market's bytes32 id from its name ("OM-USD"), right-padded with zeros as Solidity's bytes32("OM-USD")."""
    raw = name.encode("ascii")
    if not raw or len(raw) > 32:
        raise ValueError(f"market name must be 1-32 ASCII characters, got {name!r}")
    return raw.ljust(32, b"\0")


def market_name(market: bytes) -> str:
    return bytes(market).rstrip(b"\0").decode("ascii")
