"""backstop.lab: a venue-rulebook worked example in a few lines, with USDC conservation checked after every step,
and the conservation check failing when USDC moves behind the ledger's back."""

import copy

import pytest

from backstop.chain.deploy import AdlSpec, MarketSpec
from backstop.lab import AdlNotTriggered, ConservationError, Lab, LabError, b32
from backstop.model import adl as model
from backstop.model.ledger import bankruptcy_price, reduce_position
from backstop.units import market_id, to_usdc, to_wad

OM = "OM-USD"


@pytest.fixture(scope="module")
def lab():
    return Lab.deploy([MarketSpec(OM, "6")], global_seed=300, adl=AdlSpec(loss_cap_bps=5_000, min_bond=100))


@pytest.fixture(scope="module")
def people(lab, accounts):
    """alice 10x long vs bob 10x short, dave 2x long vs carol 3x short: 5,000 OM each at $6."""
    alice, bob, carol, dave, keeper = accounts[1:6]
    lab.check_conservation()
    for who in (alice, bob, carol, dave, keeper):
        lab.fund(who, 20_000)
    lab.check_conservation()
    lab.open(OM, long=alice, short=bob, size=5_000, price=6, leverage=10)
    lab.check_conservation()
    lab.open(OM, long=dave, short=carol, size=5_000, price=6, leverage=(2, 3))
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "keeper": keeper}


def test_ten_x_long_liquidated_and_deleveraged_against_the_best_ranked_short(lab, people):
    alice, bob, carol, keeper = (people[n] for n in ("alice", "bob", "carol", "keeper"))
    start = lab.check_conservation()
    assert lab.position(OM, alice).margin == lab.position(OM, bob).margin == to_usdc(3_000)  # 10x of $30,000
    assert start.unrealised(OM) == 0  # every position entered at $6

    lab.set_price(OM, 5)  # alice: equity $3,000 - $5,000 < 0, bankrupt at $5.40
    crashed = lab.check_conservation()
    assert lab.equity(OM, alice) == to_usdc(-2_000)
    assert crashed.unrealised(OM) == 0  # the shorts' profit is the longs' loss

    sale = lab.liquidate(OM, alice, keeper=keeper)
    assert sale == 1 == lab.system.auction.kicks()
    lab.check_conservation()

    chosen = lab.plan_adl(sale)
    plan, candidates = chosen
    # the fund ($300 less the $17.50 keeper incentive) is thin: ADL closes what it cannot cover at the mark
    assert plan.reason == "uncovered" and plan.price == bankruptcy_price(to_wad(5_000), to_wad(6), to_usdc(3_000)) == to_wad("5.4")
    assert plan.uncovered == to_usdc(2_000) - to_usdc("282.5")
    # leveraged profit ranks bob (10x) before carol (3x); bob alone absorbs it within his 50% cap
    assert chosen.ranking == (str(bob.address), str(carol.address))
    assert candidates == [str(bob.address)]
    bob_before, carol_before = lab.position(OM, bob), lab.position(OM, carol)
    free_before = lab.free(bob)

    done = lab.execute_adl(sale, keeper, mint_bond=True)
    assert lab.check_conservation().bonds == done.bond  # the queue holds the bond for its challenge window
    assert [(f.account, f.qty, f.profit_taken) for f in done.fills] == [(f.account, f.qty, f.profit_taken) for f in chosen.fills]
    assert done.fills[0].account == str(bob.address) and done.fills[0].qty == plan.qty == to_wad("4293.75")
    assert done.profit_taken == plan.uncovered == to_usdc("1717.5")  # the loss avoided at the mark, $0.40 a unit
    assert done.bond == to_usdc(100) + done.profit_taken
    # bob closed 4,293.75 OM at $5.40, not $5: $0.60 a unit realised instead of $1, as the reference ledger closes it
    bob_model = copy.copy(bob_before)
    realised, released, _ = reduce_position(bob_model, plan.qty, plan.price)
    assert realised == to_usdc("2576.25") and lab.position(OM, bob) == bob_model
    assert lab.free(bob) - free_before == released
    assert lab.position(OM, carol) == carol_before
    assert done.profit_taken <= model.unrealised_profit(bob_before, plan.mark) * 5_000 // 10_000

    qty, price = lab.take(sale, keeper)  # the rest goes at auction; the fund covers its loss
    after = lab.check_conservation()
    assert qty == to_wad("706.25") and lab.position(OM, alice).size == 0
    assert after.bad_debt[OM] == 0 and after.pools["global"] < to_usdc("282.5")
    assert 0 <= after.dust < after.flows.roundings


