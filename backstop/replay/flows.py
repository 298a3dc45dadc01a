"""The insurance fund's flows: every pool's USDC in and out by kind, from the fund's and the auction's events.

The report's ``fund_flows`` table reconciles on its own: for each pool (the global pool and each market's
sub-pool), the balance at deployment (the seeds) + every inflow − every outflow = the balance at the end, and
that end is compared with the pool's balance read from the chain when the report is written (``difference``,
zero unless the replay missed an event). Kinds:

- inflows, one per ``IInsuranceFund.InflowKind`` (``Inflow.kind``), the tail-risk fees split into those paid
  by the positions opened before the crash (``tail_risk_fees_at_opening``) and those paid during the replay;
- outflows: ``shortfalls_covered`` (a ``LossCovered`` the clearinghouse asked for: a liquidation's loss beyond
  the position's margin), ``kick_incentives`` and ``restart_incentives`` (a ``LossCovered`` the auction asked
  for: the ``IncentivePaid`` or ``BatchIncentivePaid`` that follows it in the same transaction; a restart when
  that transaction restarted the auction) and ``withdrawals`` (``WithdrawalExecuted``).

Amounts are kept in [usdc] integers, so the identity holds to the unit; the report shows USD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backstop.units import USDC

__all__ = ["INFLOW_KINDS", "OPENING_PHASES", "OUTFLOW_KINDS", "FundFlows"]

INFLOW_BY_KIND = ("seeds", "liquidation_surplus", "liquidation_penalties", "tail_risk_fees", "donations")  # InflowKind order
INFLOW_KINDS = ("liquidation_penalties", "liquidation_surplus", "tail_risk_fees_at_opening", "tail_risk_fees", "donations", "seeds_after_deployment")
OUTFLOW_KINDS = ("shortfalls_covered", "kick_incentives", "restart_incentives", "withdrawals")
OPENING_PHASES = ("setup", "open")  # mirror phases before the scenario's t = 0
GLOBAL = "global"

Event = tuple[str, dict[str, Any]]  # (event name, decoded args)


class FundFlows:
    """Running per-pool flows [usdc], pools by name (``global`` and the market names)."""

    def __init__(self) -> None:
        self.seeds: dict[str, int] = {}
        self.inflows: dict[str, dict[str, int]] = {}
        self.outflows: dict[str, dict[str, int]] = {}

    def start(self, balances: dict[str, int]) -> None:
        """The pools' balances when the deployment finished, before the replay sent anything: the seeds."""
        self.seeds = dict(balances)
        for pool in balances:
            self.inflows.setdefault(pool, dict.fromkeys(INFLOW_KINDS, 0))
            self.outflows.setdefault(pool, dict.fromkeys(OUTFLOW_KINDS, 0))

    def on_receipt(self, events: Sequence[Event], phase: str, pool_name: Callable[[bytes], str]) -> None:
        """Books the fund flows of one successful transaction's events, in log order, mined in `phase` (see
        OPENING_PHASES); `pool_name` names a pool id (``global`` for bytes32(0))."""
        restarted: set[int] = set()
        for i, (name, args) in enumerate(events):
            if name == "AuctionRestarted":
                restarted.add(args["id"])
            elif name == "Inflow":
                kind = INFLOW_BY_KIND[args["kind"]]
                if kind == "tail_risk_fees" and phase in OPENING_PHASES:
                    kind = "tail_risk_fees_at_opening"
                elif kind == "seeds":
                    kind = "seeds_after_deployment"
                self._book(self.inflows, pool_name(bytes(args["pool"])), kind, args["amount"])
            elif name == "LossCovered":
                after = events[i + 1] if i + 1 < len(events) else ("", {})
                if after[0] == "IncentivePaid":
                    kind = "restart_incentives" if after[1]["id"] in restarted else "kick_incentives"
                elif after[0] == "BatchIncentivePaid":  # one liquidateMany's kicks, paid together
                    kind = "kick_incentives"
                else:
                    kind = "shortfalls_covered"
                market = pool_name(bytes(args["market"]))
                self._book(self.outflows, market, kind, args["fromSubPool"])
                self._book(self.outflows, GLOBAL, kind, args["fromGlobal"])
            elif name == "WithdrawalExecuted":
                self._book(self.outflows, pool_name(bytes(args["pool"])), "withdrawals", args["amount"])

    def _book(self, table: dict[str, dict[str, int]], pool: str, kind: str, amount: int) -> None:
        if amount:
            row = table.setdefault(pool, dict.fromkeys(INFLOW_KINDS if table is self.inflows else OUTFLOW_KINDS, 0))
            row[kind] += amount

    def end(self, pool: str) -> int:
        """seeds + Σ inflows − Σ outflows of `pool` [usdc]."""
        return self.seeds.get(pool, 0) + sum(self.inflows.get(pool, {}).values()) - sum(self.outflows.get(pool, {}).values())

    def pools(self) -> list[str]:
        """The global pool first, then the markets' sub-pools in name order."""
        names = set(self.seeds) | set(self.inflows) | set(self.outflows)
        return [GLOBAL] * (GLOBAL in names) + sorted(names - {GLOBAL})

    def rows(self, on_chain: dict[str, int] | None) -> list[dict[str, Any]]:
        """The report's ``fund_flows``: one row per pool, in USD; `on_chain`: each pool's balance read at the end
        (None when the chain could not be read: `end_on_chain` and `difference` are then null)."""
        out = []
        for pool in self.pools():
            end = self.end(pool)
            chain_end = None if on_chain is None else on_chain.get(pool, 0)
            out.append({
                "pool": pool,
                "start": self.seeds.get(pool, 0) / USDC,
                "inflows": {k: v / USDC for k, v in self.inflows.get(pool, {}).items()},
                "outflows": {k: v / USDC for k, v in self.outflows.get(pool, {}).items()},
                "end": end / USDC,
                "end_on_chain": None if chain_end is None else chain_end / USDC,
                "difference": None if chain_end is None else (chain_end - end) / USDC,
            })
        return out

