"""The keeper rules and the live keeper bot (`ape run keeper`) against a deployed system."""

import pytest

from backstop.chain.deploy import MarketSpec, deploy_system
from backstop.keeper.bot import KeeperConfig, bot_for_deployment, take_is_attractive, take_size
from backstop.units import notional_up, to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, fund_account, open_underwater, position, set_price, units

SIZE = units(8_000)


def test_take_is_attractive_needs_the_discount_on_the_keepers_side():
    mark = to_wad(10)
    assert take_is_attractive(to_wad("9.9"), mark, True, 100)
    assert not take_is_attractive(to_wad("9.91"), mark, True, 100)
    assert take_is_attractive(to_wad("10.1"), mark, False, 100)
    assert not take_is_attractive(to_wad("10.09"), mark, False, 100)
    assert not take_is_attractive(0, mark, True, 0)


def test_take_size_is_what_the_free_balance_carries():
    mark = price = to_wad(10)
    qty, margin = take_size(to_usdc(1_100), units(10_000), price, mark, True, 1_000, to_usdc(10))
    assert qty == units(1_000)  # $1,100 carries 10% initial margin plus the 10% buffer on $10,000
    assert margin == notional_up(qty, mark * 1_000 // 10_000 * 110 // 100)
    assert take_size(0, units(10), price, mark, True, 1_000, to_usdc(10)) == (0, 0)


def test_take_size_never_leaves_dust_behind():
    mark = price = to_wad(10)
    # $1.10 of margin a unit: $10.90 carries 9.9 of 10 units, which would leave $1 (< 2 × $10 dust) behind
    assert take_size(to_usdc("10.9"), units(10), price, mark, True, 1_000, to_usdc(10)) == (0, 0)
    assert take_size(to_usdc(11), units(10), price, mark, True, 1_000, to_usdc(10))[0] == units(10)
    assert take_size(to_usdc("5.5"), units(10), price, mark, True, 1_000, to_usdc(10))[0] == units(5)


@pytest.fixture(scope="module")
def deployed(accounts, tmp_path_factory):
    system = deploy_system(accounts[0], [MarketSpec(MARKET, "6", fund_seed=10_000)], global_seed=5_000)
    path = system.deployment.write(tmp_path_factory.mktemp("deploy") / "deployment.json")
    for a in accounts[1:4]:
        fund_account(system, a, to_usdc(100_000))
    return system, path


def _bot(deployed, chain, keeper, **config):
    return bot_for_deployment(deployed[1], chain.provider.http_uri, keeper, KeeperConfig(**config))


def test_bot_liquidates_several_traders_of_a_market_in_one_transaction(accounts, chain, tmp_path):
    from tests.ledger_helpers import funded_system, trade  # noqa: PLC0415

    system = funded_system(accounts, 5, fund_seed=10_000, global_seed=5_000)
    path = system.deployment.write(tmp_path / "deployment.json")
    traders, whale, keeper = accounts[1:4], accounts[4], accounts[6]
    for t in traders:
        trade(system, t, whale, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(system, MARKET, "5.72")
    bot = bot_for_deployment(path, chain.provider.http_uri, keeper, KeeperConfig(discount_bps=0))
    sent_before = chain.provider.get_nonce(keeper.address)
    assert bot.round()["liquidate"] == 3
    assert all(system.clearinghouse.inLiquidation(MID, t) for t in traders)
    assert chain.provider.get_nonce(keeper.address) == sent_before + 1  # one liquidateMany
    assert bot.failed == {}


def test_bot_liquidates_then_takes_once_the_price_is_attractive(deployed, accounts, chain):
    system, _ = deployed
    trader, counterparty, keeper = accounts[1], accounts[2], accounts[3]
    open_underwater(system, trader, counterparty)
    bot = _bot(deployed, chain, keeper, discount_bps=0)
    assert bot.round() == {"liquidate": 1, "take": 0, "redo": 0, "adl": 0}
    assert system.clearinghouse.inLiquidation(MID, trader)
    assert bot.round()["take"] == 0  # the auction starts 2% above the oracle
    chain.mine(timestamp=chain.pending_timestamp + 60)
    assert bot.round()["take"] == 1
    assert position(system, keeper)[0] == SIZE
    assert system.auction.activeCount() == 0


def test_bot_restarts_a_stale_auction(deployed, accounts, chain):
    system, _ = deployed
    trader, counterparty, keeper = accounts[1], accounts[2], accounts[3]
    open_underwater(system, trader, counterparty)
    system.auction.liquidate(MID, trader, sender=counterparty)
    chain.mine(timestamp=chain.pending_timestamp + 1_801)
    bot = _bot(deployed, chain, keeper, discount_bps=5_000)  # never attractive enough to take
    assert bot.round() == {"liquidate": 0, "take": 0, "redo": 1, "adl": 0}
    assert system.auction.inLiquidityRisk(MID)


def test_slow_and_failing_bots_do_nothing(deployed, accounts, chain):
    system, _ = deployed
    trader, counterparty, keeper = accounts[1], accounts[2], accounts[3]
    open_underwater(system, trader, counterparty)
    slow = _bot(deployed, chain, keeper, latency=600)
    assert slow.round(now=0.0)["liquidate"] == 0
    assert slow.round(now=599.0)["liquidate"] == 0
    flaky = _bot(deployed, chain, keeper, failure_rate=1.0)
    assert flaky.round()["liquidate"] == 0
    assert not system.clearinghouse.inLiquidation(MID, trader)
    assert slow.round(now=600.0)["liquidate"] == 1


def test_bot_deleverages_what_the_fund_cannot_cover(deployed, accounts, chain):
    """trader long 8,000 at $6 with $2,500 margin, then the price falls to $4 with the global pool at its floor
    (a fund-risk trigger): the bot closes the position at its bankruptcy price against the one profitable short,
    which may give up all of its profit here."""
    system, _ = deployed
    trader, counterparty, keeper = accounts[1], accounts[2], accounts[3]
    open_underwater(system, trader, counterparty)
    set_price(system, MARKET, "4")
    system.usdc.mint(keeper, to_usdc(100_000), sender=accounts[0])
    system.fund.file(b"globalFloor".ljust(32, b"\0"), to_usdc(10_000), sender=accounts[0])  # fund-risk trigger
    system.adl.file(b"lossCapBps".ljust(32, b"\0"), 10_000, sender=accounts[0])
    system.auction.liquidate(MID, trader, sender=keeper)
    bot = _bot(deployed, chain, keeper, discount_bps=5_000)  # never attractive enough to take
    bot.discover()
    assert bot.round()["adl"] == 1
    assert position(system, trader)[0] == 0
    assert position(system, counterparty)[0] == 0  # the short absorbed all 8,000 units at the bankruptcy price
    assert system.adl.executions() == 1


def test_bot_lists_only_the_claims_with_a_shortfall(accounts, chain, tmp_path):
    """Two liquidations run at $4: A's margin is gone (a shortfall), B's still covers its loss (bankruptcy at
    $3.9125). Only A is worth listing to AdlQueue as a claim on the fund; listing B would cost gas for a zero."""
    from tests.ledger_helpers import funded_system, trade  # noqa: PLC0415

    system = funded_system(accounts, 4, fund_seed=10_000, global_seed=5_000)
    path = system.deployment.write(tmp_path / "deployment.json")
    a, b, whale, keeper = accounts[1], accounts[2], accounts[3], accounts[6]
    trade(system, a, whale, SIZE, to_wad(6), to_usdc(2_500), to_usdc(60_000))
    trade(system, b, whale, SIZE, to_wad(6), to_usdc(16_700), to_usdc(60_000))
    set_price(system, MARKET, "4")
    ids = [system.auction.liquidate(MID, t, sender=keeper).return_value for t in (a, b)]
    assert system.clearinghouse.fillShortfall(MID, a, SIZE, to_wad(4)) > 0 == system.clearinghouse.fillShortfall(MID, b, SIZE, to_wad(4))
    bot = bot_for_deployment(path, chain.provider.http_uri, keeper, KeeperConfig(discount_bps=5_000))
    assert bot._owing(ids) == [ids[0]]
    assert bot._owing([ids[0], 10**9]) == [ids[0], 10**9]  # one it cannot read is kept for the contract to judge


def test_bot_reports_a_reverted_transaction_by_error_name_and_arguments(deployed, accounts, chain):
    nobody, keeper = accounts[6], accounts[3]
    lines: list[str] = []
    bot = _bot(deployed, chain, keeper)
    bot.log = lines.append
    bot.chain.call_fn(bot.wallet, bot.auction, "liquidate", MID, str(nobody.address), label="liquidate")  # holds nothing
    bot.round()
    assert bot.failed == {"liquidate: NoPosition": 1}
    assert len(lines) == 1
    assert lines[0].startswith(f'liquidate reverted: NoPosition({nobody.address}, 0x{MID.hex()} ("OM-USD")) (tx 0x')
