"""InsuranceFund: typed inflows, the loss waterfall, timelocked withdrawals, hourly snapshots, fund-risk flags,
USDC conservation, and a property test that drives the contract and backstop.model.fund together."""

from __future__ import annotations

import os

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backstop.model.fund import (
    DRAWDOWN_FROM_PEAK,
    FAST_DROP,
    GLOBAL,
    GLOBAL_DEPLETED,
    InsuranceFundModel,
)
from backstop.units import USDC, market_id
from tests.revert_helpers import assert_view_reverts

OM = market_id("OM-USD")
BTC = market_id("BTC-USD")
UNKNOWN = market_id("DOGE-USD")
HOUR = 3600
DELAY = 2 * 24 * HOUR  # [seconds] withdrawal delay the fixture deploys with
MAX = 2**256 - 1

SEED, SURPLUS, PENALTY, TAIL, DONATION = range(5)
CREDITOR_KINDS = [SEED, SURPLUS, PENALTY, TAIL]


# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def creditor(accounts):
    """Plays the clearinghouse / liquidation engine: CREDITOR_ROLE."""
    return accounts[4]


@pytest.fixture(scope="module")
def coverer(accounts):
    """Plays the liquidation engine calling coverLoss: COVER_ROLE."""
    return accounts[5]


@pytest.fixture(scope="module")
def receiver(accounts):
    """Receives covered losses (stands for the clearinghouse's settlement account)."""
    return accounts[6]


@pytest.fixture(scope="module")
def fund(project, usdc, admin, alice, bob, carol, creditor, coverer, receiver):
    """A fund with markets OM-USD and BTC-USD, empty pools, and funded, approving depositors."""
    f = admin.deploy(project.InsuranceFund, usdc, admin, DELAY)
    f.addMarket(OM, sender=admin)
    f.addMarket(BTC, sender=admin)
    f.grantRole(f.CREDITOR_ROLE(), creditor, sender=admin)
    f.grantRole(f.COVER_ROLE(), coverer, sender=admin)
    for who in (admin, alice, bob, creditor):
        usdc.mint(who, 10**9 * USDC, sender=admin)
        usdc.approve(f, MAX, sender=who)
    return f


# --- helpers --------------------------------------------------------------------------------------------------


def assert_conserved(fund, usdc) -> None:
    """USDC held by the fund == totalPooled == sum of the pools."""
    pooled = sum(fund.poolBalance(p) for p in (GLOBAL, OM, BTC))
    assert fund.totalPooled() == pooled
    assert usdc.balanceOf(fund) == pooled


def hour_now(chain) -> int:
    return chain.blocks.head.timestamp // HOUR


def goto_hour(chain, hour: int, offset: int = 60) -> None:
    """Mines a block at `offset` seconds into `hour`; transactions that follow land in that hour."""
    chain.mine(timestamp=hour * HOUR + offset)


def advance(chain, seconds: int) -> None:
    """Mines a block `seconds` later. (Setting chain.pending_timestamp alone is not enough: Anvil estimates
    gas and simulates reverts at the head's time, and the fund's gas depends on the hour.)"""
    chain.mine(timestamp=chain.blocks.head.timestamp + seconds)


def start_hour(chain) -> int:
    """Moves to the start of the next hour (plus a minute) and returns its index."""
    h = hour_now(chain) + 1
    goto_hour(chain, h)
    return h


def events(receipt, name: str):
    return [e for e in receipt.events if e.event_name == name]


# --- roles, parameters, markets -------------------------------------------------------------------------------


def test_defaults_and_roles(fund, usdc, admin, creditor, coverer):
    assert fund.usdc() == usdc.address
    assert fund.withdrawalDelay() == DELAY
    assert fund.drawdownBps() == 3_000
    assert fund.fastDropBps() == 5_000
    assert fund.globalFloor() == 0
    assert (fund.DRAWDOWN_FROM_PEAK(), fund.FAST_DROP(), fund.GLOBAL_DEPLETED()) == (
        DRAWDOWN_FROM_PEAK,
        FAST_DROP,
        GLOBAL_DEPLETED,
    )
    assert fund.hasRole(fund.DEFAULT_ADMIN_ROLE(), admin)
    assert fund.hasRole(fund.CREDITOR_ROLE(), admin)  # the deployer seeds
    assert fund.hasRole(fund.CREDITOR_ROLE(), creditor)
    assert fund.hasRole(fund.COVER_ROLE(), coverer)
    assert not fund.hasRole(fund.COVER_ROLE(), admin)
    assert fund.isMarket(OM) and fund.isMarket(BTC) and not fund.isMarket(UNKNOWN) and not fund.isMarket(GLOBAL)
    assert_conserved(fund, usdc)


