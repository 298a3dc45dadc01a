"""AdlQueue's uncovered trigger after other liquidations' claims (#16 §4 rule 1): auctions each coverable by the
pools alone but not together are deleveraged before their takes drain the fund. The contract against the
reference model (backstop.model.adl.available_after_claims and plan), in one market and across two.

Two markets, no incentives (tip 0) so the pools are exact: OM ($6; sub-pool $600) and ETH ($2,000; sub-pool
$400); global pool $900. t1 and t2 are long 2,000 OM at $6 with $1,000 margin each (bankruptcy price $5.50);
t3 is long 10 ETH at $2,000 with $2,000 margin ($1,800). OM falls to $5 and ETH to $1,700: each liquidation's
shortfall is $1,000, which the OM pools ($1,500) cover for one OM sale, not for two.
"""

import ape
import pytest

from backstop.chain.deploy import AdlSpec, AuctionSpec, MarketSpec, deploy_system
from backstop.model import adl as model
from backstop.model.ledger import Position
from backstop.units import to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, OID, OTHER, fund_account, set_price, trade, units

GLOBAL = b"\0" * 32
FREE = AuctionSpec(tip=0, chip_bps=0)


@pytest.fixture(scope="module")
def system(accounts):
    return deploy_system(
        accounts[0],
        [MarketSpec(MARKET, "6", fund_seed=600, auction=FREE), MarketSpec(OTHER, "2000", venues=("venue-a",), fund_seed=400, auction=FREE)],
        global_seed=900,
        adl=AdlSpec(loss_cap_bps=10_000, min_bond=100),
    )


@pytest.fixture(scope="module")
def people(system, accounts):
    names = ("t1", "t2", "t3", "short_om", "short_eth", "executor")
    out = dict(zip(names, accounts[1 : 1 + len(names)]))
    for name in names[:5]:
        fund_account(system, out[name], to_usdc(1_000_000))
    system.usdc.mint(out["executor"], to_usdc(100_000), sender=accounts[0])
    system.usdc.approve(system.adl, 2**256 - 1, sender=out["executor"])
    return out


@pytest.fixture
def sales(system, people):
    """Liquidations 1 and 2 (OM, t1 and t2) and 3 (ETH, t3), each $1,000 under water."""
    p = people
    for t in ("t1", "t2"):
        trade(system, p[t], p["short_om"], units(2_000), to_wad(6), to_usdc(1_000), to_usdc(50_000))
    trade(system, p["t3"], p["short_eth"], units(10), to_wad(2_000), to_usdc(2_000), to_usdc(50_000), market=OID)
    set_price(system, MARKET, "5")
    set_price(system, OTHER, "1700")
    for t, mid in (("t1", MID), ("t2", MID), ("t3", OID)):
        system.auction.liquidate(mid, p[t], sender=p["executor"])
    return 1, 2, 3


def _claims(system, ids) -> list[model.Claim]:
    out = []
    for i in ids:
        s = system.auction.sale(i)
        mid = bytes(s.market)
        pos = system.clearinghouse.getPosition(mid, s.trader)
        out.append(model.Claim(i, mid, Position(pos.size, pos.entryPrice, pos.margin), s.qty, system.oracle.price(mid)))
    return out


def _reference(system, sale_id, ids) -> model.Plan:
    """The model's plan for liquidation `sale_id` after the claims `ids`, from the chain's pools and positions."""
    s = system.auction.sale(sale_id)
    mid = bytes(s.market)
    pos = system.clearinghouse.getPosition(mid, s.trader)
    pools = {m: system.fund.poolBalance(m) for m in (MID, OID)}
    available, claimed = model.available_after_claims(mid, pools, system.fund.poolBalance(GLOBAL), _claims(system, ids))
    return model.plan(Position(pos.size, pos.entryPrice, pos.margin), s.qty, system.oracle.price(mid), available, False, False, claimed, tuple(ids))


def _onchain(system, sale_id, ids) -> tuple:
    p = system.adl.trigger(sale_id, list(ids))
    return (model.REASONS[p.reason], p.qty, p.price, p.mark, p.uncovered, p.claimed)


