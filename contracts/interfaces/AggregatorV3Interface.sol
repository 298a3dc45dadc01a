// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The shape of a Chainlink price feed, declared here because the Chainlink npm package cannot be
///         installed offline. Backstop reads `decimals()` and `latestRoundData()` only.
interface AggregatorV3Interface {
    function decimals() external view returns (uint8);

    function description() external view returns (string memory);

    function version() external view returns (uint256);

    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