def test_add_market_rules(fund, admin, alice):
    with ape.reverts(fund.GlobalIsNotAMarket):
        fund.addMarket(GLOBAL, sender=admin)
    with ape.reverts(fund.MarketAlreadyRegistered, market=OM):
        fund.addMarket(OM, sender=admin)
    with ape.reverts(fund.AccessControlUnauthorizedAccount, account=alice, neededRole=fund.DEFAULT_ADMIN_ROLE()):
        fund.addMarket(UNKNOWN, sender=alice)
    receipt = fund.addMarket(UNKNOWN, sender=admin)
    assert [e.market for e in events(receipt, "MarketAdded")] == [UNKNOWN]
    assert fund.isMarket(UNKNOWN)
    assert fund.poolBalance(UNKNOWN) == 0


@pytest.mark.parametrize(
    "what,value,getter",
    [
        (b"withdrawalDelay", 3600, "withdrawalDelay"),
        (b"drawdownBps", 2_500, "drawdownBps"),
        (b"fastDropBps", 10_000, "fastDropBps"),
        (b"globalFloor", 7 * USDC, "globalFloor"),
    ],
)
def test_file_sets_parameter_and_emits(fund, admin, what, value, getter):
    receipt = fund.file(what.ljust(32, b"\0"), value, sender=admin)
    assert getattr(fund, getter)() == value
    [e] = events(receipt, "ParameterSet")
    assert e.what == what.ljust(32, b"\0") and e.data == value


def test_file_rejects_bad_values(fund, admin, alice):
    with ape.reverts(fund.BpsAboveOne):
        fund.file(b"drawdownBps".ljust(32, b"\0"), 10_001, sender=admin)
    with ape.reverts(fund.BpsAboveOne):
        fund.file(b"fastDropBps".ljust(32, b"\0"), 10_001, sender=admin)
    with ape.reverts(fund.WithdrawalDelayTooLong):
        fund.file(b"withdrawalDelay".ljust(32, b"\0"), 365 * 24 * HOUR + 1, sender=admin)
    with ape.reverts(fund.UnknownParameter):
        fund.file(b"nonsense".ljust(32, b"\0"), 1, sender=admin)
    with ape.reverts(fund.AccessControlUnauthorizedAccount):
        fund.file(b"globalFloor".ljust(32, b"\0"), 1, sender=alice)


# --- inflows --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CREDITOR_KINDS)
@pytest.mark.parametrize("pool", [GLOBAL, OM])
def test_typed_inflow_by_creditor_emits_inflow(fund, usdc, creditor, kind, pool):
    held = usdc.balanceOf(fund)
    receipt = fund.deposit(pool, kind, 1_234 * USDC + 5, sender=creditor)
    [e] = events(receipt, "Inflow")
    assert (e.pool, e.kind, e.amount, e.poolBalance) == (pool, kind, 1_234 * USDC + 5, 1_234 * USDC + 5)
    assert e["from"] == creditor.address
    assert fund.poolBalance(pool) == 1_234 * USDC + 5
    assert usdc.balanceOf(fund) - held == 1_234 * USDC + 5
    assert_conserved(fund, usdc)
    fund.deposit(pool, kind, 1, sender=creditor)
    assert fund.poolBalance(pool) == 1_234 * USDC + 6
    assert_conserved(fund, usdc)


def test_donation_is_open_to_anyone(fund, usdc, alice, bob):
    assert not fund.hasRole(fund.CREDITOR_ROLE(), alice)
    r1 = fund.deposit(OM, DONATION, 10 * USDC, sender=alice)
    assert_conserved(fund, usdc)
    r2 = fund.deposit(GLOBAL, DONATION, 3 * USDC, sender=bob)
    assert_conserved(fund, usdc)
    [e1], [e2] = events(r1, "Inflow"), events(r2, "Inflow")
    assert (e1.pool, e1.kind, e1["from"], e1.amount, e1.poolBalance) == (OM, DONATION, alice.address, 10 * USDC, 10 * USDC)
    assert (e2.pool, e2.kind, e2["from"], e2.amount, e2.poolBalance) == (GLOBAL, DONATION, bob.address, 3 * USDC, 3 * USDC)


