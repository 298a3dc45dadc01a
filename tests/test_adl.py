"""AdlQueue: triggers, bankruptcy-price fills, spill over counterparties, loss caps, minimality, candidate-list
checks, challenges with compensation, the rank view, and USDC conservation — the contract against the
reference model backstop.model.adl."""

import os

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backstop.chain.deploy import AdlSpec, MarketSpec, deploy_system
from backstop.model import adl as model
from backstop.model.ledger import Position
from backstop.units import notional_up, to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, fund_account, set_price, trade, units

GLOBAL = b"\0" * 32
CAP_BPS = 5_000
MIN_BOND = to_usdc(100)
WINDOW = 3_600
EXAMPLES = int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def system(accounts):
    return deploy_system(
        accounts[0],
        [MarketSpec(MARKET, "6", fund_seed=600)],
        global_seed=400,
        adl=AdlSpec(loss_cap_bps=CAP_BPS, challenge_window=WINDOW, min_bond=100),
    )


@pytest.fixture(scope="module")
def actors(system, accounts):
    """trader (goes bankrupt), whale (the long side of every short), shorts s1..s4, executor, challenger."""
    names = ("trader", "whale", "s1", "s2", "s3", "s4", "executor", "challenger")
    people = dict(zip(names, accounts[1 : 1 + len(names)]))
    for name in ("trader", "whale", "s1", "s2", "s3", "s4"):
        fund_account(system, people[name], to_usdc(2_000_000))
    for name in ("executor", "challenger"):
        system.usdc.mint(people[name], to_usdc(1_000_000), sender=accounts[0])
        system.usdc.approve(system.adl, 2**256 - 1, sender=people[name])
    return people


def _short(system, whale, short, qty_units: int, entry: str, margin_usd: int):
    set_price(system, MARKET, entry)
    trade(system, whale, short, units(qty_units), to_wad(entry), to_usdc(60_000), to_usdc(margin_usd))


@pytest.fixture
def book(system, actors):
    """Four profitable shorts with different entries and leverage, and a bankrupt long: trader long 8,000 OM at
    $6 with $2,500 margin (bankruptcy price $5.6875) against s1; the price then falls to $5, so liquidating it
    loses $5,500 at the mark while the fund holds about $1,000."""
    a = actors
    _short(system, a["whale"], a["s2"], 3_000, "6.2", 2_500)  # entry high, thin margin: ranks first
    _short(system, a["whale"], a["s3"], 6_000, "6.1", 20_000)
    _short(system, a["whale"], a["s4"], 2_000, "5.9", 12_000)
    set_price(system, MARKET, "6")
    trade(system, a["trader"], a["s1"], units(8_000), to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(system, MARKET, "5")
    system.auction.liquidate(MID, a["trader"], sender=a["executor"])
    return 1  # the liquidation's id


def positions(system, accounts) -> dict[str, Position]:
    out = {}
    for acct in accounts:
        p = system.clearinghouse.getPosition(MID, acct)
        out[str(acct.address)] = Position(p.size, p.entryPrice, p.margin)
    return out


def reference_plan(system, sale_id, fund_risk=False, liquidity_risk=False):
    s = system.auction.sale(sale_id)
    p = system.clearinghouse.getPosition(MID, s.trader)
    mark = system.oracle.price(MID)
    available = system.fund.poolBalance(MID) + system.fund.poolBalance(GLOBAL)
    return model.plan(Position(p.size, p.entryPrice, p.margin), s.qty, mark, available, fund_risk, liquidity_risk)


def shorts(actors):
    return [actors[n] for n in ("s1", "s2", "s3", "s4")]


def held_usdc(system, wallets):
    contracts = (system.clearinghouse, system.fund, system.adl)
    return sum(system.usdc.balanceOf(c) for c in contracts) + sum(system.usdc.balanceOf(w) for w in wallets)


def _events(tx, name):
    return [e for e in tx.events if e.event_name == name]


# ---------------------------------------------------------------- triggers and minimality


def test_uncovered_loss_closes_only_what_the_fund_cannot_cover(system, actors, book):
    a = actors
    plan = reference_plan(system, book)
    assert plan.reason == "uncovered" and 0 < plan.qty < units(8_000)
    onchain = system.adl.trigger(book, [])
    assert (onchain.reason, onchain.qty, onchain.price, onchain.uncovered) == (0, plan.qty, plan.price, plan.uncovered)
    pos = positions(system, shorts(a))
    fills = model.choose(pos, True, plan.qty, plan.price, plan.mark, CAP_BPS, exclude=[str(a["trader"].address)])
    before = held_usdc(system, list(a.values()))

    tx = system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])

    records = _events(tx, "ADL")
    assert [(r.counterparty, r.qty, r.profitTaken, r.rank) for r in records] == [
        (f.account, f.qty, f.profit_taken, f.rank) for f in fills
    ]
    assert all(r.price == plan.price for r in records)
    deleveraged = _events(tx, "Deleveraged")
    assert [d.price for d in deleveraged] == [plan.price] * len(fills)
    # only the uncovered part went to ADL; the rest stays in the auction for the fund to cover
    assert system.auction.sale(book).qty == units(8_000) - plan.qty
    assert system.clearinghouse.getPosition(MID, a["trader"]).size == units(8_000) - plan.qty
    taken = sum(f.profit_taken for f in fills)
    # minimality: the profit taken is the loss avoided at the mark, within rounding of one unit per fill
    assert 0 <= taken - notional_up(plan.qty, plan.price - plan.mark) <= len(fills)
    executed = _events(tx, "AdlExecuted")[0]
    assert (executed.profitTaken, executed.bond) == (taken, MIN_BOND + taken)
    assert held_usdc(system, list(a.values())) == before


