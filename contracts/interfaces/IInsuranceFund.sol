// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The USDC insurance fund: one global pool (id GLOBAL = bytes32(0)) and one sub-pool per market.
interface IInsuranceFund {
    /// @notice Why USDC entered the fund; every inflow event carries one.
    enum InflowKind {
        Seed,
        LiquidationSurplus,
        LiquidationPenalty,
        TailRiskMargin,
        Donation
    }

    /// @notice Pulls `amount` [usdc] from the caller into `pool` (a market id, or GLOBAL). Donations are open
    ///         to anyone; the other kinds need CREDITOR_ROLE.
    function deposit(bytes32 pool, InflowKind kind, uint256 amount) external;

    /// @notice Pays up to `amount` [usdc] of a loss in `market` to `to`: the market's sub-pool first, then the
    ///         global pool. Returns what it could not cover (the bankruptcy left for ADL). Needs COVER_ROLE.
    function coverLoss(bytes32 market, uint256 amount, address to) external returns (uint256 uncovered);

    /// @notice Balance [usdc] of a pool.
    function poolBalance(bytes32 pool) external view returns (uint256);
}