@pytest.mark.parametrize("kind", CREDITOR_KINDS)
def test_non_donation_by_non_creditor_reverts(fund, usdc, alice, kind):
    with ape.reverts(fund.AccessControlUnauthorizedAccount, account=alice, neededRole=fund.CREDITOR_ROLE()):
        fund.deposit(OM, kind, USDC, sender=alice)
    assert fund.poolBalance(OM) == 0
    assert_conserved(fund, usdc)


def test_zero_amounts_revert(fund, usdc, admin, alice, coverer, receiver):
    with ape.reverts(fund.ZeroAmount):
        fund.deposit(OM, DONATION, 0, sender=alice)
    with ape.reverts(fund.ZeroAmount):
        fund.deposit(GLOBAL, SEED, 0, sender=admin)
    with ape.reverts(fund.ZeroAmount):
        fund.coverLoss(OM, 0, receiver, sender=coverer)
    with ape.reverts(fund.ZeroAmount):
        fund.scheduleWithdrawal(GLOBAL, 0, admin, sender=admin)
    assert_conserved(fund, usdc)


def test_unknown_market_reverts_everywhere(fund, usdc, admin, alice, coverer, receiver):
    with ape.reverts(fund.UnknownMarket, market=UNKNOWN):
        fund.deposit(UNKNOWN, DONATION, USDC, sender=alice)
    with ape.reverts(fund.UnknownMarket, market=UNKNOWN):
        fund.deposit(UNKNOWN, SEED, USDC, sender=admin)
    with ape.reverts(fund.UnknownMarket, market=UNKNOWN):
        fund.coverLoss(UNKNOWN, USDC, receiver, sender=coverer)
    with ape.reverts(fund.UnknownMarket, market=GLOBAL):  # GLOBAL is a pool, not a market
        fund.coverLoss(GLOBAL, USDC, receiver, sender=coverer)
    with ape.reverts(fund.UnknownMarket, market=UNKNOWN):
        fund.scheduleWithdrawal(UNKNOWN, USDC, admin, sender=admin)
    with ape.reverts(fund.UnknownMarket, market=UNKNOWN):
        fund.snapshot(UNKNOWN, sender=alice)
    assert_view_reverts(fund.poolBalance, UNKNOWN, fund.UnknownMarket, market=UNKNOWN)
    assert_view_reverts(fund.fundRisk, UNKNOWN, fund.UnknownMarket, market=UNKNOWN)
    assert_view_reverts(fund.adlAllowed, GLOBAL, fund.UnknownMarket, market=GLOBAL)
    assert_conserved(fund, usdc)


# --- the waterfall --------------------------------------------------------------------------------------------


def cover(fund, coverer, receiver, market, amount):
    receipt = fund.coverLoss(market, amount, receiver, sender=coverer)
    [e] = events(receipt, "LossCovered")
    return receipt, e


def test_cover_from_sub_pool_only(fund, usdc, admin, coverer, receiver):
    fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    fund.deposit(GLOBAL, SEED, 1_000 * USDC, sender=admin)
    assert_conserved(fund, usdc)
    got = usdc.balanceOf(receiver)
    receipt, e = cover(fund, coverer, receiver, OM, 60 * USDC)
    assert receipt.return_value == 0
    assert (e.market, e.requested, e.fromSubPool, e.fromGlobal, e.uncovered) == (OM, 60 * USDC, 60 * USDC, 0, 0)
    assert fund.poolBalance(OM) == 40 * USDC
    assert fund.poolBalance(GLOBAL) == 1_000 * USDC
    assert usdc.balanceOf(receiver) - got == 60 * USDC
    assert_conserved(fund, usdc)


def test_cover_from_sub_pool_then_global(fund, usdc, admin, coverer, receiver):
    fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    fund.deposit(BTC, SEED, 77 * USDC, sender=admin)
    fund.deposit(GLOBAL, SEED, 1_000 * USDC, sender=admin)
    got = usdc.balanceOf(receiver)
    receipt, e = cover(fund, coverer, receiver, OM, 250 * USDC + 1)
    assert receipt.return_value == 0
    assert (e.requested, e.fromSubPool, e.fromGlobal, e.uncovered) == (250 * USDC + 1, 100 * USDC, 150 * USDC + 1, 0)
    assert fund.poolBalance(OM) == 0
    assert fund.poolBalance(GLOBAL) == 850 * USDC - 1
    assert fund.poolBalance(BTC) == 77 * USDC  # other markets' sub-pools are never touched
    assert usdc.balanceOf(receiver) - got == 250 * USDC + 1
    assert_conserved(fund, usdc)