def test_counterparties_close_at_the_bankruptcy_price_within_their_cap(system, actors, book):
    a = actors
    plan = reference_plan(system, book)
    pos = positions(system, shorts(a))
    fills = model.choose(pos, True, plan.qty, plan.price, plan.mark, CAP_BPS, exclude=[str(a["trader"].address)])
    assert len(fills) >= 2, "the cap must make the ADL spill over to a second counterparty"
    system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])
    for f in fills:
        old = pos[f.account]
        new = system.clearinghouse.getPosition(MID, f.account)
        assert new.size == old.size + f.qty  # a short shrinks toward zero
        assert f.profit_taken <= model.unrealised_profit(old, plan.mark) * CAP_BPS // 10_000
    # the top-ranked counterparty hit its cap; the last took only what was left
    top = pos[fills[0].account]
    assert fills[0].qty == model.capped_qty(top, plan.mark, plan.price - plan.mark, CAP_BPS)


def test_same_side_positions_are_left_alone(system, actors, book):
    a = actors
    whale_before = system.clearinghouse.getPosition(MID, a["whale"])
    plan = reference_plan(system, book)
    fills = model.choose(positions(system, shorts(a)), True, plan.qty, plan.price, plan.mark, CAP_BPS)
    system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])
    assert system.clearinghouse.getPosition(MID, a["whale"]) == whale_before
    with ape.reverts(system.adl.NotACandidate):
        system.adl.execute(book, [], [a["whale"]], sender=a["executor"])


def test_fund_risk_closes_the_whole_position_at_its_bankruptcy_price(system, actors, book, chain, accounts):
    a = actors
    # the global pool is at or below its floor: the fund-risk status allows ADL
    fund = system.fund
    fund.file(b"globalFloor".ljust(32, b"\0"), to_usdc(1_000), sender=accounts[0])
    assert fund.fundRisk(MID) == 4 and fund.adlAllowed(MID)
    plan = reference_plan(system, book, fund_risk=True)
    assert plan.qty == units(8_000)
    fills = model.choose(positions(system, shorts(a)), True, plan.qty, plan.price, plan.mark, CAP_BPS)
    tx = system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])
    assert _events(tx, "AdlExecuted")[0].reason == 1  # FundRisk
    assert system.clearinghouse.getPosition(MID, a["trader"]).size == 0
    assert not system.clearinghouse.inLiquidation(MID, a["trader"])
    assert system.auction.sale(book).qty == 0 and book not in system.auction.active()
    assert sum(f.qty for f in fills) == units(8_000)


def test_liquidity_risk_trigger(system, actors, book, chain):
    a = actors
    chain.mine(timestamp=chain.pending_timestamp + 2_000)  # older than the auction's tail: stale
    system.auction.redo(book, sender=a["challenger"])
    assert system.auction.inLiquidityRisk(MID)
    plan = reference_plan(system, book, liquidity_risk=True)
    fills = model.choose(positions(system, shorts(a)), True, plan.qty, plan.price, plan.mark, CAP_BPS)
    tx = system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])
    assert _events(tx, "AdlExecuted")[0].reason == 2  # LiquidityRisk
    assert system.clearinghouse.getPosition(MID, a["trader"]).size == 0


