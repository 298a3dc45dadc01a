"""Adversarial and bad-input tests against the real contracts (issue #8). Every case ends in a named revert or
a documented safe outcome, and checks that nothing was lost: the USDC held by the clearinghouse, the fund and
every wallet involved, the fund's pools, free balances and positions are the same before and after (or differ
by exactly the documented amount).

Cases already covered elsewhere, not repeated here: a stale, a never-answering, a zero or negative, a far-off
source and a jump inside its window, at the oracle (tests/test_oracle.py); a replayed, cancelled, expired or
other-market order and removing margin in the block of a price drop (tests/test_clearinghouse.py); a zero take,
a take for someone else without a callback, a callback that re-enters `take` or refuses, and restarting a
fresh auction, a callback take naming a stranger's taker or an account without code
(tests/test_liquidation_auction.py); an ADL candidate list wrongly ordered, incomplete, with surplus, closed,
unknown or same-side candidates, and a skipped better-ranked position proven by challenge (tests/test_adl.py);
zero, negative-discount, unfunded and foreign standing bids, and bidders touching others' bids
(tests/test_standing_bids.py). Role refusals of the ADL queue and the standing-bid book are below.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import ape
import pytest
from ape.exceptions import ContractLogicError
from eth_utils import keccak

from backstop.chain.deploy import MarketSpec, OracleSpec, deploy_system
from backstop.chain.orders import sign_order
from backstop.model.auction import incentive
from backstop.units import market_id, notional_down, to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, fund_account, make_order, open_underwater, set_price, sign, trade, units

GLOBAL = b"\0" * 32
SIZE = units(8_000)
JUMPY = "JMP-USD"  # a market whose oracle refuses moves of more than 20% within 10 minutes
JID = market_id(JUMPY)
DONATION = 4  # IInsuranceFund.InflowKind.Donation
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


# ---------------------------------------------------------------- systems and actors


@pytest.fixture(scope="module")
def system(accounts):
    return deploy_system(
        accounts[0],
        [
            MarketSpec(MARKET, "6", fund_seed=10_000),
            MarketSpec(JUMPY, "100", fund_seed=1_000, oracle=OracleSpec(max_jump_bps=2_000, jump_window=600)),
        ],
        global_seed=5_000,
    )


@pytest.fixture(scope="module")
def actors(system, accounts):
    """trader, counterparty, keeper, kicker, stranger (no role anywhere)."""
    trader, counterparty, keeper, kicker, stranger = accounts[1], accounts[2], accounts[3], accounts[4], accounts[5]
    for a in (trader, counterparty, keeper):
        fund_account(system, a, to_usdc(100_000))
    return trader, counterparty, keeper, kicker, stranger


@pytest.fixture(scope="module")
def hooked(accounts, project):
    """A second, complete deployment whose USDC is HookToken: every transfer calls back into hooked parties."""
    admin = accounts[0]
    token = admin.deploy(project.HookToken)
    token.mint(admin, to_usdc(15_000), sender=admin)
    hsys = deploy_system(admin, [MarketSpec(MARKET, "6", fund_seed=10_000)], global_seed=5_000, usdc_address=token.address)
    return hsys, token


@pytest.fixture
def attacker(accounts, project):
    """A Reenterer contract owned by accounts[6]."""
    return accounts[6].deploy(project.Reenterer)


def _call(contract: Any, fn: str, *args: Any) -> bytes:
    """ABI-encoded calldata of `contract.fn(*args)`."""
    return bytes(getattr(contract, fn).as_transaction(*args, sender=contract.address).data)


def _fund_attacker(sys_, token, attacker, amount: int) -> None:
    """Mints `amount` to the attacker contract and deposits it into the clearinghouse as its free balance."""
    owner = ape.accounts.test_accounts[6]
    token.mint(attacker, amount, sender=ape.accounts.test_accounts[0])
    attacker.execute(token, _call(token, "approve", sys_.clearinghouse.address, 2**256 - 1), sender=owner)
    attacker.execute(sys_.clearinghouse, _call(sys_.clearinghouse, "deposit", amount), sender=owner)


def books(sys_, *accounts: Any, markets: tuple[bytes, ...] = (MID,)) -> dict[str, Any]:
    """Everything a bad call could move: USDC held by the contracts and the accounts, the fund's pools, free
    balances, positions and bad debt."""
    usdc, house, fund = sys_.usdc, sys_.clearinghouse, sys_.fund
    out: dict[str, Any] = {
        "usdc:clearinghouse": usdc.balanceOf(house),
        "usdc:fund": usdc.balanceOf(fund),
        "pool:global": fund.poolBalance(GLOBAL),
    }
    for m in markets:
        out[f"pool:{m.hex()}"] = fund.poolBalance(m)
        out[f"badDebt:{m.hex()}"] = house.badDebt(m)
    for a in accounts:
        out[f"usdc:{a}"] = usdc.balanceOf(a)
        out[f"free:{a}"] = house.freeBalance(a)
        for m in markets:
            p = house.getPosition(m, a)
            out[f"position:{a}:{m.hex()}"] = (p.size, p.entryPrice, p.margin)
    return out


def assert_conserved(sys_, before: dict[str, Any], after: dict[str, Any]) -> None:
    """The fund holds exactly its pools, and the USDC of the contracts and the accounts watched sums the same."""
    assert sys_.usdc.balanceOf(sys_.fund) == sys_.fund.totalPooled()
    total = lambda b: sum(v for k, v in b.items() if k.startswith("usdc:"))  # noqa: E731
    assert total(after) == total(before)


@contextmanager
def reverts_named(contract: Any, name: str) -> Iterator[None]:
    """Like ape.reverts(contract.Error), also when the error comes from a contract called through another one
    (its selector is compared, whatever ABI the transaction's target has)."""
    errors = [e for e in contract.contract_type.errors if e.name == name]
    assert errors, f"{contract.contract_type.name} has no error {name}"
    selector = keccak(text=errors[0].selector)[:4]
    with pytest.raises(ContractLogicError) as info:
        yield
    err = info.value
    abi = getattr(err, "abi", None)
    if abi is not None:
        assert abi.name == name, f"reverted with {abi.name}, expected {name}"
        return
    message = str(getattr(err, "revert_message", "") or err)
    assert selector.hex() in message.replace("0x", ""), f"reverted with {message!r}, expected {name}"


def _advance(chain, seconds: int) -> None:
    chain.mine(timestamp=chain.pending_timestamp + seconds)


def _liquidate(system, trader, kicker) -> int:
    return system.auction.liquidate(MID, trader, sender=kicker).return_value


# ---------------------------------------------------------------- oracle attacks, seen from the money paths


def test_a_stale_crash_print_cannot_trigger_a_liquidation(system, actors, chain):
    trader, counterparty, _, kicker, _ = actors
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    src = system.sources[MARKET]
    stamp = chain.pending_timestamp - 4_000  # older than the 1-hour maxAge
    src["venue-a"].setAnswerAt(to_wad("5.5") // 10**10, stamp, sender=ape.accounts.test_accounts[0])
    src["venue-b"].setAnswerAt(to_wad("5.5") // 10**10, stamp, sender=ape.accounts.test_accounts[0])
    before = books(system, trader, kicker)
    with ape.reverts(system.clearinghouse.NotLiquidatable):  # only venue-c, fresh at $6, is used
        system.auction.liquidate(MID, trader, sender=kicker)
    assert books(system, trader, kicker) == before


def test_a_stale_pre_crash_print_cannot_block_a_liquidation(system, actors, chain):
    trader, counterparty, _, kicker, _ = actors
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    _advance(chain, 3_700)  # venue-c stops updating at $6 and goes stale
    src = system.sources[MARKET]
    for venue in ("venue-a", "venue-b"):
        src[venue].setAnswer(to_wad("5.72") // 10**10, sender=ape.accounts.test_accounts[0])
    before = books(system, trader, kicker)
    tx = system.auction.liquidate(MID, trader, sender=kicker)
    started = [e for e in tx.events if e.event_name == "AuctionStarted"][0]
    assert started.anchor == to_wad("5.72")  # the stale $6 was not used
    paid = [e for e in tx.events if e.event_name == "IncentivePaid"][0].amount
    after = books(system, trader, kicker)
    assert after[f"usdc:{kicker}"] == before[f"usdc:{kicker}"] + paid
    assert after["usdc:fund"] == before["usdc:fund"] - paid
    assert_conserved(system, before, after)


def test_all_sources_stale_halts_liquidations_trades_and_margin_removal(system, actors, chain):
    trader, counterparty, _, kicker, _ = actors
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    _advance(chain, 3_700)
    before = books(system, trader, counterparty, kicker)
    with ape.reverts(system.oracle.NotEnoughSources):
        system.auction.liquidate(MID, trader, sender=kicker)
    with ape.reverts(system.oracle.NotEnoughSources):
        trade(system, trader, counterparty, units(1), to_wad(6), to_usdc(1), to_usdc(1))
    with ape.reverts(system.oracle.NotEnoughSources):
        system.clearinghouse.removeMargin(MID, 1, sender=trader)
    assert books(system, trader, counterparty, kicker) == before


def test_free_balance_can_always_leave_even_without_an_oracle(system, actors, chain):
    """Documented safe outcome: a free balance is not at risk, so a dead oracle does not trap it."""
    trader, counterparty, _, _, _ = actors
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    _advance(chain, 3_700)
    before = books(system, trader)
    free = system.clearinghouse.freeBalance(trader)
    system.clearinghouse.withdraw(free, sender=trader)
    after = books(system, trader)
    assert after[f"usdc:{trader}"] == before[f"usdc:{trader}"] + free and after[f"free:{trader}"] == 0
    assert after[f"position:{trader}:{MID.hex()}"] == before[f"position:{trader}:{MID.hex()}"]
    assert_conserved(system, before, after)


def test_one_manipulated_venue_cannot_liquidate_a_healthy_long_or_short(system, actors):
    trader, counterparty, _, kicker, _ = actors
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))  # trader long, counterparty short
    before = books(system, trader, counterparty, kicker)
    venue = system.sources[MARKET]["venue-a"]
    for crazy, victim in (("0.01", trader), ("1000", counterparty)):  # far below: the long's liquidation price; above: the short's
        venue.setAnswer(to_wad(crazy) // 10**10, sender=ape.accounts.test_accounts[0])
        with ape.reverts(system.clearinghouse.NotLiquidatable):
            system.auction.liquidate(MID, victim, sender=kicker)
        report = {r[0]: r[6] for r in system.oracle.sourceReport(MID)[0]}  # (source, ..., used)
        assert report[venue.address] is False
    assert books(system, trader, counterparty, kicker) == before


def test_a_zero_price_on_every_venue_halts_instead_of_liquidating_at_zero(system, actors):
    trader, counterparty, _, kicker, _ = actors
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(system, MARKET, 0)
    before = books(system, trader, counterparty, kicker)
    with ape.reverts(system.oracle.NotEnoughSources):
        system.auction.liquidate(MID, trader, sender=kicker)
    with ape.reverts(system.oracle.NotEnoughSources):
        trade(system, trader, counterparty, units(1), to_wad(6), 0, 0)
    assert books(system, trader, counterparty, kicker) == before


def test_an_absurd_jump_is_refused_until_it_has_lasted_the_jump_window(system, actors, chain):
    trader, counterparty, _, kicker, _ = actors
    # trader short 100 units at $100 with $600 margin (20x bracket needs $500)
    trade(system, counterparty, trader, units(100), to_wad(100), to_usdc(5_000), to_usdc(600), market=JID)
    set_price(system, JUMPY, "10000")  # a 100x print on every venue
    before = books(system, trader, kicker, markets=(JID,))
    with ape.reverts(system.oracle.PriceJumpTooLarge):
        system.auction.liquidate(JID, trader, sender=kicker)
    assert books(system, trader, kicker, markets=(JID,)) == before
    _advance(chain, 601)  # documented: a move that lasts the window is real and is accepted
    system.auction.liquidate(JID, trader, sender=kicker)
    assert system.clearinghouse.inLiquidation(JID, trader)


# ---------------------------------------------------------------- unauthorised calls to every role function

# Every state-changing function of every contract, as gated (needs a role) or open (anyone, by design).
ROLE_GATED: dict[str, tuple[str, ...]] = {
    "PriceOracle": ("setMarketConfig", "addSource", "removeSource", "setHighWindow", "grantRole", "revokeRole"),
    "InsuranceFund": ("addMarket", "file", "coverLoss", "scheduleWithdrawal", "executeWithdrawal", "cancelWithdrawal", "grantRole", "revokeRole"),
    "Clearinghouse": ("listMarket", "setTiers", "setPriceBand", "beginLiquidation", "liquidationFill", "settleKeeper",
                      "fundMargin", "beginAdl", "adlFill", "grantRole", "revokeRole"),
    "LiquidationAuction": ("setCurve", "setBook", "file", "setGlobalHole", "handToAdl", "grantRole", "revokeRole"),
    "StandingBidBook": ("setLevels", "setMaxMatches", "absorb", "grantRole", "revokeRole"),
    "AdlQueue": ("file", "grantRole", "revokeRole"),
    "LinearCurve": ("file", "grantRole", "revokeRole"),
    "StairstepExponentialCurve": ("file", "grantRole", "revokeRole"),
    "MockPriceSource": ("setAnswer", "setAnswerAt", "grantRole", "revokeRole"),
    "MockUSDC": ("mint", "grantRole", "revokeRole"),
}
OPEN: dict[str, tuple[str, ...]] = {
    "PriceOracle": ("poke", "renounceRole"),
    "InsuranceFund": ("deposit", "snapshot", "renounceRole"),  # deposit: Donation open, other kinds CREDITOR_ROLE
    "Clearinghouse": ("deposit", "withdraw", "addMargin", "removeMargin", "trade", "cancelOrder", "renounceRole"),
    "LiquidationAuction": ("liquidate", "liquidateMany", "release", "take", "redo", "renounceRole"),
    "StandingBidBook": ("placeBid", "reduceBid", "cancelBid", "withdraw", "renounceRole"),
    "AdlQueue": ("execute", "challenge", "claim", "releaseBond", "renounceRole"),  # execute: bonded, checked
    "LinearCurve": ("renounceRole",),
    "StairstepExponentialCurve": ("renounceRole",),
    "MockPriceSource": ("renounceRole",),
    "MockUSDC": ("transfer", "transferFrom", "approve", "renounceRole"),
}


def _dummy(abi_type: Any, stranger: Any) -> Any:
    t = abi_type.type
    if t.endswith("]"):
        return []
    if t == "tuple":
        return tuple(_dummy(c, stranger) for c in abi_type.components)
    if t == "address":
        return stranger.address
    if t == "bool":
        return False
    if t.startswith("bytes"):
        return b"\x01" * (int(t[5:]) if t[5:] else 1)
    if t == "string":
        return "x"
    return 1  # uint / int


def _contracts(system) -> dict[str, Any]:
    return {
        "PriceOracle": system.oracle,
        "InsuranceFund": system.fund,
        "Clearinghouse": system.clearinghouse,
        "LiquidationAuction": system.auction,
        "StandingBidBook": system.book,
        "AdlQueue": system.adl,
        "LinearCurve": system.curves[MARKET],
        "MockPriceSource": system.sources[MARKET]["venue-a"],
        "MockUSDC": system.usdc,
    }


def _assert_all_refused(system, contract: Any, names: tuple[str, ...], stranger: Any) -> None:
    before = books(system, stranger)
    for name in names:
        for abi in [m for m in contract.contract_type.mutable_methods if m.name == name]:
            args = [_dummy(i, stranger) for i in abi.inputs]
            with reverts_named(contract, "AccessControlUnauthorizedAccount"):
                getattr(contract, name)(*args, sender=stranger)
    assert books(system, stranger) == before


def test_every_state_changing_function_is_classified_as_gated_or_open(system, project, accounts):
    stairstep = accounts[0].deploy(project.StairstepExponentialCurve, accounts[0], 10**27 * 99 // 100, 60)
    found = {**_contracts(system), "StairstepExponentialCurve": stairstep}
    for name, contract in found.items():
        mutable = {m.name for m in contract.contract_type.mutable_methods}
        classified = set(ROLE_GATED[name]) | set(OPEN[name])
        assert mutable == classified, (
            f"{name}: unclassified {sorted(mutable - classified)} / gone {sorted(classified - mutable)}; "
            "list every new state-changing function in ROLE_GATED (and test its refusal) or OPEN in tests/test_adversarial.py"
        )


@pytest.mark.parametrize(
    "name", ["PriceOracle", "InsuranceFund", "Clearinghouse", "LiquidationAuction", "StandingBidBook", "AdlQueue"]
)
def test_a_stranger_is_refused_by_every_role_function_of_the_core(system, actors, name):
    _assert_all_refused(system, _contracts(system)[name], ROLE_GATED[name], actors[4])


def test_a_stranger_is_refused_by_every_role_function_of_curves_sources_and_mock_usdc(system, actors, project, accounts):
    stranger = actors[4]
    stairstep = accounts[0].deploy(project.StairstepExponentialCurve, accounts[0], 10**27 * 99 // 100, 60)
    found = {**_contracts(system), "StairstepExponentialCurve": stairstep}
    for name in ("LinearCurve", "StairstepExponentialCurve", "MockPriceSource", "MockUSDC"):
        _assert_all_refused(system, found[name], ROLE_GATED[name], stranger)


def test_a_trader_cannot_credit_the_fund_as_a_penalty_or_seed(system, actors):
    """Only donations are open: a typed inflow from a stranger would fake the fund's history."""
    trader = actors[0]
    system.usdc.mint(trader, to_usdc(10), sender=ape.accounts.test_accounts[0])
    system.usdc.approve(system.fund, to_usdc(10), sender=trader)
    before = books(system, trader)
    for kind in (0, 1, 2, 3):  # Seed, LiquidationSurplus, LiquidationPenalty, TailRiskMargin
        with ape.reverts(system.fund.AccessControlUnauthorizedAccount):
            system.fund.deposit(MID, kind, to_usdc(10), sender=trader)
    assert books(system, trader) == before


# ---------------------------------------------------------------- reentrancy through a token with transfer hooks


def test_hook_token_withdraw_cannot_reenter_withdraw(hooked, attacker):
    hsys, token = hooked
    owner = ape.accounts.test_accounts[6]
    _fund_attacker(hsys, token, attacker, to_usdc(1_000))
    attacker.execute(token, _call(token, "registerHook", True), sender=owner)
    attacker.arm(hsys.clearinghouse, _call(hsys.clearinghouse, "withdraw", to_usdc(1_000)), sender=owner)
    before = books(hsys, attacker)
    with reverts_named(hsys.clearinghouse, "ReentrancyGuardReentrantCall"):
        attacker.execute(hsys.clearinghouse, _call(hsys.clearinghouse, "withdraw", to_usdc(1_000)), sender=owner)
    assert books(hsys, attacker) == before and attacker.reentries() == 0


def test_hook_token_deposit_cannot_reenter_withdraw_before_paying(hooked, attacker):
    hsys, token = hooked
    owner = ape.accounts.test_accounts[6]
    _fund_attacker(hsys, token, attacker, to_usdc(1_000))
    token.mint(attacker, to_usdc(500), sender=ape.accounts.test_accounts[0])
    attacker.execute(token, _call(token, "registerHook", True), sender=owner)
    # the sender's hook runs before its tokens move, before the clearinghouse credits the free balance
    attacker.arm(hsys.clearinghouse, _call(hsys.clearinghouse, "withdraw", to_usdc(1_500)), sender=owner)
    before = books(hsys, attacker)
    with reverts_named(hsys.clearinghouse, "ReentrancyGuardReentrantCall"):
        attacker.execute(hsys.clearinghouse, _call(hsys.clearinghouse, "deposit", to_usdc(500)), sender=owner)
    assert books(hsys, attacker) == before


def test_hook_token_donation_cannot_reenter_the_fund(hooked, attacker):
    hsys, token = hooked
    owner = ape.accounts.test_accounts[6]
    token.mint(attacker, to_usdc(100), sender=ape.accounts.test_accounts[0])
    attacker.execute(token, _call(token, "approve", hsys.fund.address, 2**256 - 1), sender=owner)
    attacker.execute(token, _call(token, "registerHook", True), sender=owner)
    attacker.arm(hsys.fund, _call(hsys.fund, "deposit", MID, DONATION, to_usdc(1)), sender=owner)
    before = books(hsys, attacker)
    with reverts_named(hsys.fund, "ReentrancyGuardReentrantCall"):
        attacker.execute(hsys.fund, _call(hsys.fund, "deposit", MID, DONATION, to_usdc(100)), sender=owner)
    assert books(hsys, attacker) == before


def _hooked_underwater(hsys, token, accounts) -> tuple[Any, Any]:
    """Two traders of the hook-token system long and below maintenance; returns them."""
    admin = accounts[0]
    traders = accounts[1], accounts[7]
    counterparty = accounts[2]
    for a in (*traders, counterparty):
        token.mint(a, to_usdc(100_000), sender=admin)
        token.approve(hsys.clearinghouse, to_usdc(100_000), sender=a)
        hsys.clearinghouse.deposit(to_usdc(100_000), sender=a)
    for t in traders:
        trade(hsys, t, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(hsys, MARKET, "5.72")
    return traders


def test_hook_on_the_keeper_incentive_cannot_reenter_the_auction(hooked, attacker, accounts):
    hsys, token = hooked
    owner = accounts[6]
    first, second = _hooked_underwater(hsys, token, accounts)
    attacker.execute(token, _call(token, "registerHook", True), sender=owner)
    attacker.arm(hsys.auction, _call(hsys.auction, "liquidate", MID, second.address), sender=owner)
    before = books(hsys, attacker, first, second)
    with reverts_named(hsys.auction, "ReentrancyGuardReentrantCall"):
        attacker.execute(hsys.auction, _call(hsys.auction, "liquidate", MID, first.address), sender=owner)
    assert books(hsys, attacker, first, second) == before
    assert not hsys.clearinghouse.inLiquidation(MID, first)


def test_hook_on_the_keeper_incentive_cannot_reenter_the_fund_paying_it(hooked, attacker, accounts):
    hsys, token = hooked
    owner = accounts[6]
    first, _ = _hooked_underwater(hsys, token, accounts)
    token.mint(attacker, to_usdc(10), sender=accounts[0])
    attacker.execute(token, _call(token, "approve", hsys.fund.address, 2**256 - 1), sender=owner)
    attacker.execute(token, _call(token, "registerHook", True), sender=owner)
    attacker.arm(hsys.fund, _call(hsys.fund, "deposit", MID, DONATION, to_usdc(1)), sender=owner)
    before = books(hsys, attacker, first)
    with reverts_named(hsys.fund, "ReentrancyGuardReentrantCall"):
        attacker.execute(hsys.auction, _call(hsys.auction, "liquidate", MID, first.address), sender=owner)
    assert books(hsys, attacker, first) == before


def test_hook_depositing_its_incentive_during_the_payout_is_safe(hooked, attacker, accounts):
    """Documented safe outcome: from inside the incentive transfer the keeper may use another contract that is
    not mid-update (here: deposit into the clearinghouse); every unit stays accounted for."""
    hsys, token = hooked
    owner = accounts[6]
    first, _ = _hooked_underwater(hsys, token, accounts)
    attacker.execute(token, _call(token, "approve", hsys.clearinghouse.address, 2**256 - 1), sender=owner)
    attacker.execute(token, _call(token, "registerHook", True), sender=owner)
    attacker.arm(hsys.clearinghouse, _call(hsys.clearinghouse, "deposit", 1), sender=owner)
    before = books(hsys, attacker, first)
    tx = attacker.execute(hsys.auction, _call(hsys.auction, "liquidate", MID, first.address), sender=owner)
    paid = sum(e.amount for e in tx.events if e.event_name == "IncentivePaid")
    after = books(hsys, attacker, first)
    assert attacker.reentries() == 1 and paid > 0
    assert after[f"free:{attacker}"] == 1 and after[f"usdc:{attacker}"] == before[f"usdc:{attacker}"] + paid - 1
    assert_conserved(hsys, before, after)


# ---------------------------------------------------------------- keepers with callbacks that re-enter


@pytest.fixture
def two_underwater(system, actors, accounts):
    """The trader and accounts[7], both long 8,000 at $6 with $2,500 and below maintenance at $5.72."""
    trader, counterparty = actors[0], actors[1]
    second = accounts[7]
    fund_account(system, second, to_usdc(10_000))
    trade(system, second, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    open_underwater(system, trader, counterparty)
    return trader, second


def _callback_take(system, attacker, id_: int, margin: int, keeper) -> Any:
    price = system.auction.getStatus(id_).price
    return system.auction.take(id_, SIZE, price, margin, attacker, b"\x01", sender=keeper)


def test_callback_cannot_start_another_liquidation_mid_take(system, actors, two_underwater, attacker):
    _, _, keeper, kicker, _ = actors
    first, second = two_underwater
    id_ = _liquidate(system, first, kicker)
    attacker.arm(system.auction, _call(system.auction, "liquidate", MID, second.address), sender=ape.accounts.test_accounts[6])
    before = books(system, first, second, attacker, keeper)
    with ape.reverts(system.auction.ReentrancyGuardReentrantCall):
        _callback_take(system, attacker, id_, 0, keeper)
    assert books(system, first, second, attacker, keeper) == before
    assert system.auction.getStatus(id_).qty == SIZE


def test_callback_cannot_restart_the_auction_it_is_taking(system, actors, underwater_id, attacker, chain):
    _, _, keeper, _, _ = actors
    id_, trader = underwater_id
    attacker.arm(system.auction, _call(system.auction, "redo", id_), sender=ape.accounts.test_accounts[6])
    before = books(system, trader, attacker, keeper)
    with ape.reverts(system.auction.ReentrancyGuardReentrantCall):
        _callback_take(system, attacker, id_, 0, keeper)
    assert books(system, trader, attacker, keeper) == before


def test_callback_that_withdraws_its_margin_mid_take_is_refused(system, actors, underwater_id, attacker):
    _, _, keeper, _, _ = actors
    id_, trader = underwater_id
    _fund_attacker(system, system.usdc, attacker, to_usdc(6_000))
    attacker.arm(system.clearinghouse, _call(system.clearinghouse, "withdraw", to_usdc(6_000)), sender=ape.accounts.test_accounts[6])
    before = books(system, trader, attacker, keeper)
    with ape.reverts(system.clearinghouse.InsufficientFreeBalance):  # the margin it promised is gone
        _callback_take(system, attacker, id_, to_usdc(6_000), keeper)
    assert books(system, trader, attacker, keeper) == before


def test_callback_taker_that_never_pays_is_refused(system, actors, underwater_id, attacker):
    _, _, keeper, _, _ = actors
    id_, trader = underwater_id
    before = books(system, trader, attacker, keeper)
    with ape.reverts(system.clearinghouse.InsufficientFreeBalance):
        _callback_take(system, attacker, id_, to_usdc(6_000), keeper)
    assert books(system, trader, attacker, keeper) == before


@pytest.fixture
def underwater_id(system, actors):
    """The trader underwater and in auction; returns (auction id, trader)."""
    trader, counterparty, _, kicker, _ = actors
    open_underwater(system, trader, counterparty)
    return _liquidate(system, trader, kicker), trader


# ---------------------------------------------------------------- dust, zero and double actions


def test_zero_bid_on_a_long_is_refused(system, actors, underwater_id):
    _, _, keeper, _, _ = actors
    id_, trader = underwater_id
    before = books(system, trader, keeper)
    with ape.reverts(system.auction.PriceBeyondLimit):  # the keeper offers to pay at most 0
        system.auction.take(id_, SIZE, 0, to_usdc(6_000), keeper, b"", sender=keeper)
    assert books(system, trader, keeper) == before


def test_zero_size_orders_are_refused(system, actors):
    trader, counterparty, _, _, _ = actors
    before = books(system, trader, counterparty)
    with ape.reverts(system.clearinghouse.OrdersMismatched):
        trade(system, trader, counterparty, 0, to_wad(6), to_usdc(10), to_usdc(10))
    assert books(system, trader, counterparty) == before


def test_zero_margin_moves_are_refused(system, actors):
    trader, counterparty, _, _, _ = actors
    trade(system, trader, counterparty, units(100), to_wad(6), to_usdc(100), to_usdc(100))
    before = books(system, trader)
    with ape.reverts(system.clearinghouse.ZeroAmount):
        system.clearinghouse.addMargin(MID, 0, sender=trader)
    with ape.reverts(system.clearinghouse.ZeroAmount):
        system.clearinghouse.removeMargin(MID, 0, sender=trader)
    assert books(system, trader) == before


def test_liquidating_twice_is_refused_and_pays_once(system, actors, underwater_id):
    _, _, _, kicker, _ = actors
    id_, trader = underwater_id
    before = books(system, trader, kicker)
    with ape.reverts(system.clearinghouse.PositionInLiquidation):
        system.auction.liquidate(MID, trader, sender=kicker)
    assert books(system, trader, kicker) == before


def test_liquidating_a_position_already_sold_is_refused(system, actors, underwater_id):
    _, _, keeper, kicker, _ = actors
    id_, trader = underwater_id
    price = system.auction.getStatus(id_).price
    system.auction.take(id_, SIZE, price, to_usdc(6_000), keeper, b"", sender=keeper)
    before = books(system, trader, kicker, keeper)
    with ape.reverts(system.clearinghouse.NoPosition):
        system.auction.liquidate(MID, trader, sender=kicker)
    with ape.reverts(system.auction.NotActive):
        system.auction.take(id_, SIZE, price, 0, keeper, b"", sender=keeper)
    assert books(system, trader, kicker, keeper) == before


def test_restarting_twice_to_farm_the_tip_pays_once(system, actors, underwater_id, chain):
    _, _, _, kicker, stranger = actors
    id_, trader = underwater_id
    _advance(chain, 1_801)
    system.auction.redo(id_, sender=kicker)
    before = books(system, trader, kicker, stranger)
    with ape.reverts(system.auction.AuctionNotStale):  # the restart made it fresh
        system.auction.redo(id_, sender=stranger)
    assert books(system, trader, kicker, stranger) == before


def test_a_dust_position_is_liquidated_without_paying_an_incentive(system, actors):
    """A position below the auction's `dust` notional earns its liquidator nothing: otherwise anyone could open
    dust positions and liquidate them to farm the fund's flat tip (Maker's `chost` rule)."""
    trader, counterparty, keeper, kicker, _ = actors
    trade(system, trader, counterparty, units(1), to_wad(6), to_usdc("0.35"), to_usdc(1))  # $6 notional
    set_price(system, MARKET, "5.74")
    assert system.clearinghouse.isLiquidatable(MID, trader)
    before = books(system, trader, kicker, keeper)
    tx = system.auction.liquidate(MID, trader, sender=kicker)
    assert incentive(notional_down(units(1), to_wad("5.74")), to_usdc(5), 5, to_usdc(500), dust=to_usdc(10)) == 0
    assert not [e for e in tx.events if e.event_name == "IncentivePaid"]
    assert books(system, trader, kicker, keeper)[f"usdc:{kicker}"] == before[f"usdc:{kicker}"]
    id_ = tx.return_value
    price = system.auction.getStatus(id_).price
    system.auction.take(id_, units(1), price, to_usdc(1), keeper, b"", sender=keeper)  # still sold, in full
    after = books(system, trader, kicker, keeper)
    assert after[f"position:{trader}:{MID.hex()}"][0] == 0
    assert_conserved(system, before, after)


# ---------------------------------------------------------------- signatures replayed elsewhere


def test_an_order_signed_for_another_chain_is_refused(system, actors, chain):
    trader, counterparty, _, _, stranger = actors
    mo = make_order(trader, MID, units(1), to_wad(6), to_usdc(10))
    to = make_order(counterparty, MID, -units(1), to_wad(6), to_usdc(10))
    foreign = sign_order(mo, trader.private_key, chain.chain_id + 1, str(system.clearinghouse.address))
    before = books(system, trader, counterparty)
    with ape.reverts(system.clearinghouse.BadSignature):
        system.clearinghouse.trade(mo.as_tuple(), foreign, to.as_tuple(), sign(system, to, counterparty), sender=stranger)
    assert books(system, trader, counterparty) == before


def test_an_order_signed_for_another_deployment_is_refused(system, hooked, actors, chain):
    hsys, _ = hooked
    trader, counterparty, _, _, stranger = actors
    mo = make_order(trader, MID, units(1), to_wad(6), to_usdc(10))
    to = make_order(counterparty, MID, -units(1), to_wad(6), to_usdc(10))
    elsewhere = sign_order(mo, trader.private_key, chain.chain_id, str(hsys.clearinghouse.address))
    before = books(system, trader, counterparty)
    with ape.reverts(system.clearinghouse.BadSignature):
        system.clearinghouse.trade(mo.as_tuple(), elsewhere, to.as_tuple(), sign(system, to, counterparty), sender=stranger)
    assert books(system, trader, counterparty) == before


def test_a_malleated_signature_cannot_fill_an_order_twice(system, actors):
    trader, counterparty, _, _, stranger = actors
    mo = make_order(trader, MID, units(1), to_wad(6), to_usdc(10))
    sig = sign(system, mo, trader)
    to1 = make_order(counterparty, MID, -units(1), to_wad(6), to_usdc(10))
    system.clearinghouse.trade(mo.as_tuple(), sig, to1.as_tuple(), sign(system, to1, counterparty), sender=stranger)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # the other valid (r, s, v) of the same key
    to2 = make_order(counterparty, MID, -units(1), to_wad(6), to_usdc(10))
    before = books(system, trader, counterparty)
    with ape.reverts(system.clearinghouse.OrderAlreadyUsed):  # orders are spent by digest, not by signature
        system.clearinghouse.trade(mo.as_tuple(), twin, to2.as_tuple(), sign(system, to2, counterparty), sender=stranger)
    assert books(system, trader, counterparty) == before


# ---------------------------------------------------------------- overflow-sized amounts


@pytest.mark.parametrize("amount", [2**128, 2**255, 2**256 - 1])
def test_overflow_sized_deposits_and_withdrawals_are_refused(system, actors, amount):
    trader = actors[0]
    before = books(system, trader)
    with reverts_named(system.usdc, "ERC20InsufficientAllowance"):
        system.clearinghouse.deposit(amount, sender=trader)
    with ape.reverts(system.clearinghouse.InsufficientFreeBalance):
        system.clearinghouse.withdraw(amount, sender=trader)
    with reverts_named(system.usdc, "ERC20InsufficientAllowance"):
        system.fund.deposit(MID, DONATION, amount, sender=trader)
    assert books(system, trader) == before


@pytest.mark.parametrize("amount", [2**128, 2**255, 2**256 - 1])
def test_overflow_sized_margin_moves_are_refused(system, actors, amount):
    trader, counterparty = actors[0], actors[1]
    trade(system, trader, counterparty, units(100), to_wad(6), to_usdc(100), to_usdc(100))
    before = books(system, trader)
    with ape.reverts(system.clearinghouse.InsufficientFreeBalance):
        system.clearinghouse.addMargin(MID, amount, sender=trader)
    with ape.reverts(system.clearinghouse.InsufficientPositionMargin):
        system.clearinghouse.removeMargin(MID, amount, sender=trader)
    assert books(system, trader) == before


@pytest.mark.parametrize(("size", "error"), [(2**100, "NotionalAboveTopTier"), (2**127, "PositionTooLarge"), (2**255 - 1, "PositionTooLarge")])
def test_overflow_sized_positions_are_refused(system, actors, size, error):
    """Beyond the top tier's notional, or beyond what a position record holds (2^127 - 1 units): refused by name."""
    trader, counterparty, _, _, _ = actors
    before = books(system, trader, counterparty)
    with ape.reverts(getattr(system.clearinghouse, error)):
        trade(system, trader, counterparty, size, to_wad(6), to_usdc(10), to_usdc(10))
    assert books(system, trader, counterparty) == before


def test_the_most_negative_size_is_refused(system, actors):
    trader, counterparty, _, _, _ = actors
    before = books(system, trader, counterparty)
    # -(-2**255) does not exist in int256: no order can match it, and it is refused by name, not by a panic
    mo = make_order(trader, MID, -(2**255), to_wad(6), to_usdc(10))
    to = make_order(counterparty, MID, -(2**255), to_wad(6), to_usdc(10))
    with ape.reverts(system.clearinghouse.OrdersMismatched):
        system.clearinghouse.trade(mo.as_tuple(), sign(system, mo, trader), to.as_tuple(), sign(system, to, counterparty), sender=trader)
    assert books(system, trader, counterparty) == before


def test_an_overflow_sized_take_fills_only_what_is_left(system, actors, underwater_id):
    """Documented safe outcome: `maxQty` is a cap, so 2**256 - 1 takes exactly the position."""
    _, _, keeper, _, _ = actors
    id_, trader = underwater_id
    price = system.auction.getStatus(id_).price
    before = books(system, trader, keeper)
    tx = system.auction.take(id_, 2**256 - 1, price, to_usdc(6_000), keeper, b"", sender=keeper)
    assert [e for e in tx.events if e.event_name == "AuctionTaken"][0].qty == SIZE
    after = books(system, trader, keeper)
    assert after[f"position:{keeper}:{MID.hex()}"][0] == SIZE
    assert_conserved(system, before, after)