def test_cover_partially_uncovered(fund, usdc, admin, coverer, receiver):
    fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    fund.deposit(GLOBAL, SEED, 50 * USDC, sender=admin)
    got = usdc.balanceOf(receiver)
    assert fund.coverLoss.call(OM, 400 * USDC, receiver, sender=coverer) == 250 * USDC
    receipt, e = cover(fund, coverer, receiver, OM, 400 * USDC)
    assert receipt.return_value == 250 * USDC
    assert (e.requested, e.fromSubPool, e.fromGlobal, e.uncovered) == (400 * USDC, 100 * USDC, 50 * USDC, 250 * USDC)
    assert fund.poolBalance(OM) == 0 and fund.poolBalance(GLOBAL) == 0
    assert usdc.balanceOf(receiver) - got == 150 * USDC
    assert_conserved(fund, usdc)
    # An empty fund covers nothing and transfers nothing.
    receipt, e = cover(fund, coverer, receiver, OM, 9)
    assert receipt.return_value == 9
    assert (e.fromSubPool, e.fromGlobal, e.uncovered) == (0, 0, 9)
    assert usdc.balanceOf(receiver) - got == 150 * USDC
    assert_conserved(fund, usdc)


def test_cover_by_non_cover_role_reverts(fund, usdc, admin, creditor, receiver):
    fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    for who in (admin, creditor):
        with ape.reverts(fund.AccessControlUnauthorizedAccount, account=who, neededRole=fund.COVER_ROLE()):
            fund.coverLoss(OM, USDC, receiver, sender=who)
    assert fund.poolBalance(OM) == 100 * USDC
    assert_conserved(fund, usdc)


def test_cover_to_zero_address_reverts(fund, admin, coverer):
    fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    with ape.reverts(fund.ZeroAddress):
        fund.coverLoss(OM, USDC, "0x" + "00" * 20, sender=coverer)


# --- timelocked withdrawals -----------------------------------------------------------------------------------


def test_withdrawal_before_and_after_delay(fund, usdc, chain, admin, carol):
    fund.deposit(GLOBAL, SEED, 500 * USDC, sender=admin)
    receipt = fund.scheduleWithdrawal(GLOBAL, 200 * USDC, carol, sender=admin)
    wid = receipt.return_value
    assert wid == 1
    [e] = events(receipt, "WithdrawalScheduled")
    assert (e.id, e.pool, e.to, e.amount, e.executableAt) == (wid, GLOBAL, carol.address, 200 * USDC, receipt.timestamp + DELAY)
    w = fund.withdrawal(wid)
    assert (w.pool, w.to, w.amount, w.status) == (GLOBAL, carol.address, 200 * USDC, 1)
    assert_conserved(fund, usdc)

    with ape.reverts(fund.WithdrawalStillLocked, id=wid):
        fund.executeWithdrawal(wid, sender=admin)
    chain.mine(timestamp=receipt.timestamp + DELAY - 10)
    with ape.reverts(fund.WithdrawalStillLocked, id=wid):
        fund.executeWithdrawal(wid, sender=admin)
    assert fund.poolBalance(GLOBAL) == 500 * USDC

    chain.mine(timestamp=receipt.timestamp + DELAY)
    got = usdc.balanceOf(carol)
    executed = fund.executeWithdrawal(wid, sender=admin)
    [x] = events(executed, "WithdrawalExecuted")
    assert (x.id, x.pool, x.to, x.amount, x.poolBalance) == (wid, GLOBAL, carol.address, 200 * USDC, 300 * USDC)
    assert usdc.balanceOf(carol) - got == 200 * USDC
    assert fund.poolBalance(GLOBAL) == 300 * USDC
    assert fund.withdrawal(wid).status == 2
    assert_conserved(fund, usdc)
    with ape.reverts(fund.WithdrawalNotScheduled, id=wid):  # not twice
        fund.executeWithdrawal(wid, sender=admin)


def test_withdrawal_cancel(fund, usdc, chain, admin, carol):
    fund.deposit(OM, SEED, 500 * USDC, sender=admin)
    wid = fund.scheduleWithdrawal(OM, 100 * USDC, carol, sender=admin).return_value
    receipt = fund.cancelWithdrawal(wid, sender=admin)
    assert [e.id for e in events(receipt, "WithdrawalCancelled")] == [wid]
    assert fund.withdrawal(wid).status == 3
    advance(chain, DELAY + 1)
    with ape.reverts(fund.WithdrawalNotScheduled, id=wid):
        fund.executeWithdrawal(wid, sender=admin)
    with ape.reverts(fund.WithdrawalNotScheduled, id=wid):
        fund.cancelWithdrawal(wid, sender=admin)
    with ape.reverts(fund.WithdrawalNotScheduled, id=99):
        fund.executeWithdrawal(99, sender=admin)
    assert fund.poolBalance(OM) == 500 * USDC
    assert_conserved(fund, usdc)


