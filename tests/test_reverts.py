"""Revert reasons read as the contracts wrote them: a custom error by name with its arguments, decoded against
every compiled Backstop contract (backstop.chain.reverts), never a raw selector."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from backstop.chain.abi import abi_of
from backstop.chain.fastchain import FastChain, Wallet, derive_account, web3_contract
from backstop.chain.reverts import compiled_errors, decode_revert
from backstop.units import market_id

CODEC = Web3().codec
OM = "0x" + market_id("OM-USD").hex()


def _error(signature: str, types: list[str], values: list) -> bytes:
    return keccak(text=signature)[:4] + encode(types, values)


def test_every_compiled_contracts_errors_are_known():
    names = {item["name"] for item in compiled_errors().values()}
    assert {"UnknownMarket", "NotLiquidatable", "ERC20InsufficientBalance", "NoAdlTrigger", "TauIsZero"} <= names


def test_a_custom_error_reads_as_its_name_and_arguments():
    data = _error("UnknownMarket(bytes32)", ["bytes32"], [market_id("OM-USD")])
    assert decode_revert(data, {}, CODEC) == f'UnknownMarket({OM} ("OM-USD"))'
    assert decode_revert(data, {}, CODEC, args=False) == "UnknownMarket"
    account = "0x" + "ab" * 20
    data = _error("NotLiquidatable(address,bytes32,int256,uint256)", ["address", "bytes32", "int256", "uint256"], [account, b"\0" * 32, -5, 7])
    assert decode_revert(data, {}, CODEC) == f"NotLiquidatable({Web3.to_checksum_address(account)}, 0x{'00' * 32}, -5, 7)"


def test_revert_strings_panics_and_unknown_errors():
    assert decode_revert(_error("Error(string)", ["string"], ["nope"]), {}, CODEC) == "nope"
    assert decode_revert(_error("Panic(uint256)", ["uint256"], [0x11]), {}, CODEC) == "Panic(0x11: arithmetic overflow)"
    unknown = decode_revert(bytes.fromhex("deadbeef"), {}, CODEC)
    assert unknown == "error 0xdeadbeef (not in any Backstop contract's ABI; 4 bytes of revert data)"


def test_a_reverting_transaction_s_reason_names_the_error_and_its_arguments(project, admin, usdc, chain):
    """The fund is not registered with the FastChain: its error is found among the compiled contracts'."""
    fund = admin.deploy(project.InsuranceFund, usdc, admin, 0)
    fc = FastChain.connect(chain.provider.http_uri)
    contract = web3_contract(fc.w3, str(fund.address), abi_of(fund))
    wallet = Wallet(derive_account(5, "revert", 0))
    fc.call_fn(wallet, contract, "deposit", market_id("OM-USD"), 4, 1, label="donate")  # 4 = InflowKind.Donation
    (sent, receipt), = fc.wait()
    assert receipt["status"] == 0
    assert fc.revert_reason(sent.tx_hash) == f'UnknownMarket({OM} ("OM-USD"))'
