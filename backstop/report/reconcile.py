"""Does a report add up? The checks a reader would do by hand on report.json, one line per figure that does not.

:func:`reconcile` checks the fund flow table (``fund_flows``) against itself, against the chain's balances and
against the summary (``totals``):

- each pool: start + Σ inflows − Σ outflows = end, and end = the balance read from the chain (``difference`` 0);
- Σ end over the pools = ``fund_end``; Σ start + the tail-risk fees of the positions opened before t = 0 =
  ``fund_start``;
- Σ shortfalls covered + Σ incentives = ``fund_used``; Σ incentives = ``keeper_incentives``; Σ penalties =
  ``penalties``; shortfalls covered + ``bad_debt`` = ``shortfall``.

`validate_report` checks the shape; this checks the sums. Amounts agree to 1e-6 USD (the unit of USDC).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backstop.report.access import as_dict, as_list, as_number

__all__ = ["TOLERANCE", "reconcile"]

TOLERANCE = 1e-6  # [USD] one USDC unit: the flows are sums of 6-decimal integers shown as floats
INCENTIVES = ("kick_incentives", "restart_incentives")


def _sum(rows: list[dict[str, Any]], side: str, kinds: tuple[str, ...] | None = None) -> float:
    return sum(as_number(v) or 0.0 for r in rows for k, v in as_dict(r.get(side)).items() if kinds is None or k in kinds)


def reconcile(report: Mapping[str, Any]) -> list[str]:
    """Every figure of `report` that does not reconcile, one human-readable line each; [] when all do (or
    when the report has no fund flow table to check)."""
    rows = [as_dict(r) for r in as_list(report.get("fund_flows"))]
    totals = as_dict(report.get("totals"))
    if not rows:
        return []
    problems: list[str] = []

    def check(what: str, got: float | None, want: float | None, terms: int = 1) -> None:
        if got is None or want is None:
            return
        if abs(got - want) > TOLERANCE * max(1, terms):
            problems.append(f"{what}: {got:,.6f} is not {want:,.6f} (off by {got - want:,.6f} USD)")

    for r in rows:
        pool = r.get("pool", "?")
        start, end = as_number(r.get("start")) or 0.0, as_number(r.get("end"))
        terms = 2 + len(as_dict(r.get("inflows"))) + len(as_dict(r.get("outflows")))
        check(f"fund_flows[{pool}]: start + inflows − outflows", start + _sum([r], "inflows") - _sum([r], "outflows"), end, terms)
        check(f"fund_flows[{pool}]: end on chain", as_number(r.get("end_on_chain")), end)
    n = len(rows)
    ends = [as_number(r.get("end")) for r in rows]
    if None not in ends:
        check("totals.fund_end: Σ fund_flows end", as_number(totals.get("fund_end")), sum(ends), n)  # type: ignore[arg-type]
    opening = sum(as_number(r.get("start")) or 0.0 for r in rows) + _sum(rows, "inflows", ("tail_risk_fees_at_opening",))
    check("totals.fund_start: Σ seeds + tail-risk fees at opening", as_number(totals.get("fund_start")), opening, 2 * n)
    incentives = _sum(rows, "outflows", INCENTIVES)
    covered = _sum(rows, "outflows", ("shortfalls_covered",))
    check("totals.fund_used: Σ shortfalls covered + incentives", as_number(totals.get("fund_used")), covered + incentives, 3 * n)
    check("totals.keeper_incentives: Σ incentives", as_number(totals.get("keeper_incentives")), incentives, 2 * n)
    check("totals.penalties: Σ liquidation penalties", as_number(totals.get("penalties")),
          _sum(rows, "inflows", ("liquidation_penalties",)), n)
    bad_debt = as_number(totals.get("bad_debt"))
    if bad_debt is not None:
        check("totals.shortfall: Σ shortfalls covered + bad debt", as_number(totals.get("shortfall")), covered + bad_debt, 2 * n)
    return problems