def test_withdrawal_by_non_admin_reverts(fund, usdc, chain, admin, alice, creditor):
    fund.deposit(GLOBAL, SEED, 500 * USDC, sender=admin)
    role = fund.DEFAULT_ADMIN_ROLE()
    for who in (alice, creditor):
        with ape.reverts(fund.AccessControlUnauthorizedAccount, account=who, neededRole=role):
            fund.scheduleWithdrawal(GLOBAL, USDC, who, sender=who)
    wid = fund.scheduleWithdrawal(GLOBAL, USDC, alice, sender=admin).return_value
    advance(chain, DELAY)
    with ape.reverts(fund.AccessControlUnauthorizedAccount, account=alice, neededRole=role):
        fund.executeWithdrawal(wid, sender=alice)
    with ape.reverts(fund.AccessControlUnauthorizedAccount, account=alice, neededRole=role):
        fund.cancelWithdrawal(wid, sender=alice)
    assert fund.poolBalance(GLOBAL) == 500 * USDC
    assert_conserved(fund, usdc)


def test_withdrawal_checks_pool_balance_at_schedule_and_execution(fund, usdc, chain, admin, coverer, receiver, carol):
    fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    with ape.reverts(fund.InsufficientPoolBalance, pool=OM, balance=100 * USDC, amount=100 * USDC + 1):
        fund.scheduleWithdrawal(OM, 100 * USDC + 1, carol, sender=admin)
    wid = fund.scheduleWithdrawal(OM, 80 * USDC, carol, sender=admin).return_value
    fund.coverLoss(OM, 30 * USDC, receiver, sender=coverer)  # the pool paid a loss meanwhile
    advance(chain, DELAY)
    with ape.reverts(fund.InsufficientPoolBalance, pool=OM, balance=70 * USDC, amount=80 * USDC):
        fund.executeWithdrawal(wid, sender=admin)
    assert fund.withdrawal(wid).status == 1  # still scheduled; it may be cancelled
    assert_conserved(fund, usdc)


# --- snapshots ------------------------------------------------------------------------------------------------


def test_snapshot_records_balance_before_change_once_per_hour(fund, usdc, chain, admin, alice):
    h = start_hour(chain)
    r = fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    # First touch ever: the 9 slots of hours [h-8, h] are written with the balance before the change (0).
    assert [(e.pool, e.hour, e.balance) for e in events(r, "Snapshot")] == [(OM, x, 0) for x in range(h - 8, h + 1)]
    r = fund.deposit(OM, DONATION, 5 * USDC, sender=alice)  # same hour: no snapshot
    assert events(r, "Snapshot") == []
    assert events(fund.snapshot(OM, sender=alice), "Snapshot") == []
    assert fund.snapshotAt(OM, h) == 0
    assert_conserved(fund, usdc)

    goto_hour(chain, h + 1)
    assert fund.snapshotAt(OM, h + 1) == 105 * USDC  # a view sees the not yet recorded hour
    r = fund.deposit(OM, SEED, 10 * USDC, sender=admin)
    assert [(e.hour, e.balance) for e in events(r, "Snapshot")] == [(h + 1, 105 * USDC)]
    assert fund.snapshotAt(OM, h + 1) == 105 * USDC
    assert fund.snapshotAt(OM, h) == 0
    assert fund.poolBalance(OM) == 115 * USDC
    assert_view_reverts(fund.snapshotAt, (OM, h + 2), fund.SnapshotOutsideWindow, hour=h + 2)
    assert_view_reverts(fund.snapshotAt, (OM, h - 8), fund.SnapshotOutsideWindow, hour=h - 8)
    assert_conserved(fund, usdc)


