"""What two reports of the same scenario must share to agree figure for figure: every figure a replay
produces, without what depends on the run (wall time, speed, the node, the scenario file's text). The
no-impact equality test (issue #18), the embedded-EVM equality test and the backends benchmark (issue #23)
compare reports with it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["COMPARED", "digest_differences", "report_digest"]

COMPARED = ("series", "liquidations", "adl", "buffers", "keepers", "mark_to_market", "fund_flows", "published", "totals")
OPTIONAL = ("trading",)  # compared when either report has it


def report_digest(report: dict[str, Any]) -> dict[str, Any]:
    """Per compared section its sha256 (of canonical JSON), the totals in the clear, the failed transactions
    and the steps: two reports with the same digest agree figure for figure."""
    present = COMPARED + tuple(key for key in OPTIONAL if key in report)
    sections = {key: hashlib.sha256(json.dumps(report[key], sort_keys=True).encode()).hexdigest() for key in present}
    return {
        "sections": sections,
        "totals": report["totals"],
        "failed_transactions": report["run"]["failed_transactions"],
        "steps": report["run"]["steps"],
    }


def digest_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What two digests (`report_digest`) disagree on: compared sections by name, then `failed_transactions`
    and `steps`; empty when their reports agree figure for figure."""
    out = [k for k in COMPARED + OPTIONAL if a["sections"].get(k) != b["sections"].get(k)]
    return out + [k for k in ("failed_transactions", "steps") if a[k] != b[k]]
