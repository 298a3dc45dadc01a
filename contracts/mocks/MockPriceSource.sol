// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A test feed: its setters are for tests only, not part of the protocol's API: not behind an interface.
// solhint-disable comprehensive-interface

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockPriceSource
/// @notice A settable Chainlink-shaped feed for tests and crash replays ONLY. Every answer opens a new round;
///         past rounds stay readable through `getRoundData`. Only UPDATER_ROLE may set answers.
/// @dev Before the first answer `latestRoundData` returns all zeros (round 0, answer 0, updatedAt 0), which a
///      consumer must treat as "no price"; `getRoundData` of a round never written reverts with `NoDataPresent`.
contract MockPriceSource is AggregatorV3Interface, AccessControl {
    bytes32 public constant UPDATER_ROLE = keccak256("UPDATER_ROLE");

    struct Round {
        int256 answer; // in the feed's own decimals
        uint256 updatedAt; // [seconds] unix time
    }

    uint8 private immutable _decimals;
    string private _description;

    /// @notice The id of the newest round; 0 until the first answer.
    uint80 public latestRound;
    mapping(uint80 roundId => Round) private _rounds;

    event AnswerUpdated(int256 answer, uint80 roundId, uint256 updatedAt);

    error NoDataPresent(uint80 roundId);

    /// @param decimals_ Decimals of every answer (e.g. 8 for a Chainlink USD feed).
    /// @param description_ A label, e.g. "OM / USD (venue A)".
    /// @param admin Receives DEFAULT_ADMIN_ROLE and UPDATER_ROLE.
    constructor(uint8 decimals_, string memory description_, address admin) {
        _decimals = decimals_;
        _description = description_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPDATER_ROLE, admin);
    }

    /// @notice Publishes `answer` (feed decimals) as a new round updated now. Only UPDATER_ROLE.
    function setAnswer(int256 answer) external onlyRole(UPDATER_ROLE) {
        _push(answer, block.timestamp);
    }

    /// @notice Publishes `answer` (feed decimals) as a new round updated at `updatedAt` [seconds], which may lie
    ///         in the past (staleness tests) or the future (clock-skew tests). Only UPDATER_ROLE.
    function setAnswerAt(int256 answer, uint256 updatedAt) external onlyRole(UPDATER_ROLE) {
        _push(answer, updatedAt);
    }

    /// @notice Decimals of every answer.
    function decimals() external view returns (uint8) {
        return _decimals;
    }

    /// @notice The label given at deployment.
    function description() external view returns (string memory) {
        return _description;
    }

    /// @notice Version of this mock's interface.
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @notice A past round; reverts with `NoDataPresent` for a round never written.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (roundId == 0 || roundId > latestRound) revert NoDataPresent(roundId);
        Round memory r = _rounds[roundId];
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }

    /// @notice The newest round; all zeros before the first answer.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint80 id = latestRound;
        Round memory r = _rounds[id];
        return (id, r.answer, r.updatedAt, r.updatedAt, id);
    }

    function _push(int256 answer, uint256 updatedAt) private {
        uint80 id = latestRound + 1;
        latestRound = id;
        _rounds[id] = Round({answer: answer, updatedAt: updatedAt});
        emit AnswerUpdated(answer, id, updatedAt);
    }
}
