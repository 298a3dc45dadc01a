"""FastChain's own encoders give what web3.py and eth_account give (backstop.chain.fastchain): calldata, signed
transactions, decoded events and formatted receipts, byte for byte and type for type.

Pure Python: no node. Run alone with
``PYTHONPATH=$PWD .venv/bin/python -m pytest tests/test_fastchain.py -q -p no:ape_test``.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_keys.datatypes import PrivateKey
from eth_utils import keccak
from web3 import Web3
from web3._utils.method_formatters import receipt_formatter

from backstop.chain import fastchain
from backstop.chain.fastchain import FastChain, Wallet, derive_account, web3_contract

ORDER = {"name": "o", "type": "tuple", "components": [
    {"name": "account", "type": "address"}, {"name": "market", "type": "bytes32"}, {"name": "size", "type": "int256"},
]}
ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "trade", "stateMutability": "nonpayable", "outputs": [],
     "inputs": [ORDER, {"name": "sig", "type": "bytes"}, {"name": "ok", "type": "bool"}, {"name": "ids", "type": "address[]"}]},
    {"type": "function", "name": "price", "stateMutability": "view", "inputs": [{"name": "m", "type": "bytes32"}],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "file", "stateMutability": "nonpayable", "outputs": [],
     "inputs": [{"name": "what", "type": "bytes32"}, {"name": "data", "type": "uint256"}]},
    {"type": "function", "name": "file", "stateMutability": "nonpayable", "outputs": [],
     "inputs": [{"name": "what", "type": "bytes32"}, {"name": "data", "type": "address"}]},
    {"type": "event", "name": "Filled", "anonymous": False, "inputs": [
        {"name": "id", "type": "uint256", "indexed": True}, {"name": "owner", "type": "address", "indexed": True},
        {"name": "market", "type": "bytes32", "indexed": False}, {"name": "delta", "type": "int256", "indexed": False},
        {"name": "keeper", "type": "address", "indexed": False}, {"name": "long", "type": "bool", "indexed": False},
    ]},
    {"type": "event", "name": "LevelsSet", "anonymous": False, "inputs": [
        {"name": "market", "type": "bytes32", "indexed": True}, {"name": "bps", "type": "uint16[]", "indexed": False},
    ]},
]
ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
A, B = derive_account(1, "a", 0).address, derive_account(1, "b", 0).address


@pytest.fixture
def chain(monkeypatch: pytest.MonkeyPatch) -> FastChain:
    monkeypatch.setattr(FastChain, "rpc", lambda self, method, params=None: "0x7a69")  # chain id 31337, no node
    return FastChain(Web3())


def test_calldata_equals_web3s(chain: FastChain) -> None:
    c = web3_contract(chain.w3, ADDRESS, ABI)
    for fn, args in (
        ("trade", [(A, b"\1" * 32, -5 * 10**18), b"\xab" * 65, True, [A, B]]),
        ("trade", [(B, b"\0" * 32, 0), b"", False, []]),
        ("price", [b"M" * 32]),
        ("file", [b"tip".ljust(32, b"\0"), 7]),  # overloaded: goes through web3
    ):
        assert chain.encode(c, fn, args) == c.encode_abi(fn, args), fn


def test_signed_transactions_equal_eth_accounts(chain: FastChain) -> None:
    wallet = Wallet(derive_account(3, "signer", 0), nonce=41)
    for data in (b"", bytes(range(200))):
        tx = {"to": ADDRESS, "data": "0x" + data.hex(), "gas": 3_000_000, "gasPrice": 0, "nonce": wallet.nonce, "chainId": 31337, "value": 0}
        expected = bytes(Account.sign_transaction(tx, wallet.account.key).raw_transaction)
        assert fastchain._sign_legacy(PrivateKey(bytes(wallet.account.key)), 31337, wallet.nonce, 3_000_000, ADDRESS, data) == expected
        chain.send(wallet, ADDRESS, data)
        assert chain._pending[-1].raw == expected and chain._pending[-1].tx_hash == keccak(expected)


def _receipt(logs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "blockHash": "0x" + "11" * 32, "blockNumber": "0x2a", "transactionIndex": "0x0", "transactionHash": "0x" + "22" * 32,
        "cumulativeGasUsed": "0x5208", "gasUsed": "0x5208", "status": "0x1", "contractAddress": None, "logsBloom": "0x" + "00" * 256,
        "from": A.lower(), "to": ADDRESS.lower(), "effectiveGasPrice": "0x0", "type": "0x0", "logs": logs,
    }


def _log(topics: list[bytes], data: bytes, index: int) -> dict[str, Any]:
    return {"address": ADDRESS.lower(), "topics": ["0x" + t.hex() for t in topics], "data": "0x" + data.hex(),
            "blockHash": "0x" + "11" * 32, "blockNumber": "0x2a", "transactionHash": "0x" + "22" * 32,
            "transactionIndex": "0x0", "logIndex": hex(index), "removed": False}


def test_receipts_and_events_equal_web3s(chain: FastChain) -> None:
    c = web3_contract(chain.w3, ADDRESS, ABI)
    chain.register("c", c)
    filled = keccak(text="Filled(uint256,address,bytes32,int256,address,bool)")
    levels = keccak(text="LevelsSet(bytes32,uint16[])")
    raw = _receipt([
        _log([filled, (7).to_bytes(32, "big"), bytes(12) + bytes.fromhex(B[2:])],
             encode(["bytes32", "int256", "address", "bool"], [b"M" * 32, -3, A, True]), 0),
        _log([levels, b"M" * 32], encode(["uint16[]"], [[50, 100]]), 1),  # an array: decoded by web3
        _log([keccak(text="Unknown()")], b"", 2),
    ])
    ours, theirs = fastchain._receipt(raw), receipt_formatter(raw)
    assert ours == theirs
    assert all(type(ours[k]) is type(theirs[k]) for k in theirs)
    for mine, web3s in zip(ours["logs"], theirs["logs"]):
        assert mine == web3s and all(type(mine[k]) is type(web3s[k]) for k in web3s)
    decoded = chain.decode(ours)
    assert [(name, event) for name, event, _, _ in decoded] == [("c", "Filled"), ("c", "LevelsSet")]
    for (_, event, args, log) in decoded:
        expected = dict(getattr(c.events, event)().process_log(log)["args"])
        assert args == expected and all(type(args[k]) is type(expected[k]) for k in expected), event
    assert decoded[0][2]["owner"] == B and decoded[0][2]["keeper"] == A  # checksummed


def test_signed_transactions_at_a_gas_price_equal_eth_accounts(chain: FastChain) -> None:
    wallet = Wallet(derive_account(3, "signer", 1), nonce=7)
    chain.fees.price = 2_000_000_007
    tx = {"to": ADDRESS, "data": "0x01", "gas": 3_000_000, "gasPrice": 2_000_000_007, "nonce": 7, "chainId": 31337, "value": 0}
    expected = bytes(Account.sign_transaction(tx, wallet.account.key).raw_transaction)
    chain.send(wallet, ADDRESS, b"\1")
    assert chain._pending[-1].raw == expected
    assert chain.fees.new_senders == {wallet.address}  # a priced chain funds it (on a dev node) before sending


@pytest.mark.parametrize(
    ("base_fee", "gas_price", "price"),
    [
        ("0x0", "0x3b9aca00", 0),  # the replay's own Anvil: base fee 0 (its eth_gasPrice says 1 gwei all the same)
        ("0x3b9aca00", "0x77359400", 2 * 10**9),  # a stock Anvil: base fee 1 gwei, eth_gasPrice 2 gwei
        ("0x3b9aca00", "0x12a05f200", 5 * 10**9),  # a node that asks for more than twice the base fee
        (None, "0x4a817c800", 20 * 10**9),  # before EIP-1559: no base fee, the node's gas price
    ],
)
def test_the_gas_price_follows_the_nodes_base_fee(chain: FastChain, monkeypatch: pytest.MonkeyPatch, base_fee, gas_price, price) -> None:
    block = {"number": "0x1"} if base_fee is None else {"number": "0x1", "baseFeePerGas": base_fee}
    monkeypatch.setattr(FastChain, "batch", lambda self, calls: [block, gas_price])
    chain.fees.reprice(chain)
    assert chain.gas_price == price


@pytest.mark.parametrize("values", [
    (0, -1, True, "0x" + "ab" * 20, b"OM-USD".ljust(32, b"\0"), 2**256 - 1),
    (12345, -(2**255), False, "0x" + "00" * 19 + "01", bytes(32), 0),
])
def test_static_words_decode_as_eth_abi_decodes_them(values):
    from backstop.chain.codec import static_decoder

    types = ["uint64", "int256", "bool", "address", "bytes32", "uint256"]
    data = encode(types, list(values))
    assert static_decoder(types)(data) == Web3().codec.decode(types, data)
    assert static_decoder(["uint256", "(uint256,(bool,uint8))"]) is None and static_decoder(["uint256[]"]) is None  # through eth_abi
    with pytest.raises(ValueError, match="bool"):
        static_decoder(["bool"])(encode(["uint256"], [2]))
    with pytest.raises(ValueError, match="expected"):
        static_decoder(["uint256", "uint256"])(encode(["uint256"], [2]))


def test_static_structs_decode_and_static_words_encode_as_eth_abi_does():
    from backstop.chain.codec import static_decoder, static_encoder

    codec = Web3().codec
    types = ["(int256,uint256,uint128)", "bool", "(address,bytes32)"]
    values = ((-5, 7, 2**128 - 1), True, ("0x" + "cd" * 20, b"x".ljust(32, b"\0")))
    data = encode(types, list(values))
    assert static_decoder(types)(data) == codec.decode(types, data)
    words = ["uint256", "int128", "bool", "address", "bytes32", "uint8"]
    args = [2**200, -(2**100), False, Web3.to_checksum_address("0x" + "ef" * 20), b"OM-USD".ljust(32, b"\0"), 255]
    assert static_encoder(words)(args) == codec.encode(words, args)
    for bad in ([-1], [2**256], [True], ["7"]):  # refused: FastChain.encode then asks eth_abi, which names why
        with pytest.raises(ValueError):
            static_encoder(["uint256"])(bad)
    with pytest.raises(ValueError):
        static_encoder(["address"])(["0x" + "Ab" * 20])  # a broken checksum
    assert static_encoder(["uint256[]"]) is None
