"""Text of a report: numbers, amounts, prices and times as report.md shows them, and Markdown tables.

Every formatter takes any value and returns "n/a" for a missing or non-numeric one, never raising. The
studies (compare, size-fund) use the same formatters and `table` for their own Markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from backstop.model.fund import DRAWDOWN_FROM_PEAK, FAST_DROP, GLOBAL_DEPLETED
from backstop.report.access import as_int, as_number

__all__ = [
    "FUND_RISK_WORDS",
    "cell",
    "fmt_as",
    "fmt_count",
    "fmt_num",
    "fmt_pct",
    "fmt_price",
    "fmt_t",
    "fmt_usd",
    "fund_risk_words",
    "short_account",
    "table",
]

# fund_risk bit flags (InsuranceFund.fundRisk(market)) in words
FUND_RISK_WORDS: tuple[tuple[int, str], ...] = (
    (DRAWDOWN_FROM_PEAK, "drawdown from 8h peak"),
    (FAST_DROP, "fast drop"),
    (GLOBAL_DEPLETED, "global depleted"),
)


def fmt_usd(value: Any) -> str:
    """$1,234.56 (cents), -$12.00; "n/a" for a missing value."""
    x = as_number(value)
    if x is None:
        return "n/a"
    if round(x, 2) == 0:
        x = 0.0
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def fmt_count(value: Any) -> str:
    """1,234; "n/a" for a missing value."""
    x = as_number(value)
    return "n/a" if x is None else f"{round(x):,}"


def fmt_pct(value: Any) -> str:
    """12.34% for a value already in percent."""
    x = as_number(value)
    return "n/a" if x is None else f"{x:.2f}%"


def fmt_num(value: Any, decimals: int = 2) -> str:
    """1,234.57 with `decimals` decimals; "n/a" for a missing value."""
    x = as_number(value)
    return "n/a" if x is None else f"{x:,.{decimals}f}"


def fmt_price(value: Any) -> str:
    """Prices keep 6 significant digits below $1 (OM at $0.4123) and 4 decimals above."""
    x = as_number(value)
    if x is None:
        return "n/a"
    if abs(x) >= 1 or x == 0:
        return f"{x:,.4f}"
    return f"{x:.6g}" if abs(x) >= 1e-4 else f"{x:.4e}"


def fmt_t(t: Any) -> str:
    """Seconds since start as +H:MM:SS (hours may exceed 24)."""
    s = as_int(t, -1)
    if s < 0:
        return "n/a"
    return f"+{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


FORMATTERS: dict[str, Callable[[Any], str]] = {"usd": fmt_usd, "int": fmt_count, "pct": fmt_pct}


def fmt_as(kind: str, value: Any) -> str:
    """`value` formatted by kind: "usd" (fmt_usd), "int" (fmt_count), "pct" (fmt_pct), else fmt_num."""
    return FORMATTERS.get(kind, fmt_num)(value)


def fund_risk_words(flags: Any) -> str:
    """fund_risk bits in words: 3 -> "drawdown from 8h peak, fast drop"; 0 -> "none"."""
    bits = as_int(flags, 0)
    if bits <= 0:
        return "none"
    words = [word for bit, word in FUND_RISK_WORDS if bits & bit]
    unknown = bits & ~sum(bit for bit, _ in FUND_RISK_WORDS)
    if unknown:
        words.append(f"unknown bits {unknown}")
    return ", ".join(words)


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, never empty."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|") or " "


def short_account(who: Any) -> str:
    """0x-addresses shortened to 0x1234…abcd; labels kept."""
    text = str(who) if who is not None else "n/a"
    if text.startswith("0x") and len(text) == 42:
        return f"{text[:6]}…{text[-4:]}"
    return text


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]], align: str | None = None) -> list[str]:
    """The lines of a Markdown table; `align` has one letter per column, l or r (default: all l)."""
    align = align or "l" * len(header)
    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |")
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return lines
