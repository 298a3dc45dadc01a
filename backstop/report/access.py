"""Tolerant reads of a report that may be partial or malformed: a wrong type reads as empty or as a gap.

The Markdown, the charts and the series views read reports through these, so that a missing section or a
mistyped value renders as "none"/"n/a" (and is listed by ``validate_report``) instead of raising.
"""

from __future__ import annotations

import math
from typing import Any


def as_dict(value: Any) -> dict:
    """`value` if it is a dict, else {}."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """`value` if it is a list, else []."""
    return value if isinstance(value, list) else []


def as_number(value: Any) -> float | None:
    """A finite number as float, anything else (bool, None, NaN, text) as None: a gap."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def as_int(value: Any, default: int = 0) -> int:
    """`value` if it is an int (not a bool), else `default`."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default
