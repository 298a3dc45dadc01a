// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice Auto-deleveraging, the last line of defence: a liquidation whose loss the fund cannot (or, under a
///         fund-risk or liquidity-risk trigger, should not) absorb is closed at the bankrupt position's bankruptcy
///         price against the most profitable, most leveraged positions on the other side, listed by the executor
///         in rank order, checked on-chain, bonded and open to challenge.
/// @dev Units: [usdc] 6 decimals, [wad] 18 decimals, [bps] 10_000 = 100%, [seconds]. Shared errors
///      (contracts/interfaces/Errors.sol): UnknownParameter (`file` names no parameter), InvalidParameter (a value
///      out of range).
interface IAdlQueue {
    /// @notice Why an ADL ran.
    enum Reason {
        Uncovered, // the fund could not cover the loss at the oracle price: only the uncovered part is closed
        FundRisk, // the market's sub-pool or the global pool is draining (InsuranceFund.fundRisk)
        LiquidityRisk // an auction of the market ended unfilled (LiquidationAuction.inLiquidityRisk)
    }

    /// @notice One ADL execution, kept for its challenge window; packed in five slots.
    struct Execution {
        bytes32 market;
        address executor;
        uint64 epoch; // the clearinghouse's ADL epoch of this execution
        bool bankruptLong; // the bankrupt position's side; counterparties are on the other
        bool challenged;
        bool bondReleased;
        uint128 mark; // [wad] oracle price used for ranking and the cap
        uint128 bond; // [usdc]
        uint128 profitTaken; // [usdc] Σ profit taken from the counterparties
        uint128 lastScore; // [wad] score of the last listed counterparty
        address lastAccount; // the last listed counterparty (ties rank by address, ascending)
        uint64 at; // [seconds] execution time
    }

    /// @notice What a trigger requires: why, how much [wad] at which bankruptcy price [wad], the oracle mark
    ///         [wad], the loss [usdc] the pools could not cover at the mark, and what the listed claims (other
    ///         liquidations' shortfalls at this block's prices) take from the pools first [usdc].
    struct Plan {
        Reason reason;
        uint256 qty;
        uint256 price;
        uint256 mark;
        uint256 uncovered;
        uint256 claimed;
    }

    // --- Errors (each named after the rule broken) ---

    /// @notice Liquidation `saleId` has nothing left to close (never started, done, or all handed over).
    error NothingToDeleverage(uint256 saleId);
    /// @notice Liquidation `saleId` is not underwater: its `bankruptcyPrice` [wad] is not beyond the `mark` [wad].
    error NotUnderwater(uint256 saleId, uint256 bankruptcyPrice, uint256 mark);
    /// @notice No trigger holds in `market`: no fund or liquidity risk, and the fund's `available` [usdc] covers
    ///         the `shortfall` [usdc].
    error NoAdlTrigger(bytes32 market, uint256 shortfall, uint256 available);
    /// @notice `account` is not an ADL candidate in `market` (the trader itself, same side, not in profit,
    ///         frozen for liquidation, or no position).
    error NotACandidate(address account, bytes32 market);
    /// @notice The candidate at list `index` does not rank strictly after the one before it.
    error CandidatesOutOfOrder(uint256 index);
    /// @notice The listed candidates closed too little: `qtyLeft` [wad] is still to close.
    error CandidatesExhausted(uint256 qtyLeft);
    /// @notice The claim at list `index` does not follow the one before it in increasing id order, or is the
    ///         liquidation being deleveraged (a claim is counted once, and never against itself).
    error InvalidClaimList(uint256 index);
    /// @notice The list closed the quantity before candidate `index`: no surplus candidates.
    error SurplusCandidates(uint256 index);
    /// @notice The challenge window of `execution` is closed.
    error ChallengeWindowClosed(uint256 execution);
    /// @notice The challenge window of `execution` is open until `closesAt` [seconds]: the bond stays.
    error ChallengeWindowOpen(uint256 execution, uint256 closesAt);
    /// @notice `execution` was challenged already (its bond is slashed).
    error AlreadyChallenged(uint256 execution);
    /// @notice The bond of `execution` was released already.
    error BondAlreadyReleased(uint256 execution);
    /// @notice `account` was listed by the execution: it was not skipped.
    error AlreadyListed(address account);
    /// @notice Skipped `account` (of `score` [wad]) does not rank before the last listed counterparty.
    error SkippedRanksBelow(address account, uint256 score);
    /// @notice `account` has nothing to claim from `execution` (not challenged, not listed, or claimed).
    error NothingToClaim(uint256 execution, address account);
    /// @notice No execution has id `execution`.
    error UnknownExecution(uint256 execution);

    // --- Events ---

