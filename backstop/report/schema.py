"""The replay report's schema (report.json, version 1): one typed definition, pydantic models, the source of truth.

- :class:`Report` and its parts name every key of report.json, its type, its unit and its meaning
  (``Field(description=...)``); ``Report(...).model_dump()`` gives the report dict, keys in the order the
  replay writes them; an optional field left unset is omitted, as the replay omits it.
- :func:`backstop.report.validate.validate_report` checks a report dict against the models and lists every
  problem in words.
- :func:`backstop.report.schema_docs.schema_markdown` renders the field tables of ``docs/report-schema.md`` from the models (a test
  checks the page holds exactly that text); ``python -m backstop.report docs/report-schema.md`` rewrites
  them there.

Conventions: amounts are USD floats, ``t`` is integer seconds since the start of the replay, times are
ISO 8601 strings; numbers must be finite. A "float" field also takes an int and keeps it an int.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

from backstop.errors import BackstopError
from backstop.model.adl import REASONS as ADL_REASONS
from backstop.model.fund import DRAWDOWN_FROM_PEAK, FAST_DROP, GLOBAL_DEPLETED
from backstop.report.fields import IsoTime, Number, field_extra, iso_time, one_of, type_name
from backstop.report.fields import OmitsUnset as _OmitsUnset
from backstop.report.fields import Part as _Part
from backstop.report.fields import described as _f
from backstop.report.fields import optional as _optional

__all__ = [
    "FILLED_BY",
    "HOLDER_KINDS",
    "HolderRow",
    "FILL_VIA",
    "FlowRow",
    "PublishedRow",
    "SCHEMA_VERSION",
    "SIDES",
    "AdlEvent",
    "Buffer",
    "Fill",
    "KeeperRow",
    "Liquidation",
    "MarketStep",
    "Report",
    "ReportError",
    "Resumed",
    "RunInfo",
    "ScenarioInfo",
    "Setup",
    "Step",
    "Throughput",
    "Totals",
    "summary_fields",
    "type_name",
    "field_extra",
    "iso_time",
]

SCHEMA_VERSION = 1
FILLED_BY = ("standing_bid", "auction", "adl", "mixed", "partial", "unfilled")
FILL_VIA = ("standing_bid", "auction", "adl")
SIDES = ("long", "short")
TRADE_KINDS = ("open", "stop_loss", "take_profit")
KNOWN_FUND_RISK_BITS = DRAWDOWN_FROM_PEAK | FAST_DROP | GLOBAL_DEPLETED


class ReportError(BackstopError, ValueError):
    """A report that cannot be written (values strict JSON cannot hold) or a docs page without its tables."""


# ------------------------------------------------------------------------------------------- field types
# (the generic ones are in backstop.report.fields; `_f` describes a field, `_optional` one a report may lack)


def _schema_version(value: int) -> int:
    if value != SCHEMA_VERSION:
        raise PydanticCustomError("schema_version", "version {v} is not {want}", {"v": value, "want": SCHEMA_VERSION})
    return value


def _fund_risk_bits(value: int) -> int:
    if value < 0 or value & ~KNOWN_FUND_RISK_BITS:
        raise PydanticCustomError("fund_risk_bits", "unknown bits in {v}", {"v": value})
    return value


FundRisk = Annotated[int, AfterValidator(_fund_risk_bits)]
Side = one_of(SIDES)
FilledBy = one_of(FILLED_BY)
TradeKind = one_of(TRADE_KINDS)
TradeSide = one_of(("buy", "sell"))
Via = one_of(FILL_VIA)


# ------------------------------------------------------------------------------------------------ models


class ScenarioInfo(_Part):
    """What was replayed."""

    name: str = _f("human name, e.g. `OM crash, 13-14 April 2025`")
    file: str = _f("path of the scenario file, relative to the repository")
    sha256: str = _f("SHA-256 of the scenario file's bytes", "hex")
    description: str = _f("one paragraph on what happened")
    sources: list[str] = _f("where the data comes from (URLs, exchange data sets)")
    synthetic: list[str] = _f(
        "every invented input (filled gaps, made-up traders, simulated venues); `[]` only if nothing is invented. "
        'report.md always prints a "Synthetic parts" section from it'
    )
    seed: int = _f("random seed of the synthetic parts")


class Setup(_Part):
    """What the replay set up before the first step (`{}` when the setup itself failed)."""

    notes: list[str] | None = _optional("what the setup could not do as asked (e.g. a standing bid not placed)")
    traders: int | None = _optional("traders of the scenario's population", "count")
    opened: int | None = _optional("positions opened at set-up", "count")
    opening_later: int | None = _optional("traders who open during the replay instead (see `trading`)", "count")
    clamped_leverage: int | None = _optional("positions whose leverage was clamped to the market's top tier", "count")
    market_makers: int | None = _optional("synthetic market makers", "count")
    keepers: int | None = _optional("keeper actors", "count")


class Resumed(_Part):
    """The partial run a `backstop replay --resume` finished (replayed from t = 0 on a fresh chain)."""

    error: str | None = _f("why the partial run stopped")
    steps: int | None = _f("steps the partial run executed", "count")
    started_at: IsoTime | None = _f("wall-clock start of the partial run")
    restarted_from_t: int = _f("always 0: a resumed replay restarts from the beginning (replays are deterministic)", "s")


class GasRow(_Part):
    """The transactions of one action and the gas they used."""

    transactions: int = _f("transactions mined, succeeded or reverted", "count")
    gas: int = _f("gas used by them, summed over their receipts", "gas")


class RunInfo(_Part):
    """How the run went."""

    network: str = _f(
        "where it ran: the node's URL, an Ape network choice such as `ethereum:local:hardhat`, or `revm` (the "
        "embedded EVM, in the replaying process)"
    )
    wall_seconds: Number = _f("wall-clock duration", "s")
    steps: int = _f("steps executed", "count")
    complete: bool = _f("`true` when every step of the scenario ran")
    error: str | None = _f(
        "why the run stopped; `null` when it did not fail. With `complete: false` the report is a **partial report** "
        "covering the steps recorded before the stop"
    )
    setup: Setup | None = _optional("what the replay set up, below")
    failed_transactions: dict[str, int] | None = _optional(
        "reverted transactions by `action: revert reason` → count", "count"
    )
    gas: dict[str, GasRow] | None = _optional(
        "every transaction the replay mined (set-up and loop) by action (`price`, `open`, `liquidate`, `take`, "
        "`adl`, ...) → count and gas used: the same on Anvil and on the embedded EVM"
    )
    started_at: IsoTime = _f("wall-clock start of the run")
    overrides: dict[str, Any] | None = _optional(
        "the dotted-key overrides applied to the scenario file (`--set`, a variant): with `scenario.file` and "
        "`scenario.sha256`, what `backstop replay --resume` needs to run the same replay again"
    )
    resumed: Resumed | None = _optional("present when this run finished a partial one (`--resume`), below")
    chain_id: int | None = _optional("the node's chain id")
    contracts: dict[str, str] | None = _optional(
        "the address of every deployed contract by name (`PriceOracle`, `InsuranceFund`, `Clearinghouse`, "
        "`LiquidationAuction`, `StandingBidBook`, `AdlQueue`, `MockUSDC`, and `MockPriceSource:<market>:<venue>`): "
        "with `network`, what `cast` and `backstop adl-queue` need to inspect the state after the crash on your own node"
    )


class MarketStep(_Part):
    """One market's state at a step."""

    oracle: Number | None = _f(
        "the oracle median; `null` when the oracle had no price at that step (too few fresh sources, jump guard): "
        "drawn as a gap", "USD per unit"
    )
    venues: dict[str, Number] = _f("venue name → that venue's price at the step (a venue may be absent at a step)", "USD per unit")
    sub_pool: Number = _f("the market's insurance sub-pool balance", "USD")
    peak_8h: Number = _f("the sub-pool's 8-hour peak, `InsuranceFund.peak8h`", "USD")
    fund_risk: FundRisk = _f(
        f"`InsuranceFund.fundRisk(market)`: `{DRAWDOWN_FROM_PEAK}` DRAWDOWN_FROM_PEAK (sub-pool at or below the drawdown "
        f"threshold), `{FAST_DROP}` FAST_DROP (at or below its fast-drop share of the balance 8 hours ago), "
        f"`{GLOBAL_DEPLETED}` GLOBAL_DEPLETED (global pool at or below its floor); `0` none. Other bits are invalid",
        "bit flags",
    )
    open_interest: Number = _f("long-side notional at the oracle price", "USD")
    liquidity_risk: bool = _f("the auction's liquidity-risk signal for the market")
    drawdown_threshold: Number = _f(
        "the sub-pool level below which DRAWDOWN_FROM_PEAK fires (`peak_8h × drawdownBps / 10,000`)", "USD"
    )
    exogenous: dict[str, Number] | None = _optional(
        "with `liquidity`: venue name → the venue's price without this platform's liquidation flows (its path moved by "
        "the scenario's own flows only); `venues` are the traded prices", "USD per unit"
    )
    depth: dict[str, Number] | None = _optional("with `liquidity`: venue name → its 1% depth at the step", "USD")