def test_no_trigger_when_the_fund_can_pay(system, actors, book, accounts):
    a = actors
    system.usdc.mint(accounts[0], to_usdc(100_000), sender=accounts[0])
    system.usdc.approve(system.fund, to_usdc(100_000), sender=accounts[0])
    system.fund.deposit(GLOBAL, 4, to_usdc(100_000), sender=accounts[0])  # a donation
    with ape.reverts(system.adl.NoAdlTrigger):
        system.adl.execute(book, [], [a["s2"]], sender=a["executor"])


def test_a_position_that_is_not_underwater_is_not_deleveraged(system, actors):
    a = actors
    set_price(system, MARKET, "6")
    trade(system, a["trader"], a["s1"], units(8_000), to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(system, MARKET, "5.72")  # below maintenance, above the bankruptcy price 5.6875
    system.auction.liquidate(MID, a["trader"], sender=a["executor"])
    with ape.reverts(system.adl.NotUnderwater):
        system.adl.execute(1, [], [a["s1"]], sender=a["executor"])


# ---------------------------------------------------------------- bad candidate lists


def _reference(system, actors, book):
    plan = reference_plan(system, book)
    return plan, model.choose(positions(system, shorts(actors)), True, plan.qty, plan.price, plan.mark, CAP_BPS)


def test_wrongly_ordered_list_reverts(system, actors, book):
    _, fills = _reference(system, actors, book)
    order = [f.account for f in fills]
    order[0], order[1] = order[1], order[0]
    with ape.reverts(system.adl.CandidatesOutOfOrder):
        system.adl.execute(book, [], order, sender=actors["executor"])


def test_incomplete_list_reverts(system, actors, book):
    _, fills = _reference(system, actors, book)
    with ape.reverts(system.adl.CandidatesExhausted):
        system.adl.execute(book, [], [fills[0].account], sender=actors["executor"])


def test_surplus_candidates_revert(system, actors, book):
    a = actors
    plan, fills = _reference(system, a, book)
    ranked = model.ranking(positions(system, shorts(a)), True, plan.mark)
    extra = [r for r in ranked if r not in {f.account for f in fills}]
    with ape.reverts(system.adl.SurplusCandidates):
        system.adl.execute(book, [], [f.account for f in fills] + extra[:1], sender=a["executor"])


def test_trader_closed_and_unknown_positions_are_not_candidates(system, actors, book, accounts):
    a = actors
    for bad in (a["trader"], accounts[9], a["executor"]):
        with ape.reverts(system.adl.NotACandidate):
            system.adl.execute(book, [], [bad], sender=a["executor"])


def test_nothing_to_deleverage(system, actors):
    with ape.reverts(system.adl.NothingToDeleverage):
        system.adl.execute(42, [], [actors["s1"]], sender=actors["executor"])


def test_only_the_adl_queue_may_fill_and_hand_off(system, actors, book):
    a = actors
    with ape.reverts():
        system.clearinghouse.adlFill(MID, a["trader"], a["s1"], units(1), to_wad(5), sender=a["executor"])
    with ape.reverts():
        system.auction.handToAdl(book, units(1), sender=a["executor"])
    with ape.reverts():
        system.clearinghouse.beginAdl(MID, sender=a["executor"])


# ---------------------------------------------------------------- challenges


def test_skipping_the_top_candidate_is_challenged_and_compensated(system, actors, book, chain):
    a = actors
    plan, fills = _reference(system, a, book)
    ranked = model.ranking(positions(system, shorts(a)), True, plan.mark)
    top = ranked[0]
    # a list that starts at the second-ranked position is ordered but incomplete
    pos = {k: v for k, v in positions(system, shorts(a)).items() if k != top}
    cheat = model.choose(pos, True, plan.qty, plan.price, plan.mark, CAP_BPS)
    tx = system.adl.execute(book, [], [f.account for f in cheat], sender=a["executor"])
    bond = _events(tx, "AdlExecuted")[0].bond
    # the skipped position changes afterwards; its checkpoint still proves how it ranked
    system.clearinghouse.addMargin(MID, to_usdc(50_000), sender=next(v for v in a.values() if v.address == top))
    epoch = system.clearinghouse.positionEpoch(MID, top)
    before = system.usdc.balanceOf(a["challenger"])
    system.adl.challenge(1, top, epoch, sender=a["challenger"])
    assert system.usdc.balanceOf(a["challenger"]) - before == bond - sum(f.profit_taken for f in cheat)
    for f in cheat:
        owner = next(v for v in a.values() if v.address == f.account)
        got = system.usdc.balanceOf(owner)
        system.adl.claim(1, sender=owner)
        assert system.usdc.balanceOf(owner) - got == f.profit_taken
        with ape.reverts(system.adl.NothingToClaim):
            system.adl.claim(1, sender=owner)
    assert system.usdc.balanceOf(system.adl) == 0
    with ape.reverts(system.adl.AlreadyChallenged):
        system.adl.releaseBond(1, sender=a["executor"])


def test_a_correct_list_survives_challenges_and_gets_its_bond_back(system, actors, book, chain):
    a = actors
    plan, fills = _reference(system, a, book)
    system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])
    ranked = model.ranking(positions(system, shorts(a)), True, plan.mark)
    listed = {f.account for f in fills}
    for other in ranked:
        if other not in listed:
            with ape.reverts(system.adl.SkippedRanksBelow):
                system.adl.challenge(1, other, 0, sender=a["challenger"])
    with ape.reverts(system.adl.AlreadyListed):
        system.adl.challenge(1, fills[0].account, 0, sender=a["challenger"])
    with ape.reverts(system.adl.NotACandidate):
        system.adl.challenge(1, a["whale"], 0, sender=a["challenger"])
    with ape.reverts(system.adl.ChallengeWindowOpen):
        system.adl.releaseBond(1, sender=a["challenger"])
    chain.mine(timestamp=chain.pending_timestamp + WINDOW + 1)
    with ape.reverts(system.adl.ChallengeWindowClosed):
        system.adl.challenge(1, a["s4"], 0, sender=a["challenger"])
    before = system.usdc.balanceOf(a["executor"])
    system.adl.releaseBond(1, sender=a["challenger"])
    assert system.usdc.balanceOf(a["executor"]) - before == MIN_BOND + sum(f.profit_taken for f in fills)
    with ape.reverts(system.adl.BondAlreadyReleased):
        system.adl.releaseBond(1, sender=a["challenger"])


