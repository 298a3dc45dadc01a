// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A keeper contract that takes auctions with a callback: it receives the position first and pays
///         (deposits USDC into the clearinghouse) inside `onAuctionTake`, so no capital has to sit idle.
///         Anyone may call `take` naming any taker contract, so an implementation MUST check that `msg.sender`
///         is the auction and that `caller` is an account it trusts, and refuse otherwise; a taker that
///         consents to every caller lets strangers hand it positions paid from its balance.
interface IAuctionTaker {
    /// @notice Called by the auction after `qty` [wad] of a liquidated position passed to this contract at
    ///         `price` [wad]; must return `IAuctionTaker.onAuctionTake.selector` to consent.
    function onAuctionTake(address caller, bytes32 market, uint256 qty, uint256 price, bytes calldata data)
        external
        returns (bytes4);
}
