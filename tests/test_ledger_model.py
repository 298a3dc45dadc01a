"""The ledger model's position-level close helpers on their own (no chain): the ADL model's `apply_fill` and the
Ledger's `adl_fill` close positions identically, and the Ledger's liquidation and ADL fills conserve money."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from backstop.model import adl as adl_model
from backstop.model import ledger as lm
from backstop.units import to_usdc

MID = b"M" * 32
TIERS = [lm.Tier(to_usdc(10_000_000), 500, 250, 0)]

size = st.integers(1, 10**24)
price = st.integers(10**15, 10**20)
margin = st.integers(0, to_usdc(100_000))


def _ledger(bankrupt: lm.Position, counterparty: lm.Position, covers: list[int]) -> lm.Ledger:
    def cover(market: bytes, amount: int) -> int:
        covers.append(amount)
        return amount // 3  # the fund pays two thirds, the rest is bad debt

    ledger = lm.Ledger(cover=cover, tiers={MID: TIERS}, bands={MID: 500})
    ledger.positions[(MID, "t")] = copy.copy(bankrupt)
    ledger.positions[(MID, "c")] = copy.copy(counterparty)
    ledger.frozen.add((MID, "t"))
    return ledger


@given(size, price, margin, size, price, margin, st.integers(1, 100), price, st.booleans())
def test_apply_fill_is_the_ledgers_adl_fill(q, entry, m, cq, centry, cm, percent, fill_price, long):
    bankrupt = lm.Position(q if long else -q, entry, m)
    counterparty = lm.Position(-cq if long else cq, centry, cm)
    qty = max(1, min(q, cq) * percent // 100)
    covers: list[int] = []
    ledger = _ledger(bankrupt, counterparty, covers)
    got = ledger.adl_fill(MID, "t", "c", qty, fill_price)
    assert adl_model.apply_fill(bankrupt, counterparty, qty, fill_price) == got
    assert ledger.positions[(MID, "t")] == bankrupt and ledger.positions[(MID, "c")] == counterparty
    assert ((MID, "t") in ledger.frozen) == (qty < q)
    # money: the margins and the PnL of both closed parts end in the positions or the free balances; each loss
    # beyond a margin is a shortfall the fund was asked to cover
    share = m if qty == q else m * qty // q
    total = bankrupt.margin + counterparty.margin + ledger.free.get("t", 0) + ledger.free.get("c", 0)
    assert total == m + cm + (got[0] - share) + got[1] + sum(covers)
    assert ledger.bad_debt.get(MID, 0) == sum(c // 3 for c in covers)


@given(size, price, margin, st.integers(1, 100), price, st.integers(0, 500))
def test_liquidation_fill_conserves_the_traders_equity(q, entry, m, percent, fill_price, penalty_bps):
    long = q % 2 == 0
    trader = lm.Position(q if long else -q, entry, m)
    qty = max(1, q * percent // 100)
    covers: list[int] = []
    ledger = _ledger(trader, lm.Position(), covers)
    equity, penalty = ledger.liquidation_fill(MID, "t", "c", qty, fill_price, penalty_bps)
    share = m if qty == q else m * qty // q
    assert equity == share + lm.pnl(long, qty, entry, fill_price)
    assert ledger.position(MID, "t").margin == m - share
    if equity >= 0:
        assert ledger.free["t"] + penalty == equity and covers == []
        assert ledger.usdc_held == -penalty  # the penalty left for the fund
    else:
        assert covers == [-equity] and ledger.free.get("t", 0) == 0
    keeper = ledger.position(MID, "c")
    assert keeper.size == (qty if long else -qty) and keeper.entry_price == fill_price and keeper.margin == 0


@given(
    st.integers(-(10**25), 10**25).filter(bool),  # size [wad], signed
    st.integers(10**15, 10**20),  # entry [wad]
    st.integers(0, to_usdc(2_000_000)),  # margin
    st.integers(10**14, 10**21),  # mark [wad]
)
def test_inside_its_safe_band_a_position_is_never_liquidatable(size, entry, margin_, mark):
    from backstop.chain.specs import DEFAULT_TIERS  # noqa: PLC0415

    tiers = list(DEFAULT_TIERS)
    p = lm.Position(size, entry, margin_)
    lo, hi = lm.safe_band(p, tiers)
    if lo < mark < hi:
        assert not lm.below_maintenance(p, tiers, mark)  # and no NotionalAboveTopTier either
    for edge in (lo + 1, hi - 1):  # the band's own edges, where rounding bites first
        if lo < edge < hi:
            assert not lm.below_maintenance(p, tiers, edge)


def test_the_safe_band_is_wide_for_an_ordinary_position():
    from backstop.chain.specs import DEFAULT_TIERS  # noqa: PLC0415

    p = lm.Position(10**21, 6 * 10**18, to_usdc(1_200))  # 1,000 units long at $6 on $1,200 of margin (5x)
    lo, hi = lm.safe_band(p, list(DEFAULT_TIERS))
    assert 4.9 * 10**18 < lo < 5 * 10**18 and hi > 49 * 10**18  # liquidated near $4.92 (2.5%); safe up to its bracket ($50k)
    assert lm.below_maintenance(p, list(DEFAULT_TIERS), lo - lo // 100)  # 1% under the band: liquidatable
