"""What of a report the no-impact equality test compares (issue #18): every figure a replay produces, without
what depends on the run (wall time, speed, the scenario file's text and parameters)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

COMPARED = ("series", "liquidations", "adl", "buffers", "keepers", "mark_to_market", "fund_flows", "published", "totals")


def report_digest(report: dict[str, Any]) -> dict[str, Any]:
    """Per compared section its sha256 (of canonical JSON), the totals in the clear, and the failed
    transactions: two reports with the same digest agree figure for figure."""
    sections = {key: hashlib.sha256(json.dumps(report[key], sort_keys=True).encode()).hexdigest() for key in COMPARED}
    return {
        "sections": sections,
        "totals": report["totals"],
        "failed_transactions": report["run"]["failed_transactions"],
        "steps": report["run"]["steps"],
    }
