"""What backstop.chain.fastchain's transactions pay: the gas price it signs with, read from the node, and gas
money for its throwaway senders on a development node (a stock `anvil` or `npx hardhat node`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEV_GAS_FUNDS", "FEE_HEADROOM", "Fees", "rpc_message"]

FEE_HEADROOM = 2  # gas price = this x the latest base fee: a base fee rises at most 12.5% a block (5 full blocks)
DEV_GAS_FUNDS = 10_000 * 10**18  # [wei] what a dev node's sender short of gas money is given (a test account's)


@dataclass
class Fees:
    """What FastChain's transactions pay: the gas price it signs with, and gas money for senders on a dev node.

    The replay's own Anvil (backstop.chain.node) has base fee 0: the price stays 0 and nothing is ever asked
    again (a replay's figures and speed are as without this). On a node with a base fee (a stock `anvil`,
    `npx hardhat node`, a real chain) every transaction pays FEE_HEADROOM x the latest base fee (at least the
    node's eth_gasPrice), re-read after every block mined; and on a stock dev node, whose throwaway accounts
    hold no ether, each new sender with less than half of DEV_GAS_FUNDS is given DEV_GAS_FUNDS
    (hardhat_setBalance, which Anvil accepts too) before its first transaction goes out."""

    price: int = 0  # [wei per gas]
    new_senders: set[str] = field(default_factory=set)
    funded: set[str] = field(default_factory=set)

    def reprice(self, chain: Any) -> None:
        """The price from the node's latest block: 0 when its base fee is 0; FEE_HEADROOM x the base fee and at
        least eth_gasPrice when it has one; eth_gasPrice on a node without base fee (before EIP-1559)."""
        block, suggested = chain.batch([("eth_getBlockByNumber", ["latest", False]), ("eth_gasPrice", [])])
        base = block.get("baseFeePerGas") if isinstance(block, dict) else None
        offer = int(suggested, 16) if isinstance(suggested, str) else 0
        if base is None:
            self.price = offer
        else:
            self.price = 0 if int(base, 16) == 0 else max(FEE_HEADROOM * int(base, 16), offer)

    def follow(self, chain: Any) -> None:
        """After blocks were mined: a priced node's base fee may have moved, read it again."""
        if self.price:
            self.reprice(chain)

    def sender(self, address: str) -> None:
        if self.price and address not in self.funded:
            self.new_senders.add(address)

    def fund_senders(self, chain: Any) -> list[tuple[str, str]]:
        """Gives the new senders that lack gas money DEV_GAS_FUNDS, on a dev node (elsewhere an account pays its
        own way, and the node refuses a transaction it cannot pay for). Returns (address, the node's error) for
        each it could not fund."""
        if not self.new_senders:
            return []
        todo, self.new_senders = sorted(self.new_senders), set()
        self.funded.update(todo)
        if not chain.is_dev:
            return []
        balances = chain.batch([("eth_getBalance", [a, "latest"]) for a in todo])
        short = [a for a, b in zip(todo, balances) if not isinstance(b, str) or int(b, 16) < DEV_GAS_FUNDS // 2]
        answers = chain.batch([("hardhat_setBalance", [a, hex(DEV_GAS_FUNDS)]) for a in short])
        return [(address, rpc_message(answer)) for address, answer in zip(short, answers) if isinstance(answer, dict)]


def rpc_message(error: Any) -> str:
    """A JSON-RPC error object as one line: its message (and data, if any)."""
    if not isinstance(error, dict):
        return " ".join(str(error).split())
    text = str(error.get("message") or error)
    data = error.get("data")
    if isinstance(data, str) and data and data not in text:
        text += f" ({data})"
    return " ".join(text.split())