def _as_tuple(plan: model.Plan) -> tuple:
    return (plan.reason, plan.qty, plan.price, plan.mark, plan.uncovered, plan.claimed)


def test_each_sale_alone_is_covered_so_no_trigger_without_claims(system, people, sales):
    assert [_claims(system, [i])[0].shortfall for i in sales] == [to_usdc(1_000)] * 3
    with pytest.raises(model.NoTrigger):
        _reference(system, 1, [])
    with ape.reverts(system.adl.NoAdlTrigger):
        system.adl.execute(1, [], [people["short_om"]], sender=people["executor"])


@pytest.mark.parametrize(
    "ids, uncovered",
    [
        ((2,), 500),  # the OM pools pay sale 2 first: $1,500 − $1,000 leaves $500 of sale 1's $1,000
        ((3,), 100),  # ETH's $1,000 takes its own $400 sub-pool, then $600 of the global pool
        ((2, 3), 1_000),  # together they leave nothing: all of sale 1 is uncovered
    ],
)
def test_the_trigger_judges_a_sale_after_the_listed_claims(system, sales, ids, uncovered):
    plan = _reference(system, 1, ids)
    assert plan.reason == "uncovered" and plan.uncovered == to_usdc(uncovered)
    assert _onchain(system, 1, ids) == _as_tuple(plan)
    # only the uncovered part is closed: at a gap of $0.50, $500 is 1,000 OM
    assert plan.qty == min(units(2_000), units(uncovered * 2))


def test_deleveraging_after_the_claims_leaves_exactly_what_the_pools_can_pay(system, people, sales):
    p = people
    plan = _reference(system, 1, [2])
    held = [system.usdc.balanceOf(c) for c in (system.clearinghouse, system.fund, system.adl)]
    executor_before = system.usdc.balanceOf(p["executor"])

    tx = system.adl.execute(1, [2], [p["short_om"]], sender=p["executor"])

    done = next(e for e in tx.events if e.event_name == "AdlExecuted")
    assert (done.qty, done.uncovered, done.claimed) == (plan.qty, plan.uncovered, plan.claimed) == (units(1_000), to_usdc(500), to_usdc(1_000))
    # what is left of both OM sales now claims exactly what the OM pools hold: no trigger for either
    left = _claims(system, [1, 2])
    assert sum(c.shortfall for c in left) == system.fund.poolBalance(MID) + system.fund.poolBalance(GLOBAL) == to_usdc(1_500)
    for sale, others in ((1, [2]), (2, [1])):
        with pytest.raises(model.NoTrigger):
            _reference(system, sale, others)
        with ape.reverts(system.adl.NoAdlTrigger):
            system.adl.execute(sale, others, [p["short_om"]], sender=p["executor"])
    # the bond moved from the executor into the queue; no USDC appeared or vanished
    after = [system.usdc.balanceOf(c) for c in (system.clearinghouse, system.fund, system.adl)]
    assert sum(after) - sum(held) == executor_before - system.usdc.balanceOf(p["executor"]) == to_usdc(100) + to_usdc(500)


def test_claims_must_strictly_increase_and_exclude_the_sale(system, people, sales):
    p = people
    for ids, index in (([3, 2], 1), ([2, 2], 1), ([1], 0), ([2, 1], 1)):
        with ape.reverts(system.adl.InvalidClaimList, index=index):
            system.adl.execute(1, ids, [p["short_om"]], sender=p["executor"])


def test_a_claim_with_nothing_left_or_above_water_counts_zero(system, people, sales):
    p = people
    set_price(system, MARKET, "5.6")  # sale 2 at $5.60 is above its $5.50 bankruptcy price: no claim
    set_price(system, OTHER, "1700")
    assert _claims(system, [2])[0].shortfall == 0
    with ape.reverts(system.adl.NotUnderwater):  # nor is sale 1, which shows the listing cannot force a trigger
        system.adl.execute(1, [2, 42], [p["short_om"]], sender=p["executor"])
    set_price(system, MARKET, "5")
    with ape.reverts(system.adl.NoAdlTrigger):  # 42 was never started: it counts zero
        system.adl.execute(1, [42], [p["short_om"]], sender=p["executor"])
