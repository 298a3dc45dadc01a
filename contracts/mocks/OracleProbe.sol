// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A test contract: several oracle calls inside one transaction. Not part of the protocol.
// solhint-disable comprehensive-interface

import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {MockPriceSource} from "./MockPriceSource.sol";

/// @title OracleProbe
/// @notice Calls the oracle several times in one transaction, as a liquidation or a take does, and emits what
///         each call returned: the tests check that the sources are read once per market and transaction.
contract OracleProbe {
    event Read(uint256 first, uint256 second, uint256 third);

    /// @notice poke, price, poke of `market` in one transaction.
    function pokeReadPoke(IPriceOracle oracle, bytes32 market) external {
        emit Read(oracle.poke(market), oracle.price(market), oracle.poke(market));
    }

    /// @notice poke, then a new answer of `source` (this contract needs its UPDATER_ROLE), then poke and price.
    function pokeMovePoke(IPriceOracle oracle, bytes32 market, MockPriceSource source, int256 answer) external {
        uint256 first = oracle.poke(market);
        source.setAnswer(answer);
        emit Read(first, oracle.poke(market), oracle.price(market));
    }

    /// @notice poke, then a new configuration of `market` (this contract needs ORACLE_ADMIN_ROLE), then poke.
    function pokeConfigurePoke(IPriceOracle oracle, bytes32 market, uint16 maxDeviationBps) external {
        uint256 first = oracle.poke(market);
        oracle.setMarketConfig(market, 3600, maxDeviationBps, 1, 0, 0);
        emit Read(first, oracle.poke(market), 0);
    }
}