class Step(_Part):
    """The state after one replay step."""

    t: int = _f("time of the step", "s since start")
    time: IsoTime = _f("the same instant as a date")
    global_pool: Number = _f("balance of the insurance fund's global pool", "USD")
    markets: dict[str, MarketStep] = _f("market name (e.g. `OM-USD`) → the market's state, below", key="market")


class Fill(_Part):
    """One take of a liquidation."""

    t: int = _f("when the take happened", "s since start")
    keeper: str = _f("the taker (address or label)")
    qty: Number = _f("quantity taken", "units")
    price: Number = _f("price paid", "USD per unit")
    via: Via = _f("how (for `adl`, `keeper` is the ADL counterparty)")


class Liquidation(_Part):
    """One liquidation started."""

    id: int = _f("liquidation (auction) id")
    t: int = _f("when it started", "s since start")
    market: str = _f("market name")
    trader: str = _f("the liquidated account (address or label)")
    side: Side = _f("side of the liquidated position")
    size: Number = _f("position size liquidated", "units")
    notional: Number = _f("size × mark", "USD")
    mark: Number = _f("oracle mark when liquidated", "USD per unit")
    filled_by: FilledBy = _f(
        "who took it: only standing pre-funded bids, only auction takes, only ADL counterparties (at the bankruptcy "
        "price), more than one of these, part of it with the auction still running at the end, or nobody (by the "
        "end of the run)"
    )
    fills: list[Fill] = _f("the takes, below")
    restarts: int = _f("auction restarts (`redo`)", "count")
    shortfall: Number = _f("loss the proceeds did not cover (charged to the fund, then ADL)", "USD")
    penalty: Number = _f("liquidation penalty paid to the fund", "USD")
    returned: Number = _f("surplus returned to the trader", "USD")
    released_t: int | None = _optional("when the throttle released it from its queue: the time its auction started", "s since start")
    generation: int | None = _optional(
        "with `liquidity`: its cascade generation: 0 when the exogenous prices alone made it liquidatable, k + 1 when it "
        "took the price impact of generations 0..k", "count"
    )
    impact_only: bool | None = _optional(
        "with `liquidity`: `true` when the exogenous prices never made the position liquidatable, then or later: "
        "impact caused this liquidation rather than bringing it forward"
    )