def test_snapshot_fills_skipped_hours(fund, usdc, chain, admin, alice):
    h = start_hour(chain)
    fund.deposit(GLOBAL, SEED, 40 * USDC, sender=admin)
    goto_hour(chain, h + 4, offset=1_800)
    r = fund.snapshot(GLOBAL, sender=alice)  # anyone may record
    assert [(e.pool, e.hour, e.balance) for e in events(r, "Snapshot")] == [(GLOBAL, x, 40 * USDC) for x in range(h + 1, h + 5)]
    assert [fund.snapshotAt(GLOBAL, x) for x in range(h - 4, h + 5)] == [0] * 5 + [40 * USDC] * 4
    # A change after skipped hours records them too, with the balance before the change.
    goto_hour(chain, h + 7)
    r = fund.deposit(GLOBAL, DONATION, 1 * USDC, sender=alice)
    assert [(e.hour, e.balance) for e in events(r, "Snapshot")] == [(x, 40 * USDC) for x in range(h + 5, h + 8)]
    assert [fund.snapshotAt(GLOBAL, x) for x in range(h - 1, h + 8)] == [0, 0] + [40 * USDC] * 7
    assert_conserved(fund, usdc)


def test_peak8h_forgets_values_older_than_8_hours(fund, usdc, chain, admin, coverer, receiver):
    h = start_hour(chain)
    fund.deposit(OM, SEED, 1_000 * USDC, sender=admin)
    goto_hour(chain, h + 1)
    fund.coverLoss(OM, 600 * USDC, receiver, sender=coverer)  # snapshot(h+1) = 1000, balance 400
    assert fund.peak8h(OM) == 1_000 * USDC
    goto_hour(chain, h + 8, offset=HOUR - 120)  # window [h+1, h+8] still holds the 1000 of hour h+1
    assert fund.peak8h(OM) == 1_000 * USDC
    assert fund.balance8hAgo(OM) == 0  # snapshot of hour h: before the first deposit
    goto_hour(chain, h + 9)  # window [h+2, h+9]: all 400
    assert fund.peak8h(OM) == 400 * USDC
    assert fund.balance8hAgo(OM) == 1_000 * USDC  # snapshot of hour h+1
    goto_hour(chain, h + 10)
    assert fund.balance8hAgo(OM) == 400 * USDC
    # The current balance counts as well: a deposit raises the peak at once.
    fund.deposit(OM, SEED, 100 * USDC, sender=admin)
    assert fund.peak8h(OM) == 500 * USDC
    # Far in the future every slot carries the unchanged balance.
    goto_hour(chain, h + 100)
    assert fund.peak8h(OM) == fund.balance8hAgo(OM) == fund.poolBalance(OM) == 500 * USDC
    assert_conserved(fund, usdc)


# --- fund risk ------------------------------------------------------------------------------------------------


def test_no_flag_on_a_healthy_fund(fund, chain, admin):
    h = start_hour(chain)
    fund.deposit(OM, SEED, 1_000 * USDC, sender=admin)
    fund.deposit(GLOBAL, SEED, 1_000 * USDC, sender=admin)
    assert fund.fundRisk(OM) == 0 and not fund.adlAllowed(OM)
    goto_hour(chain, h + 12)
    assert fund.fundRisk(OM) == 0 and not fund.adlAllowed(OM)
    # A never-funded sub-pool: no peak, no 8h-ago balance, global healthy -> no flag.
    assert fund.fundRisk(BTC) == 0


def test_drawdown_from_peak_boundary_rounds_for_the_fund(fund, usdc, chain, admin, coverer, receiver):
    h = start_hour(chain)
    fund.deposit(GLOBAL, SEED, 10_000 * USDC, sender=admin)
    fund.deposit(OM, SEED, 1_001, sender=admin)
    assert fund.peak8h(OM) == 1_001  # the current balance
    goto_hour(chain, h + 1)  # snapshot of hour h+1 = 1001: peak 1001, threshold ceil(1001 * 0.7) = 701
    fund.coverLoss(OM, 299, receiver, sender=coverer)  # 702 left
    assert fund.fundRisk(OM) == 0
    fund.coverLoss(OM, 1, receiver, sender=coverer)  # 701 = ceil(700.7): raised (rounded for the fund)
    assert fund.fundRisk(OM) == DRAWDOWN_FROM_PEAK and fund.adlAllowed(OM)
    fund.deposit(OM, DONATION, 1, sender=admin)  # 702: cleared
    assert fund.fundRisk(OM) == 0
    assert fund.fundRisk(BTC) == 0  # per market
    assert_conserved(fund, usdc)