def test_challenge_needs_the_checkpoint_of_a_changed_position(system, actors, book):
    a = actors
    plan, fills = _reference(system, a, book)
    system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])
    system.clearinghouse.addMargin(MID, to_usdc(1), sender=a["s4"])
    with ape.reverts(system.clearinghouse.NoCheckpoint):
        system.adl.challenge(1, a["s4"], 0, sender=a["challenger"])


# ---------------------------------------------------------------- rank view


def test_rank_view_and_lights_match_the_reference(system, actors, book):
    a = actors
    mark = system.oracle.price(MID)
    pos = positions(system, shorts(a))
    ranked = model.ranking(pos, True, mark)
    n = system.clearinghouse.accountCount(MID)
    for rank, account in enumerate(ranked, start=1):
        above, eligible = system.adl.rankPage(MID, account, 0, n)
        assert (above + 1, eligible) == (rank, len(ranked))
        assert system.adl.lights(rank, eligible) == model.lights(rank, len(ranked))
        assert system.adl.score(MID, account) == model.score(pos[account], mark)
    # paging gives the same answer
    first = system.adl.rankPage(MID, ranked[-1], 0, 3)
    rest = system.adl.rankPage(MID, ranked[-1], 3, n)
    assert (first[0] + rest[0] + 1, first[1] + rest[1]) == (len(ranked), len(ranked))


def test_lights_are_quintiles():
    assert [model.lights(r, 10) for r in range(1, 11)] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert model.lights(1, 1) == 5 and model.lights(0, 5) == 0 and model.lights(6, 5) == 0


# ---------------------------------------------------------------- property: contract == reference


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    population=st.lists(
        st.tuples(
            st.integers(min_value=500, max_value=6_000),  # units
            st.sampled_from(["5.8", "5.9", "6", "6.1", "6.2", "6.25"]),  # entry
            st.sampled_from([1.5, 3, 6, 10, 15]),  # leverage
        ),
        min_size=2,
        max_size=4,
    ),
    crash=st.sampled_from(["4.6", "4.9", "5.2", "5.4"]),
    cap=st.sampled_from([2_500, 5_000, 10_000]),
)
def test_property_the_contract_chooses_what_the_reference_ranking_chooses(
    system, actors, chain, accounts, population, crash, cap
):
    a = actors
    snap = chain.snapshot()
    try:
        system.adl.file(b"lossCapBps".ljust(32, b"\0"), cap, sender=accounts[0])
        people = [a["s2"], a["s3"], a["s4"], a["s1"]][: len(population)]
        for who, (qty, entry, leverage) in zip(people, population):
            _short(system, a["whale"], who, qty, entry, int(qty * float(entry) / leverage) + 1)
        set_price(system, MARKET, "6")
        trade(system, a["trader"], a["whale"], units(8_000), to_wad(6), to_usdc(2_500), to_usdc(60_000))
        set_price(system, MARKET, crash)
        sale = system.auction.kicks() + 1
        system.auction.liquidate(MID, a["trader"], sender=a["executor"])
        plan = reference_plan(system, sale)
        pos = positions(system, people)
        before = held_usdc(system, list(a.values()))
        try:
            fills = model.choose(pos, True, plan.qty, plan.price, plan.mark, cap)
        except ValueError:
            with ape.reverts(system.adl.CandidatesExhausted):
                system.adl.execute(sale, [], model.ranking(pos, True, plan.mark), sender=a["executor"])
            return
        tx = system.adl.execute(sale, [], [f.account for f in fills], sender=a["executor"])
        got = [(r.counterparty, r.qty, r.profitTaken, r.price) for r in _events(tx, "ADL")]
        assert got == [(f.account, f.qty, f.profit_taken, plan.price) for f in fills]
        for f in fills:
            assert f.profit_taken <= model.unrealised_profit(pos[f.account], plan.mark) * cap // 10_000
        assert held_usdc(system, list(a.values())) == before
    finally:
        chain.restore(snap)