class AdlEvent(_Part):
    """One auto-deleveraging fill."""

    t: int = _f("when the position was deleveraged", "s since start")
    market: str = _f("market name")
    bankrupt: str = _f("the account whose bankruptcy was settled")
    counterparty: str = _f("the profitable account deleveraged (the ADL victim)")
    rank: int = _f("its place in the ADL queue (1 = first)")
    size: Number = _f("size closed", "units")
    price: Number = _f("closing price (the bankruptcy price)", "USD per unit")
    profit_taken: Number = _f("unrealised profit the victim gave up", "USD")
    score: Number | None = _optional("its ADL score at execution (`AdlQueue.score`: leveraged profit at the mark)", "ratio")
    lights: int | None = _optional("its 1-5 lights at execution (`AdlQueue.lights(rank, eligible)`: 5 for the first fifth of the queue)", "count")
    reason: str = _f(
        f"why ADL ran, one of {', '.join(f'`{r}`' for r in ADL_REASONS)}: the fund could not cover the loss at the "
        "mark (only that part is closed), the fund-risk status allowed it, or an auction of the market went unfilled"
    )
    execution: int | None = _optional("the `AdlQueue` execution this fill belongs to (one execution, several fills)")
    uncovered: Number | None = _optional(
        "the execution's loss the pools could not cover at the mark after the listed claims (`AdlExecuted.uncovered`)", "USD"
    )
    claimed: Number | None = _optional(
        "what the other liquidations the execution listed would draw on the pools first at the mark (`AdlExecuted.claimed`, "
        "AdlQueue rule: the uncovered trigger judges a liquidation after every other running or queued one)", "USD"
    )


