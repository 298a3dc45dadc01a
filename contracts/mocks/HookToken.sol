// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A test token, not part of the protocol's API: not behind an interface.
// solhint-disable comprehensive-interface

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice What a HookToken holder implements to be called on each of its transfers.
interface ITokenHook {
    /// @notice Called by the token on the sender before and on the recipient after a transfer.
    function onTokenTransfer(address from, address to, uint256 amount) external;
}

/// @title HookToken (test only)
/// @notice A malicious 6-decimal stand-in for USDC whose transfers call back into the parties, as ERC-777
///         "tokensToSend"/"tokensReceived" hooks do: the sender that registered a hook is called before the
///         balances move, the recipient that registered one after. Lets the adversarial tests reenter the
///         clearinghouse, the fund and the auction from inside their own token transfers. Anyone may mint.
contract HookToken is ERC20 {
    mapping(address account => bool) public hooked;

    event HookRegistered(address indexed account, bool on);

    constructor() ERC20("Hook USD (malicious test token)", "hUSD") {}

    /// @notice USDC has 6 decimals; so does this token.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Creates `amount` for `to`. Open to anyone: a test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The caller (a contract implementing ITokenHook) asks to be called on its transfers.
    function registerHook(bool on) external {
        hooked[msg.sender] = on;
        emit HookRegistered(msg.sender, on);
    }

    function _update(address from, address to, uint256 amount) internal override {
        if (from != address(0) && hooked[from]) ITokenHook(from).onTokenTransfer(from, to, amount);
        super._update(from, to, amount);
        if (to != address(0) && hooked[to]) ITokenHook(to).onTokenTransfer(from, to, amount);
    }
}
