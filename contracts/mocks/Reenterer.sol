// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A test attacker, not part of the protocol's API: not behind an interface.
// solhint-disable comprehensive-interface

import {IAuctionTaker} from "../interfaces/IAuctionTaker.sol";
import {ITokenHook} from "./HookToken.sol";

/// @title Reenterer (test only)
/// @notice An attacker account for the adversarial tests. Its owner makes it call anything (`execute`), and
///         arms one call (`arm`) that it makes from inside the next token hook (HookToken) or auction callback
///         (`onAuctionTake`) it receives, bubbling up that call's revert so the test sees the named error.
contract Reenterer is ITokenHook, IAuctionTaker {
    address public immutable owner;
    address public armedTarget;
    bytes public armedData;
    uint256 public reentries; // armed calls made and succeeded

    event Armed(address target, bytes data);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Calls `target` with `data` as this contract; reverts with the callee's error. Owner only.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        // a test contract: its revert string stays as it is
        // solhint-disable-next-line gas-custom-errors
        require(msg.sender == owner, "owner only");
        return _call(target, data);
    }

    /// @notice Makes the next hook or callback call `target` with `data`. Owner only.
    function arm(address target, bytes calldata data) external {
        // solhint-disable-next-line gas-custom-errors
        require(msg.sender == owner, "owner only");
        armedTarget = target;
        armedData = data;
        emit Armed(target, data);
    }

    /// @inheritdoc ITokenHook
    function onTokenTransfer(address, address, uint256) external {
        _fire();
    }

    /// @inheritdoc IAuctionTaker
    function onAuctionTake(address, bytes32, uint256, uint256, bytes calldata) external returns (bytes4) {
        _fire();
        return IAuctionTaker.onAuctionTake.selector;
    }

    function _fire() internal {
        address target = armedTarget;
        if (target == address(0)) return;
        armedTarget = address(0); // once: the armed call's own transfers do not fire again
        _call(target, armedData);
        ++reentries;
    }

    function _call(address target, bytes memory data) internal returns (bytes memory ret) {
        bool ok;
        // the attacker calls whatever it is armed with
        // solhint-disable-next-line avoid-low-level-calls
        (ok, ret) = target.call(data);
        if (!ok) {
            // bubbles the callee's revert data up unchanged
            // solhint-disable-next-line no-inline-assembly
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