class Buffer(_Part):
    """A buffer period the throttle started (a fast fall of the oracle price, see `LiquidationAuction`)."""

    t: int = _f("when it started", "s since start")
    market: str = _f("the market")
    drop_bps: int = _f("the fall within the window that started it", "bps")
    until_t: int = _f("when it ends", "s since start")


class KeeperRow(_Part):
    """One keeper actor of the replay."""

    name: str = _f("the keeper's name from the scenario (`name-1`, `name-2`, … when `count` > 1)")
    liquidations: int = _f("liquidations it started", "count")
    takes: int = _f("auction takes it sent", "count")
    restarts: int = _f("stale auctions it restarted", "count")
    online_steps: int = _f("steps in which it was online and did not fail", "count")
    capital: Number = _f("capital it committed at the start", "USD")
    capital_used: Number | None = _optional(
        "the most capital it tied up at one action: the margin of the takes it sent at that second (each unwound in "
        "the same block) plus any of its deposit not free when it looked (margin still locked, losses)", "USD"
    )
    address: str | None = _optional("its account (`fills[].keeper` of its auction takes)")
    incentives: Number | None = _optional("keeper incentives the fund paid it (`IncentivePaid`, `BatchIncentivePaid`)", "USD")
    bought_notional: Number | None = _optional(
        "Σ qty × price of what it bought: its auction takes and standing-bid fills", "USD"
    )
    slippage: Number | None = _optional("with `liquidity`: what it paid unwinding into the venues' books beyond the pre-trade price", "USD")
    unwound_notional: Number | None = _optional(
        "a standing bidder with `unwind`: Σ notional it sold of what its bids absorbed (docs/scenarios.md)", "USD"
    )
    capital_lost: Number | None = _optional(
        "capital its schedule lost (`capital_schedule[].lost`): withdrawn and gone, counted in `pnl`", "USD"
    )
    pnl: Number | None = _optional(
        "its USDC at the end wherever it is (wallet with incentives and withdrawn capital, clearinghouse free "
        "balance, positions' margin + PnL at the last oracle price, standing-bid escrow still in the book, ADL "
        "bonds not yet released) − what it started with (capital, bid escrow and the synthetic ADL bond reserve); "
        "absent when the chain could not be read", "USD"
    )


HOLDER_KINDS = ("trader", "keeper", "bidder", "market_maker")


class VenueImpact(_Part):
    """`impact.<market>.venues.<venue>`: how far the venue fell and how much of it this platform's flows caused."""

    start: Number = _f("its price at t = 0", "USD per unit")
    min_exogenous: Number = _f("its lowest price without this platform's liquidation flows", "USD per unit")
    min_traded: Number = _f("its lowest traded price", "USD per unit")
    endogenous_share: Number = _f(
        "the endogenous share of the fall: (min_exogenous − min_traded) / (start − min_traded), the part of the fall "
        "the liquidations themselves caused", "ratio"
    )
    liquidation_volume: Number = _f("Σ |notional| keepers unwound on it", "USD")
    slippage: Number = _f("what those unwinds paid beyond the pre-trade price", "USD")
    unwinds: int = _f("keeper unwinds on it", "count")
    min_depth: Number = _f("its thinnest 1% depth", "USD")
    trader_volume: Number | None = _optional(
        "Σ |notional| of the traders' own opens and closes on it during the replay (`trading`); they move its "
        "traded price too", "USD"
    )
    hedge_volume: Number | None = _optional(
        "with `liquidity.hedging`: Σ |notional| of the hedges market makers unwound on it after ADL closed part "
        "of their positions", "USD"
    )


class MarketImpact(_Part):
    """`impact.<market>`: a market with `liquidity` (docs/scenarios.md): the depth model and what it did."""

    model: str = _f("the impact model, in words")
    resilience: Number = _f("the rate at which displacements decay", "1/s")
    arbitrage: Number = _f("the rate at which gaps between venues close", "1/s")
    depth_usd: dict[str, Number] = _f("venue name → its 1% depth before any withdrawal", "USD")
    venues: dict[str, VenueImpact] = _f("venue name → its figures, below", key="venue")
    generations: int = _f("cascade generations whose flows moved prices (0: none)", "count")
    exogenous_flows: list[dict[str, JsonValue]] = _f("the scenario's own flows, as given")