def test_the_queue_command_ranks_every_holder(system, actors, book, chain):
    """backstop.keeper.queue (behind `ape run adl_queue`) against the chain: the same ranks as the on-chain view,
    frozen positions left out, and a table a holder can read."""
    from backstop.chain.deploy import attach
    from backstop.chain.fastchain import FastChain
    from backstop.keeper.queue import read_queue, render_queue

    fc = FastChain.connect(chain.provider.http_uri)
    house, oracle = attach(fc.w3, system.deployment, "Clearinghouse"), attach(fc.w3, system.deployment, "PriceOracle")
    mark, entries = read_queue(fc, house, oracle, MID)
    assert mark == 5.0
    shorts_ranked = [e for e in entries if e.side == "short"]
    n = system.clearinghouse.accountCount(MID)
    for e in shorts_ranked:
        above, eligible = system.adl.rankPage(MID, e.account, 0, n)
        assert (e.rank, e.lights) == (above + 1, system.adl.lights(above + 1, eligible))
    assert str(actors["trader"].address) not in {e.account for e in entries}  # frozen in liquidation
    text = render_queue(MARKET, mark, entries)
    assert "| rank | lights |" in text and shorts_ranked[0].account in text


def test_a_small_top_counterparty_closes_in_full_and_the_rest_spills(system, actors, book, accounts):
    a = actors
    system.adl.file(b"lossCapBps".ljust(32, b"\0"), 10_000, sender=accounts[0])  # no cap: size is the limit
    plan = reference_plan(system, book)
    pos = positions(system, shorts(a))
    fills = model.choose(pos, True, plan.qty, plan.price, plan.mark, 10_000)
    system.adl.execute(book, [], [f.account for f in fills], sender=a["executor"])
    first, last = fills[0], fills[-1]
    assert first.qty == abs(pos[first.account].size)  # closed in full
    assert system.clearinghouse.getPosition(MID, first.account).size == 0
    assert 0 < last.qty <= abs(pos[last.account].size)
    assert sum(f.qty for f in fills) == plan.qty


def test_a_closed_position_is_not_a_candidate(system, actors, book):
    a = actors
    s4 = a["s4"]
    size = system.clearinghouse.getPosition(MID, s4).size
    set_price(system, MARKET, "5")
    trade(system, s4, a["whale"], -size, to_wad(5), 0, to_usdc(60_000))  # s4 buys back: closed
    assert system.clearinghouse.getPosition(MID, s4).size == 0
    with ape.reverts(system.adl.NotACandidate):
        system.adl.execute(book, [], [s4], sender=a["executor"])


def test_the_queue_of_a_market_without_an_oracle_price_is_a_one_line_backstop_error(system, chain):
    from backstop.chain.deploy import attach
    from backstop.chain.fastchain import FastChain
    from backstop.errors import BackstopError
    from backstop.keeper.queue import read_queue

    fc = FastChain.connect(chain.provider.http_uri)
    house, oracle = attach(fc.w3, system.deployment, "Clearinghouse"), attach(fc.w3, system.deployment, "PriceOracle")
    with pytest.raises(BackstopError) as info:
        read_queue(fc, house, oracle, b"NOPE-USD".ljust(32, b"\0"))
    nope = "0x" + b"NOPE-USD".ljust(32, b"\0").hex()
    assert str(info.value) == (
        f'the oracle has no valid price for NOPE-USD now (PriceOracle.price reverts with UnknownMarket({nope} ("NOPE-USD"))); '
        "the ADL queue is ranked at that price"
    )
