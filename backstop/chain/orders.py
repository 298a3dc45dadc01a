"""EIP-712 orders for the Clearinghouse: build, hash and sign them off-chain.

A trader consents to a trade by signing an Order; a matcher (anyone) submits two matching orders with
`Clearinghouse.trade(maker, makerSig, taker, takerSig)`. The domain binds the signature to one chain and one
Clearinghouse, and the order names its market, so a signature cannot be replayed across chains or markets.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

ORDER_TYPES = {
    "Order": [
        {"name": "account", "type": "address"},
        {"name": "market", "type": "bytes32"},
        {"name": "sizeDelta", "type": "int256"},
        {"name": "limitPrice", "type": "uint256"},
        {"name": "margin", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


@dataclass(frozen=True)
class Order:
    account: str
    market: bytes  # bytes32 market id (backstop.units.market_id)
    size_delta: int  # [wad] > 0 buys
    limit_price: int  # [wad]
    margin: int  # [usdc] moved into the position on fill
    nonce: int
    deadline: int  # unix seconds

    def as_tuple(self) -> tuple:
        """The struct as the contract's ABI takes it."""
        return astuple(self)

    def message(self) -> dict:
        return {
            "account": self.account,
            "market": self.market,
            "sizeDelta": self.size_delta,
            "limitPrice": self.limit_price,
            "margin": self.margin,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }


def domain(chain_id: int, clearinghouse: str) -> dict:
    return {"name": "Backstop Clearinghouse", "version": "1", "chainId": chain_id, "verifyingContract": clearinghouse}


def sign_order(order: Order, private_key: str | bytes, chain_id: int, clearinghouse: str) -> bytes:
    """The 65-byte signature (r, s, v) of `order` by `private_key` for one chain and Clearinghouse."""
    signable = encode_typed_data(domain(chain_id, clearinghouse), ORDER_TYPES, order.message())
    return bytes(Account.sign_message(signable, private_key).signature)


def order_digest(order: Order, chain_id: int, clearinghouse: str) -> bytes:
    """The EIP-712 digest the contract computes in `orderDigest`."""
    return _hash_eip191_message(encode_typed_data(domain(chain_id, clearinghouse), ORDER_TYPES, order.message()))