class TraderTrade(_Part):
    """One opening or exit a trader of the population traded during the replay, as mined."""

    t: int = _f("scenario second of the block", "s")
    time: IsoTime = _f("its UTC time")
    market: str = _f("market name")
    trader: str = _f("the trader's address")
    kind: TradeKind = _f("`open`, `stop_loss` (a panic close) or `take_profit`")
    side: TradeSide = _f("what the trader did")
    size: Number = _f("units traded", "units")
    price: Number = _f("the trade's price: the oracle mark, less the book's slippage in a market with `liquidity`", "USD per unit")
    notional: Number = _f("size × price", "USD")


class Trading(_Part):
    """Traders who opened or closed during the replay (the population's `opens`, `opens_at` and `exits`,
    docs/scenarios.md). Present only when the scenario has any."""

    scheduled_opens: int = _f("traders due to open during the replay", "count")
    opened: int = _f("of them, opened", "count")
    opened_notional: Number = _f("Σ notional they opened", "USD")
    with_exits: int = _f("traders with a stop loss or take profit", "count")
    stop_losses: int = _f("panic closes mined", "count")
    take_profits: int = _f("profit-taking closes mined", "count")
    closed_notional: Number = _f("Σ notional those closes traded", "USD")
    gave_up: int = _f("traders whose trade reverted three times in a row: they stopped trying", "count")
    trades: list[TraderTrade] = _f("every open and close, in time order, below")


class HolderRow(_Part):
    """The positions still open at the end of one kind of holder, marked at the last oracle price. `bidder`: a
    keeper with a standing bid (it holds what its bids absorbed); `keeper`: one without."""

    kind: one_of(HOLDER_KINDS) = _f("trader, keeper, bidder or market_maker")
    positions: int = _f("open positions", "count")
    notional: Number = _f("Σ |size| × the last oracle price", "USD")
    unrealised_pnl: Number = _f("Σ PnL at the last oracle price", "USD")
    negative_equity: Number = _f("Σ max(0, −(margin + PnL)): what the underwater positions owe beyond their margin", "USD")
    underwater: int = _f("positions whose margin + PnL is below zero", "count")


class FlowRow(_Part):
    """One pool's USDC in and out over the whole run, from the fund's events: `start` + Σ `inflows` − Σ
    `outflows` = `end`, to the unit; `end_on_chain` is the pool's balance read from the chain at the end."""

    pool: str = _f("`global` (the global pool, `bytes32(0)` on chain) or a market's name (its sub-pool)")
    start: Number = _f("the balance when the deployment finished: the seeds", "USD")
    inflows: dict[str, Number] = _f(
        "kind → USD: `liquidation_penalties`, `liquidation_surplus`, `tail_risk_fees_at_opening` (paid by the "
        "positions opened before the scenario's t = 0), `tail_risk_fees` (paid during the replay), `donations`, "
        "`seeds_after_deployment`", "USD", key="inflow kind",
    )
    outflows: dict[str, Number] = _f(
        "kind → USD: `shortfalls_covered` (losses beyond a position's margin the pool paid), `kick_incentives` and "
        "`restart_incentives` (keeper incentives for starting and for restarting auctions), `withdrawals`",
        "USD", key="outflow kind",
    )
    end: Number = _f("start + Σ inflows − Σ outflows", "USD")
    end_on_chain: Number | None = _f("`InsuranceFund.poolBalance(pool)` read when the report was written; `null` "
                                     "when the chain could not be read", "USD")
    difference: Number | None = _f("end_on_chain − end: `0` unless the replay missed a fund event", "USD")


class PublishedRow(_Part):
    """A published figure of the real crash (the scenario's `published`) beside the replay's."""

    figure: str = _f("what the figure is, in words")
    metric: str = _f("the `totals` key it is compared with")
    low: Number = _f("the published value, or the low end of its range", "as the metric")
    high: Number = _f("the high end of the published range (= `low` for a single value)", "as the metric")
    source: str = _f("where it was published")
    note: str = _f("how the published figure's scope differs from the replay's (venues, window, population)")
    replayed: Number = _f("the replay's `totals[metric]`", "as the metric")
    gap: Number = _f("replayed − high above the range, replayed − low below it, 0 inside it", "as the metric")
    ratio: Number | None = _f("replayed / the middle of the range; `null` when that middle is 0", "x")


