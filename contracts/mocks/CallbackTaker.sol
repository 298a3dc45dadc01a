// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A test keeper, not part of the protocol's API: not behind an interface.
// solhint-disable comprehensive-interface

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAuctionTaker} from "../interfaces/IAuctionTaker.sol";
import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {ILiquidationAuction} from "../interfaces/ILiquidationAuction.sol";

/// @title CallbackTaker (test only)
/// @notice A keeper contract that takes auctions with a callback: it receives the position first and funds
///         its margin inside `onAuctionTake`. Modes: 1 pays (deposits `amount`), 2 re-enters the auction,
///         3 refuses by returning a wrong value. It consents only to takes its keeper started, as every
///         IAuctionTaker must: anyone can name any taker in `take`.
contract CallbackTaker is IAuctionTaker {
    IERC20 public immutable usdc;
    address public immutable clearinghouse;
    address public immutable auction;
    address public immutable keeper;

    error NotTheAuction(address sender);
    error UntrustedCaller(address caller);

    constructor(IERC20 usdc_, address clearinghouse_, address auction_, address keeper_) {
        usdc = usdc_;
        clearinghouse = clearinghouse_;
        auction = auction_;
        keeper = keeper_;
    }

    function onAuctionTake(address caller, bytes32, uint256, uint256, bytes calldata data) external returns (bytes4) {
        if (msg.sender != auction) revert NotTheAuction(msg.sender);
        if (caller != keeper && caller != address(this)) revert UntrustedCaller(caller);
        (uint8 mode, uint256 amount, uint256 id) = abi.decode(data, (uint8, uint256, uint256));
        if (mode == 1) {
            usdc.approve(clearinghouse, amount);
            IClearinghouse(clearinghouse).deposit(amount);
        } else if (mode == 2) {
            ILiquidationAuction(auction).take(id, 1, type(uint256).max, 0, address(this), data);
        } else if (mode == 3) {
            return bytes4(0xdeadbeef);
        }
        return IAuctionTaker.onAuctionTake.selector;
    }
}
