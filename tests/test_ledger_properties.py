"""Property test: random deposits, trades, price moves and withdrawals through the contracts and the
reference model (backstop.model.ledger + backstop.model.fund) give equal results to the last unit, and USDC
is conserved: deposits = withdrawals + USDC held by the clearinghouse and the fund."""

import copy
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backstop.chain.deploy import deploy_system
from backstop.model import ledger as model
from backstop.model.fund import GLOBAL, InsuranceFundModel
from backstop.units import to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, SPECS, set_price, trade

EXAMPLES = int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "12"))
START_FREE = to_usdc(50_000)

op = st.one_of(
    st.tuples(
        st.just("trade"),
        st.integers(0, 3),  # maker
        st.integers(0, 3),  # taker
        st.integers(-6_000, 6_000).filter(bool),  # maker's size delta, whole units
        st.integers(-600, 600),  # price offset from the mark [bps]; beyond ±500 leaves the band
        st.integers(0, 4_000),  # maker margin [$]
        st.integers(0, 4_000),  # taker margin [$]
    ),
    st.tuples(st.just("price"), st.integers(-2_000, 1_500)),  # oracle move [bps]
    st.tuples(st.just("withdraw"), st.integers(0, 3), st.integers(1, 60_000)),  # [$]
)


@pytest.fixture(scope="module")
def world(accounts):
    system = deploy_system(accounts[0], SPECS, global_seed=5_000)
    traders = list(accounts[1:5])
    for t in traders:
        system.usdc.mint(t, START_FREE, sender=accounts[0])
        system.usdc.approve(system.clearinghouse, START_FREE, sender=t)
        system.clearinghouse.deposit(START_FREE, sender=t)
    return system, traders


def _fresh_model(system, traders):
    fund = InsuranceFundModel()
    for spec in SPECS:
        fund.add_market(spec_mid(spec.name))
    fund.deposit(MID, to_usdc(10_000), 0)
    fund.deposit(GLOBAL, to_usdc(5_000), 0)
    ledger = model.Ledger(
        cover=lambda m, amount: fund.cover_loss(m, amount, 0).uncovered,
        pay_fee=lambda m, amount: fund.deposit(m, amount, 0),
    )
    for spec in SPECS:
        ledger.list_market(spec_mid(spec.name), list(spec.tiers), spec.price_band_bps)
    for t in traders:
        ledger.deposit(str(t.address), START_FREE)
    ledger.usdc_held = system.usdc.balanceOf(system.clearinghouse)
    return ledger, fund


def spec_mid(name):
    from backstop.units import market_id

    return market_id(name)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op, min_size=1, max_size=12))
def test_contracts_equal_the_model_and_conserve_usdc(world, chain, ops):
    system, traders = world
    house, fund, usdc = system.clearinghouse, system.fund, system.usdc
    snap = chain.snapshot()
    try:
        ledger, fund_model = _fresh_model(system, traders)
        mark = to_wad(6)
        withdrawn = 0
        held0 = usdc.balanceOf(house) + usdc.balanceOf(fund)
        for action in ops:
            before = copy.deepcopy((ledger, fund_model))
            model_error = contract_error = None
            if action[0] == "trade":
                _, mi, ti, units_, offset, m_margin, t_margin = action
                if mi == ti:
                    continue
                maker, taker = traders[mi], traders[ti]
                size = units_ * 10**18
                price = mark + (mark * offset // 10_000 if offset >= 0 else -(mark * -offset // 10_000))
                margins = (to_usdc(m_margin), to_usdc(t_margin))
                try:
                    ledger.trade(MID, str(maker.address), str(taker.address), size, price, margins, mark)
                except model.LedgerError as e:
                    model_error = type(e).__name__
                    ledger, fund_model = before
                try:
                    trade(system, maker, taker, size, price, *margins)
                except Exception as e:  # noqa: BLE001 - ape raises a class per custom error
                    contract_error = type(e).__name__
            elif action[0] == "price":
                new = mark + (mark * action[1] // 10_000 if action[1] >= 0 else -(mark * -action[1] // 10_000))
                mark = max(new, to_wad("0.05"))
                set_price(system, MARKET, mark)
                continue
            else:
                _, idx, dollars = action
                amount = to_usdc(dollars)
                try:
                    ledger.withdraw(str(traders[idx].address), amount)
                    withdrawn += amount
                except model.LedgerError as e:
                    model_error = type(e).__name__
                    ledger, fund_model = before
                try:
                    house.withdraw(amount, sender=traders[idx])
                except Exception as e:  # noqa: BLE001
                    contract_error = type(e).__name__
            assert contract_error == model_error, f"{action}: contract {contract_error}, model {model_error}"

        for t in traders:
            p = house.getPosition(MID, t)
            mp = ledger.position(MID, str(t.address))
            assert (p.size, p.entryPrice, p.margin) == (mp.size, mp.entry_price, mp.margin)
            assert house.freeBalance(t) == ledger.free[str(t.address)]
        assert house.badDebt(MID) == ledger.bad_debt.get(MID, 0)
        assert fund.poolBalance(MID) == fund_model.pool_balance(MID)
        assert fund.poolBalance(GLOBAL) == fund_model.pool_balance(GLOBAL)
        # conservation: in = out + held, and the fund holds exactly its pools
        assert usdc.balanceOf(house) + usdc.balanceOf(fund) == held0 - withdrawn
        assert usdc.balanceOf(house) == ledger.usdc_held
        assert usdc.balanceOf(fund) == fund.totalPooled()
        # solvency: what the clearinghouse holds plus its bad debt covers what it owes, at any price
        assert usdc.balanceOf(house) + house.badDebt(MID) >= ledger.total_liabilities({MID: mark, spec_mid("ETH-USD"): to_wad(2000)})
    finally:
        chain.restore(snap)