class Totals(_Part):
    """The run's sums, in the order of report.md's Summary. `validate_report` checks their types only, not that
    they agree with the lists."""

    liquidations: int = _f("liquidations started", "count", "Liquidations")
    liquidated_notional: Number = _f("Σ notional", "USD", "Liquidated notional")
    filled_by_standing_bids: int = _f("liquidations with `filled_by = standing_bid`", "count", "Filled by standing bids")
    filled_by_auction: int = _f("liquidations with `filled_by = auction`", "count", "Filled by auction")
    partially_filled: int = _f(
        "liquidations with `filled_by = partial`", "count", "Partly filled (auction still running at the end)"
    )
    unfilled: int = _f("liquidations with `filled_by = unfilled`", "count", "Unfilled")
    queued_at_end: int = _f(
        "liquidations still waiting in a throttle queue when the replay ended (their positions frozen; also counted "
        "as `unfilled`)", "count", "Still queued by the throttle at the end"
    )
    restarts: int = _f("Σ restarts", "count", "Auction restarts")
    penalties: Number = _f("Σ penalties", "USD", "Liquidation penalties")
    keeper_incentives: Number = _f("incentives paid to keepers (restart tips and the like)", "USD", "Keeper incentives")
    shortfall: Number = _f("Σ shortfall", "USD", "Shortfall")
    fund_used: Number = _f("paid out of the insurance fund (sub-pools and global)", "USD", "Insurance fund used")
    bad_debt: Number = _f("loss neither the fund nor ADL covered", "USD", "Bad debt")
    negative_equity: Number = _f(
        "negative equity of the positions still open at the end, at the last oracle price (see `mark_to_market`): "
        "losses not yet realised, which bad debt does not count", "USD", "Negative equity still open at the end"
    )
    fund_start: Number = _f(
        "all pools at the scenario's t = 0: the seeds plus the tail-risk fees the positions opened before the "
        "crash paid (see `fund_flows`)", "USD", "Fund at t = 0 (seeds + tail-risk fees at opening)",
    )
    fund_end: Number = _f("all pools at the end", "USD", "Fund at end")
    peak_drawdown_pct: Number = _f(
        "the largest drawdown of any market's sub-pool from its 8-hour peak over the series, in percent (0-100): "
        "(`peak_8h` − `sub_pool`) / `peak_8h`, the measure the ADL trigger's DRAWDOWN_FROM_PEAK reads "
        "(`InsuranceFund.peak8h` is the highest hourly snapshot of the last 8 hours, so a rise within the hour is "
        "not in it)", "%", "Peak sub-pool drawdown from its 8h peak (the ADL trigger's measure)",
    )
    adl_notional: Number = _f("Σ ADL size × price", "USD", "ADL notional")
    adl_filled: int = _f(
        "liquidations with at least one ADL fill (`filled_by` `adl`, or `mixed` with an `adl` fill): bankrupt "
        "positions closed against ADL counterparties", "count", "Liquidations filled (wholly or partly) by ADL",
    )
    adl_victims: int = _f(
        "distinct ADL counterparties (profitable accounts deleveraged, per market), not the bankrupt positions "
        "(`adl_filled`)", "count", "ADL victims (counterparties deleveraged)",
    )
    adl_profit_taken: Number = _f("Σ `profit_taken` of `adl[]`", "USD", "ADL profit taken")
    profit_haircut_beyond_need: Number = _f(
        "Σ over ADL executions of max(0, profit taken − the loss the fund could not cover at the mark): profit taken "
        "where the fund could have paid (only fund-risk or liquidity-risk triggers do that; an `uncovered` ADL takes "
        "the uncovered loss, rounded up by at most 1e-6 USD per fill)", "USD", "Profit haircut beyond need"
    )


class Throughput(_Part):
    """How fast the chain took the replay's transactions."""

    transactions: int = _f("transactions the replay sent", "count", "Transactions")
    seconds: Number = _f("time spent sending them", "s", "Time sending them")
    tx_per_s: Number = _f("transactions / seconds", "tx/s", "Throughput")
    raw_anvil_tx_per_s: Number | None = _f(
        "plain transfers per second on the same node, as a reference; `null` when not measured", "tx/s",
        "Raw Anvil throughput",
    )
    ratio: Number | None = _f("`tx_per_s / raw_anvil_tx_per_s`; `null` when not measured", "x", "Ratio to raw Anvil")