def test_a_challenged_execution_owes_compensation_until_claimed(lab, people, accounts):
    """Skipping bob (ranked first) for carol is proven by a challenge: the queue then owes carol her profit back."""
    keeper, carol, challenger = people["keeper"], people["carol"], accounts[7]
    lab.set_price(OM, 5)
    sale = lab.liquidate(OM, people["alice"], keeper=keeper)
    lab.mint(keeper, 10_000)
    lab.system.usdc.approve(lab.system.adl, to_usdc(10_000), sender=keeper)
    lab.system.adl.execute(sale, [], [carol], sender=keeper)  # ordered, eligible, but not the top of the ranking
    taken = lab.system.adl.takenFrom(1, carol)[0]
    assert lab.check_conservation().bonds == to_usdc(100) + taken
    lab.system.adl.challenge(1, people["bob"], 0, sender=challenger)
    assert lab.check_conservation().bonds == taken > 0  # the challenger got the rest of the bond
    lab.system.adl.claim(1, sender=carol)
    assert lab.check_conservation().bonds == 0


def test_standing_bid_escrow_is_accounted_for(lab, people, accounts):
    """A bid's escrow sits in the book's free balance; filled, cancelled and withdrawn, conservation holds."""
    bidder, book, mid = accounts[7], lab.system.book, market_id(OM)
    lab.mint(bidder, 2_000)
    lab.system.usdc.approve(book, to_usdc(2_000), sender=bidder)
    book.placeBid(mid, True, 0, to_usdc(10_000), to_usdc(1_000), sender=bidder)  # buys liquidated longs at 0.5% off
    book.placeBid(mid, False, 0, to_usdc(10_000), to_usdc(1_000), sender=bidder)  # takes over liquidated shorts
    assert lab.check_conservation().escrow == to_usdc(2_000)
    lab.set_price(OM, "5.5")  # alice below maintenance: the first bid takes $10,000 of her 5,000 OM
    lab.liquidate(OM, people["alice"], keeper=people["keeper"])
    filled = lab.check_conservation()
    assert filled.escrow == to_usdc(1_000) and filled.position(OM, str(bidder.address)).margin >= to_usdc(1_000)
    book.cancelBid(2, sender=bidder)
    assert lab.check_conservation().withdrawable == to_usdc(1_000)
    book.withdraw(to_usdc(400), sender=bidder)
    assert lab.check_conservation().withdrawable == to_usdc(600)


@pytest.mark.parametrize("target", ["Clearinghouse", "InsuranceFund", "AdlQueue", "StandingBidBook", "LiquidationAuction"])
def test_conservation_fails_when_usdc_moves_behind_the_ledgers_back(lab, people, target):
    contract = {
        "Clearinghouse": lab.system.clearinghouse,
        "InsuranceFund": lab.system.fund,
        "AdlQueue": lab.system.adl,
        "StandingBidBook": lab.system.book,
        "LiquidationAuction": lab.system.auction,
    }[target]
    lab.check_conservation()
    lab.system.usdc.mint(contract, 1, sender=lab.admin)  # one unit: $0.000001
    with pytest.raises(ConservationError, match=rf"{target}: holds"):
        lab.check_conservation()


def test_usdc_sent_to_the_clearinghouse_breaks_its_cash_law_and_its_balance_sheet(lab, people):
    """$1,000 nobody deposited: more than the events account for, and more slack than rounding can leave."""
    snap = lab.snapshot()
    assert all(law.ok for law in snap.laws())
    lab.system.usdc.mint(lab.system.clearinghouse, to_usdc(1_000), sender=lab.admin)
    broken = {law.name for law in lab.snapshot().laws() if not law.ok}
    assert broken == {"Clearinghouse", "Clearinghouse balance sheet"}


def test_seed_pools_and_names(lab, people):
    assert Lab.b32(OM) == b32(OM) == market_id(OM) == b"OM-USD".ljust(32, b"\0")
    assert lab.seed(None, 50) == to_usdc(350) == lab.snapshot().pools["global"]
    assert lab.seed(OM, 25) == to_usdc(25) == lab.snapshot().pools[OM]
    lab.check_conservation()
    lab.set_price(OM, "5.5")  # alice below maintenance ($500 < $687.50), above her bankruptcy price $5.40
    sale = lab.liquidate(OM, people["alice"], keeper=people["keeper"])
    with pytest.raises(AdlNotTriggered, match="not underwater"):
        lab.plan_adl(sale)


def test_bad_input_is_a_one_line_lab_error(lab, people):
    with pytest.raises(LabError, match="unknown market 'BTC-USD'"):
        lab.set_price("BTC-USD", 1)
    with pytest.raises(LabError, match="exactly one of leverage= and margin="):
        lab.open(OM, long=people["alice"], short=people["bob"], size=1, leverage=2, margin=10)
    with pytest.raises(LabError, match="size must be positive"):
        lab.open(OM, long=people["alice"], short=people["bob"], size=0, leverage=2)
    with pytest.raises(LabError, match="leverage must be positive"):
        lab.open(OM, long=people["alice"], short=people["bob"], size=1, leverage=0)
