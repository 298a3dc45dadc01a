"""report.md's price-impact section: per venue how far it fell, how much of the fall this platform's own
liquidation flows caused, the volume and slippage of keepers' unwinds; liquidations by cascade generation.

Renders whatever is present ("none" without a market with ``liquidity``), like the rest of report.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backstop.report.access import as_dict, as_int, as_list, as_number
from backstop.report.format import fmt_count, fmt_pct, fmt_price, fmt_usd, table

__all__ = ["impact"]


def impact(report: Mapping[str, Any]) -> list[str]:
    lines = ["## Price impact", ""]
    markets = as_dict(report.get("impact"))
    if not markets:
        return lines + ["none: no market has `liquidity` (infinite depth): the venues trade at their scripted paths and "
                        "no liquidation moves a price."]
    lines += ["Each venue's scripted path is its *exogenous* price (moved by the scenario's own flows, if any); the "
              "*traded* price adds the impact of keepers unwinding what they took, which decays and spreads to the "
              "other venues (docs/scenarios.md, `liquidity`). The endogenous share of the fall is "
              "(lowest exogenous − lowest traded) / (start − lowest traded): the part of the crash the liquidations "
              "themselves caused.", ""]
    body = []
    for name, m in markets.items():
        for venue, v in as_dict(as_dict(m).get("venues")).items():
            v = as_dict(v)
            body.append((name, venue, fmt_price(v.get("start")), fmt_price(v.get("min_exogenous")), fmt_price(v.get("min_traded")),
                         fmt_pct(_pct(v.get("endogenous_share"))), fmt_usd(v.get("liquidation_volume")), fmt_usd(v.get("slippage")),
                         fmt_count(v.get("unwinds")), fmt_usd(v.get("min_depth"))))
    lines += table(("market", "venue", "start [USD]", "lowest exogenous [USD]", "lowest traded [USD]", "endogenous share",
                    "liquidation volume [USD]", "keepers' slippage [USD]", "unwinds", "thinnest 1% depth [USD]"), body, "llrrrrrrrr")
    lines += ["", "### Cascade generations", "",
              "A liquidation is of generation 0 when the exogenous prices alone made the position liquidatable, of "
              "generation k + 1 when it took the impact of generations 0..k. *Caused by impact*: the exogenous prices "
              "never make it liquidatable, then or later; the rest of generation 1 and above impact only brought "
              "forward.", ""]
    counts: dict[tuple[str, int], list[float]] = {}
    for liq in as_list(report.get("liquidations")):
        liq = as_dict(liq)
        if "generation" not in liq:
            continue
        entry = counts.setdefault((str(liq.get("market")), as_int(liq.get("generation"))), [0, 0.0, 0, 0.0])
        notional = as_number(liq.get("notional")) or 0.0
        entry[0] += 1
        entry[1] += notional
        if liq.get("impact_only") is True:
            entry[2] += 1
            entry[3] += notional
    if not counts:
        return lines + ["none: no liquidation in a market with `liquidity`."]
    rows = [(m, str(g), fmt_count(n), fmt_usd(notional), fmt_count(caused), fmt_usd(caused_usd))
            for (m, g), (n, notional, caused, caused_usd) in sorted(counts.items())]
    caused = sum(c[2] for c in counts.values())
    caused_usd = sum(c[3] for c in counts.values())
    lines += table(("market", "generation", "liquidations", "notional [USD]", "caused by impact", "caused by impact [USD]"), rows, "lrrrrr")
    return lines + ["", f"Caused by impact in all: {fmt_count(caused)} liquidations, {fmt_usd(caused_usd)}."]


def _pct(share: Any) -> float | None:
    value = as_number(share)
    return None if value is None else 100 * value