class WaitRow(_Part):
    """Liquidations whose transaction waited more than `over_s` and at most `up_to_s` seconds for block space."""

    over_s: int = _f("lower bound (exclusive)", "s")
    up_to_s: int | None = _f("upper bound (inclusive); `null`: no bound", "s")
    liquidations: int = _f("liquidations whose transaction waited that long", "count")


class Settlement(_Part):
    """Block space (the scenario's `chain`): the replay packs the actors' transactions into blocks of
    `block_gas_limit` gas, one every `block_time` seconds, each at the gas its kind last used; what does not fit
    waits for the next block (backstop.chain.blockspace). The scenario's own price transactions take no space.
    Gas figures differ on the embedded EVM (warm slots), so this section is not part of the report digest."""

    block_gas_limit: int = _f("gas per block", "gas")
    block_time: int = _f("seconds between blocks while transactions wait", "s")
    blocks: int = _f("blocks mined during the replay", "count")
    full_blocks: int = _f("blocks that left transactions waiting for the next", "count")
    peak_block_gas: int = _f("the most gas the actors' transactions used in one block", "gas")
    transactions_waited: int = _f("transactions mined later than the block they were sent for", "count")
    liquidations: int = _f("liquidations sent in `liquidate` and `liquidateMany` transactions that were mined", "count")
    liquidations_waited: int = _f("of them, in a transaction that waited for block space", "count")
    longest_wait_s: int = _f("the longest such wait", "s")
    mean_wait_s: Number = _f("the mean wait of those that waited", "s")
    waits: list[WaitRow] = _f("how many waited how long, below")


class Report(_OmitsUnset):
    """One run of one crash scenario against the contracts: report.json. Unknown top-level keys are invalid."""

    model_config = ConfigDict(
        strict=True, allow_inf_nan=False, extra="forbid", validate_by_name=True, validate_by_alias=True,
        serialize_by_alias=True,
    )

    version: Annotated[int, AfterValidator(_schema_version)] = Field(
        alias="schema", description=f"the schema version, `{SCHEMA_VERSION}`"
    )
    scenario: ScenarioInfo = _f("what was replayed, below")
    parameters: dict[str, JsonValue] = _f(
        "the scenario as run (contract, fund and keeper parameters); free-form JSON, shown flattened in report.md"
    )
    run: RunInfo = _f("how the run went, below")
    series: list[Step] = _f("the state after each replay step, in time order")
    liquidations: list[Liquidation] = _f("one entry per liquidation started")
    adl: list[AdlEvent] = _f("one entry per auto-deleveraging fill (`[]` without ADL)")
    buffers: list[Buffer] = _f("one entry per buffer period the throttle started")
    keepers: list[KeeperRow] = _f("one row per keeper actor")
    mark_to_market: list[HolderRow] = _f("the positions still open at the end, by kind of holder")
    fund_flows: list[FlowRow] = _f("every pool's inflows and outflows by kind, reconciled with its balance, below")
    published: list[PublishedRow] = _f("the scenario's published figures beside the replay's (`[]` when it cites none), below")
    totals: Totals = _f("the run's sums, below")
    impact: dict[str, MarketImpact] | None = _optional(
        "market name → price impact and cascades in a market with `liquidity`, below; `null` when no market has any"
    )
    throughput: Throughput = _f("how fast the chain took the replay's transactions, below")
    trading: Trading | None = _optional(
        "traders who opened or closed during the replay, below; absent when the scenario has none"
    )
    settlement: Settlement | None = _optional(
        "block space: how many liquidations waited how long for a block, below; absent in reports before it"
    )


# ------------------------------------------------------------------------------------------------- docs


@functools.cache
def summary_fields(model: type[BaseModel]) -> tuple[tuple[str, str, str, str], ...]:
    """(key, label, unit, kind) of every field of `model` (Totals, Throughput), in order: the rows of
    report.md's Summary. kind is "int", "usd", "pct" or "num" (see backstop.report.format.fmt_as)."""
    rows = []
    for name, info in model.model_fields.items():
        extra = field_extra(info)
        unit = str(extra.get("unit", ""))
        kind = "int" if info.annotation is int else {"USD": "usd", "%": "pct"}.get(unit, "num")
        rows.append((name, str(extra.get("label", name)), unit, kind))
    return tuple(rows)