def test_drawdown_flag_clears_once_the_peak_ages_out(fund, chain, admin, coverer, receiver):
    h = start_hour(chain)
    fund.deposit(GLOBAL, SEED, 10_000 * USDC, sender=admin)
    fund.deposit(OM, SEED, 1_000 * USDC, sender=admin)
    goto_hour(chain, h + 1)
    fund.coverLoss(OM, 310 * USDC, receiver, sender=coverer)  # 690 <= 700
    assert fund.fundRisk(OM) == DRAWDOWN_FROM_PEAK
    goto_hour(chain, h + 8)
    assert fund.fundRisk(OM) == DRAWDOWN_FROM_PEAK  # 690 > 50% of 1000 (8h ago): no FAST_DROP
    goto_hour(chain, h + 9)
    assert fund.fundRisk(OM) == 0  # the 1000 of hour h+1 left the window


def test_fast_drop_set_and_not_set(fund, chain, admin, coverer, receiver):
    fund.file(b"drawdownBps".ljust(32, b"\0"), 10_000, sender=admin)  # isolate FAST_DROP
    h = start_hour(chain)
    fund.deposit(GLOBAL, SEED, 10_000 * USDC, sender=admin)
    fund.deposit(OM, SEED, 1_001, sender=admin)
    goto_hour(chain, h + 1)
    fund.coverLoss(OM, 500, receiver, sender=coverer)  # 501 = ceil(1001 * 0.5): but nothing 8h ago yet
    assert fund.balance8hAgo(OM) == 0
    assert fund.fundRisk(OM) == 0  # balance8hAgo == 0: FAST_DROP cannot be raised
    goto_hour(chain, h + 9)  # 8h ago = snapshot of hour h+1 = 1001
    assert fund.balance8hAgo(OM) == 1_001
    assert fund.fundRisk(OM) == FAST_DROP and fund.adlAllowed(OM)
    fund.deposit(OM, DONATION, 1, sender=admin)  # 502 > 501
    assert fund.fundRisk(OM) == 0 and not fund.adlAllowed(OM)
    goto_hour(chain, h + 10)  # 8h ago is now 501 (hour h+2)
    assert fund.fundRisk(OM) == 0


def test_fast_drop_and_drawdown_together(fund, chain, admin, coverer, receiver):
    h = start_hour(chain)
    fund.deposit(GLOBAL, SEED, 10_000 * USDC, sender=admin)
    fund.deposit(OM, SEED, 1_000 * USDC, sender=admin)
    goto_hour(chain, h + 8)
    assert fund.balance8hAgo(OM) == 0  # the balance at the start of hour h
    fund.coverLoss(OM, 600 * USDC, receiver, sender=coverer)
    assert fund.fundRisk(OM) == DRAWDOWN_FROM_PEAK
    goto_hour(chain, h + 9)
    assert fund.balance8hAgo(OM) == 1_000 * USDC
    assert fund.fundRisk(OM) == DRAWDOWN_FROM_PEAK | FAST_DROP
    fund.coverLoss(OM, 400 * USDC, receiver, sender=coverer)  # sub-pool empty; global still healthy
    assert fund.fundRisk(OM) == DRAWDOWN_FROM_PEAK | FAST_DROP


def test_global_depleted_set_and_not_set(fund, usdc, chain, admin, coverer, receiver):
    assert fund.fundRisk(OM) == GLOBAL_DEPLETED  # empty global pool, floor 0
    assert fund.adlAllowed(OM)
    fund.deposit(GLOBAL, SEED, 100 * USDC, sender=admin)
    assert fund.fundRisk(OM) == 0
    fund.file(b"globalFloor".ljust(32, b"\0"), 100 * USDC, sender=admin)
    assert fund.fundRisk(OM) == GLOBAL_DEPLETED  # at the floor counts as depleted
    fund.deposit(GLOBAL, DONATION, 1, sender=admin)
    assert fund.fundRisk(OM) == 0
    fund.file(b"globalFloor".ljust(32, b"\0"), 0, sender=admin)
    fund.coverLoss(OM, 100 * USDC + 1, receiver, sender=coverer)  # sub-pool empty: global pays all
    assert fund.fundRisk(OM) == GLOBAL_DEPLETED
    assert fund.fundRisk(BTC) == GLOBAL_DEPLETED  # shared by every market
    assert_conserved(fund, usdc)


# --- the reference model on its own ---------------------------------------------------------------------------