    /// @notice The parameter `what` was set to `data` (unit as documented on `file`).
    event ParameterSet(bytes32 indexed what, uint256 data);
    /// @notice One ADL: `qty` of liquidation `saleId` closed at `price` (the bankruptcy price), for `reason`, at
    ///         oracle `mark`, taking `profitTaken` [usdc] with `uncovered` [usdc] the pools could not cover once
    ///         the listed claims took `claimed` [usdc]; the executor bonded `bond` [usdc].
    event AdlExecuted(
        uint256 indexed execution,
        bytes32 indexed market,
        uint256 indexed saleId,
        address trader,
        Reason reason,
        uint256 qty,
        uint256 price,
        uint256 mark,
        uint256 profitTaken,
        uint256 uncovered,
        uint256 claimed,
        uint256 bond
    );
    /// @notice The billing record of one counterparty: typed "ADL" so a holder's history shows it as such.
    event ADL(
        uint256 indexed execution,
        address indexed trader,
        address indexed counterparty,
        bytes32 market,
        uint256 qty,
        uint256 price,
        uint256 profitTaken,
        uint256 rank
    );
    /// @notice `challenger` proved that `execution` skipped `skipped` (of `score` [wad]): the bond is slashed.
    event Challenged(uint256 indexed execution, address indexed challenger, address indexed skipped, uint256 score);
    /// @notice `account` claimed back the `amount` [usdc] of profit a challenged `execution` took from it.
    event CompensationClaimed(uint256 indexed execution, address indexed account, uint256 amount);
    /// @notice The unchallenged bond of `execution`, `amount` [usdc], went back to `executor`.
    event BondReleased(uint256 indexed execution, address indexed executor, uint256 amount);

    // --- Administration ---

    /// @notice Sets "lossCapBps" [bps, 1..10_000], "challengeWindow" [seconds, ≤ 7 days] or "minBond" [usdc].
    ///         Admin only.
    function file(bytes32 what, uint256 data) external;

    // --- Execution ---

    /// @notice Closes what the trigger requires of liquidation `saleId` (running or queued) at the position's
    ///         bankruptcy price against `candidates`, listed in rank order (score desc, address asc) at this
    ///         block's oracle price. Each is filled up to its size and its loss cap, the rest spilling to the
    ///         next; the list must close the quantity exactly (no surplus candidates). The caller posts a bond
    ///         of `minBond` plus the profit taken (approve USDC first), returned after `challengeWindow`.
    ///         Anyone may call when a trigger holds (see `trigger`).
    ///         `claims` lists other liquidations (ids strictly increasing) whose shortfall at this block's prices
    ///         the pools must pay as well: the uncovered trigger judges this sale after them, so that many
    ///         auctions each coverable alone but not together are deleveraged before their takes drain the
    ///         fund. In `saleId`'s market a claim draws on the sub-pool and the global pool; in another market
    ///         only on the global pool beyond its own sub-pool. Listing fewer only weakens the trigger.
    function execute(uint256 saleId, uint256[] calldata claims, address[] calldata candidates)
        external
        returns (uint256 id);

    /// @notice Proves that execution `id` skipped `skipped`, an eligible position ranked above its last listed
    ///         counterparty at the execution's price and able to take part of the loss. `hint` is the epoch of
    ///         the skipped position's first change after the execution, if it changed (see
    ///         Clearinghouse.positionAt). Slashes the bond: the counterparties may claim their profit back with
    ///         `claim`, the caller receives the rest. Anyone, within the challenge window.
    function challenge(uint256 id, address skipped, uint64 hint) external;

    /// @notice After a successful challenge of execution `id`, pays the caller back the profit taken from it.
    function claim(uint256 id) external;

    /// @notice Returns execution `id`'s bond to its executor once the challenge window closed unchallenged.
    ///         Anyone may call.
    function releaseBond(uint256 id) external;

    // --- Views ---

    /// @notice Whether ADL may run on liquidation `saleId` now, after the listed `claims` (see `execute`), why,
    ///         how much of it [wad] it would close, at which price [wad], and the loss [usdc] the pools could not
    ///         cover at the oracle price.
    function trigger(uint256 saleId, uint256[] calldata claims) external view returns (Plan memory);

    /// @notice `account`'s leveraged-profit score [wad] in `market` at the oracle price (0 if not profitable).
    function score(bytes32 market, address account) external view returns (uint256);

    /// @notice Among the accounts `start .. start+count-1` of `market` (Clearinghouse.accountAt), how many are
    ///         ADL candidates on the same side as `account` (`eligible`) and how many of those rank before it
    ///         (`above`). Sum over pages for the rank (`1 + above`) and `lights(rank, eligible)`. A view for
    ///         holders and dashboards: its cost grows with `count`, so page through large markets.
    function rankPage(bytes32 market, address account, uint256 start, uint256 count)
        external
        view
        returns (uint256 above, uint256 eligible);

    /// @notice The 1–5 lights of rank `rank` among `eligible` candidates: 5 for the first fifth (most at risk),
    ///         1 for the last; 0 when not a candidate.
    function lights(uint256 rank, uint256 eligible) external pure returns (uint256);

    /// @notice Execution `id` as recorded (all zero if unknown).
    function execution(uint256 id) external view returns (Execution memory);

    /// @notice The profit [usdc] execution `id` took from `account`, and whether it was listed.
    function takenFrom(uint256 id, address account) external view returns (uint256 taken, bool listed);
}
