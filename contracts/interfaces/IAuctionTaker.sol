// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A keeper contract that takes auctions with a callback: it receives the position first and pays
///         (deposits USDC into the clearinghouse) inside `onAuctionTake`, so no capital has to sit idle.
interface IAuctionTaker {
    /// @notice Called by the auction after `qty` [wad] of a liquidated position passed to this contract at
    ///         `price` [wad]; must return `IAuctionTaker.onAuctionTake.selector` to consent.
    function onAuctionTake(address caller, bytes32 market, uint256 qty, uint256 price, bytes calldata data)
        external
        returns (bytes4);
}