def test_model_waterfall_and_ring():
    m = InsuranceFundModel()
    m.add_market(OM)
    t = 1_000 * HOUR + 10
    m.deposit(OM, 100, t)
    m.deposit(GLOBAL, 50, t)
    c = m.cover_loss(OM, 400, t + HOUR)  # records hour 1001 = 100 first
    assert (c.from_sub_pool, c.from_global, c.uncovered) == (100, 50, 250)
    assert m.snapshot(OM, t + 4 * HOUR) == [(1_002, 0), (1_003, 0), (1_004, 0)]
    assert m.peak_8h(OM, t + 8 * HOUR) == 100  # window [1001, 1008]
    assert m.peak_8h(OM, t + 9 * HOUR) == 0  # window [1002, 1009]
    assert m.balance_8h_ago(OM, t + 9 * HOUR) == 100
    assert m.fund_risk(OM, t + 8 * HOUR) == DRAWDOWN_FROM_PEAK | GLOBAL_DEPLETED
    assert m.fund_risk(OM, t + 9 * HOUR) == FAST_DROP | GLOBAL_DEPLETED
    assert m.total_in == 150 and m.total_out == 150 and m.total_pooled() == 0


# --- property: contract == model ------------------------------------------------------------------------------

POOLS = [GLOBAL, OM, BTC]
# A fixed gas limit: a transaction estimated in one hour may be mined in the next, and crossing an hour
# boundary costs the snapshot writes the estimate did not see.
GAS = 1_000_000
amounts = st.one_of(st.integers(1, 2_000), st.integers(1, 10**6 * USDC))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.sampled_from([0, 1, 2]), st.sampled_from([SEED, DONATION]), amounts),
        st.tuples(st.just("cover"), st.sampled_from([1, 2]), amounts),
        st.tuples(
            st.just("advance"),
            st.one_of(st.sampled_from([HOUR, 7 * HOUR, 8 * HOUR, 9 * HOUR, 30 * HOUR]), st.integers(1, 10 * HOUR)),
        ),
        st.tuples(st.just("snapshot"), st.sampled_from([0, 1, 2])),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "25")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=operations,
    drawdown_bps=st.sampled_from([3_000, 0, 5_000, 10_000]),
    fast_drop_bps=st.sampled_from([5_000, 0, 2_500, 10_000]),
    global_floor=st.sampled_from([0, 1_000]),
)
def test_property_contract_matches_model(
    fund, usdc, chain, admin, alice, coverer, receiver, ops, drawdown_bps, fast_drop_bps, global_floor
):
    with chain.isolate():
        for what, value in ((b"drawdownBps", drawdown_bps), (b"fastDropBps", fast_drop_bps), (b"globalFloor", global_floor)):
            fund.file(what.ljust(32, b"\0"), value, sender=admin)
        model = InsuranceFundModel(drawdown_bps=drawdown_bps, fast_drop_bps=fast_drop_bps, global_floor=global_floor)
        model.add_market(OM)
        model.add_market(BTC)
        held0, received0 = usdc.balanceOf(fund), usdc.balanceOf(receiver)
        assert held0 == 0 and model.total_pooled() == 0

        for op in ops:
            if op[0] == "deposit":
                _, i, kind, amount = op
                r = fund.deposit(POOLS[i], kind, amount, sender=admin if kind == SEED else alice, gas=GAS)
                model.deposit(POOLS[i], amount, r.timestamp)
            elif op[0] == "cover":
                _, i, amount = op
                r = fund.coverLoss(POOLS[i], amount, receiver, sender=coverer, gas=GAS)
                expected = model.cover_loss(POOLS[i], amount, r.timestamp)
                [e] = events(r, "LossCovered")
                assert (e.fromSubPool, e.fromGlobal, e.uncovered) == (
                    expected.from_sub_pool,
                    expected.from_global,
                    expected.uncovered,
                )
                assert r.return_value == expected.uncovered
            elif op[0] == "advance":
                advance(chain, op[1])
            else:
                r = fund.snapshot(POOLS[op[1]], sender=alice, gas=GAS)
                written = model.snapshot(POOLS[op[1]], r.timestamp)
                assert [(e.hour, e.balance) for e in events(r, "Snapshot")] == written

            now = chain.blocks.head.timestamp
            assert fund.currentHour() == now // HOUR
            for p in POOLS:
                assert fund.poolBalance(p) == model.pool_balance(p)
            for mkt in (OM, BTC):
                assert fund.fundRisk(mkt) == model.fund_risk(mkt, now)
            assert fund.peak8h(OM) == model.peak_8h(OM, now)
            assert fund.balance8hAgo(OM) == model.balance_8h_ago(OM, now)
            held = usdc.balanceOf(fund)
            paid = usdc.balanceOf(receiver) - received0
            assert held == fund.totalPooled() == model.total_pooled()
            assert model.total_in == paid + held and model.total_out == paid  # in = out + held
