// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Chainlink's own name for this interface, kept so that code written against Chainlink's reads the same here.
// solhint-disable interface-starts-with-i

/// @notice The shape of a Chainlink price feed, declared here because the Chainlink npm package cannot be
///         installed offline. Backstop reads `decimals()` and `latestRoundData()` only.
interface AggregatorV3Interface {
    /// @notice Decimals of every answer (8 for Chainlink's USD feeds).
    function decimals() external view returns (uint8);

    /// @notice A label of the feed, e.g. "OM / USD".
    function description() external view returns (string memory);

    /// @notice Version of the feed's aggregator.
    function version() external view returns (uint256);

    /// @notice Round `roundId`: its answer (feed decimals), start and update time [seconds], and the round
    ///         in which the answer was computed.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The newest round, as `getRoundData`.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
