"""tests/revert_helpers.assert_view_reverts: it passes on the exact error and arguments a view reverts with, and
fails (AssertionError, naming what happened) on anything else, which `ape.reverts` around a view does not."""

from __future__ import annotations

import ape
import pytest
import solcx
from ape.contracts import ContractContainer
from ethpm_types import ContractType

from backstop.units import market_id
from tests.revert_helpers import PANIC, assert_view_reverts, decode_revert, error_selector

OM = market_id("OM-USD")
UNKNOWN = market_id("NOPE-USD")
ZERO = "0x" + "00" * 20

# A test-only contract, compiled here (contracts/ is the product's): one view per kind of revert.
SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

contract ViewReverter {
    error Boom(bytes32 market, uint256 have, address who);
    error Other(uint256 have);
    error NoArgs();

    function boom(uint256 have) external view returns (uint256) { revert Boom("OM", have, msg.sender); }
    function other(uint256 have) external pure returns (uint256) { revert Other(have); }
    function noArgs() external pure returns (uint256) { revert NoArgs(); }
    function text() external pure returns (uint256) { revert("plain string"); }
    function bare() external pure returns (uint256) { revert(); }
    function divide(uint256 x) external pure returns (uint256) { return 1 / x; }
    function fine(uint256 x) external pure returns (uint256) { return x + 1; }
    function poke() external {}

    /// Calls `target` with `data` and bubbles its revert: an error declared by another contract.
    function relay(address target, bytes calldata data) external view returns (bytes memory) {
        (bool ok, bytes memory out) = target.staticcall(data);
        if (!ok) assembly { revert(add(out, 32), mload(out)) }
        return out;
    }
}
"""


@pytest.fixture(scope="module")
def reverter(admin):
    out = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {"ViewReverter.sol": {"content": SOURCE}},
            "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}}},
        },
        solc_version="0.8.37",
    )
    c = out["contracts"]["ViewReverter.sol"]["ViewReverter"]
    contract_type = ContractType(
        contractName="ViewReverter",
        abi=c["abi"],
        deploymentBytecode={"bytecode": "0x" + c["evm"]["bytecode"]["object"]},
        runtimeBytecode={"bytecode": "0x" + c["evm"]["deployedBytecode"]["object"]},
    )
    return admin.deploy(ContractContainer(contract_type))


@pytest.fixture(scope="module")
def oracle(project, admin):
    return admin.deploy(project.PriceOracle, admin)


# ---------------------------------------------------------------- the premise


def test_ape_reverts_around_a_view_accepts_any_error(oracle):
    """Why the helper exists: Ape 0.8 does not decode an eth_call's custom error, so ape.reverts checks neither the
    name nor the arguments of a view's revert. (If this starts failing, Ape decodes view reverts now.)"""
    with ape.reverts(oracle.NotEnoughSources, market=OM, usable=1, required=2):  # the truth: UnknownMarket(UNKNOWN)
        oracle.price(UNKNOWN)


# ---------------------------------------------------------------- it passes on the right one


def test_passes_on_the_exact_error_and_arguments(reverter, oracle):
    got = assert_view_reverts(reverter.boom, 5, reverter.Boom, market=b"OM", have=5, who=ZERO)
    assert (got.name, got.inputs) == ("Boom", {"market": b"OM".ljust(32, b"\0"), "have": 5, "who": ZERO})
    assert_view_reverts(reverter.boom, (5,), "Boom", market=b"OM".ljust(32, b"\0"), have=5, who=ZERO)  # by name
    assert_view_reverts(reverter.noArgs, (), reverter.NoArgs)
    assert_view_reverts(reverter.text, (), "Error", message="plain string")
    assert_view_reverts(reverter.divide, 0, "Panic", code=0x12)
    assert_view_reverts(oracle.price, UNKNOWN, oracle.UnknownMarket, market=UNKNOWN)


# ---------------------------------------------------------------- and fails on anything else


def test_fails_on_a_wrong_error_name(reverter, oracle):
    with pytest.raises(AssertionError, match=r"reverted with Boom\(.*\), expected Other\(have=5\)"):
        assert_view_reverts(reverter.boom, 5, reverter.Other, have=5)
    with pytest.raises(AssertionError, match=r"reverted with UnknownMarket\(market=\"NOPE-USD\"\), expected NotEnoughSources"):
        assert_view_reverts(oracle.price, UNKNOWN, oracle.NotEnoughSources, market=UNKNOWN, usable=0, required=1)
    with pytest.raises(AssertionError, match="expected NoArgs"):
        assert_view_reverts(reverter.other, 1, "NoArgs")


@pytest.mark.parametrize(
    "inputs, wrong",
    [
        ({"market": b"OM", "have": 6, "who": ZERO}, "have is 5, expected 6"),
        ({"market": b"BTC", "have": 5, "who": ZERO}, 'market is "OM", expected "BTC"'),
        ({"market": b"OM", "have": 5, "who": "0x" + "00" * 19 + "01"}, "who is '0x0000000000000000000000000000000000000000', expected '0x0000000000000000000000000000000000000001'"),  # noqa: E501
    ],
)
def test_fails_on_a_wrong_argument(reverter, inputs, wrong):
    with pytest.raises(AssertionError, match=wrong):
        assert_view_reverts(reverter.boom, 5, reverter.Boom, **inputs)


def test_fails_on_a_wrong_argument_of_a_real_contract(oracle):
    with pytest.raises(AssertionError, match='market is "NOPE-USD", expected "OM-USD"'):
        assert_view_reverts(oracle.price, UNKNOWN, oracle.UnknownMarket, market=OM)


def test_fails_when_the_view_does_not_revert(reverter, oracle):
    with pytest.raises(AssertionError, match=r"did not revert \(it returned 0x0+8\); expected Boom"):
        assert_view_reverts(reverter.fine, 7, reverter.Boom, market=b"OM", have=5, who=ZERO)
    with pytest.raises(AssertionError, match="did not revert"):
        assert_view_reverts(oracle.isListed, UNKNOWN, oracle.UnknownMarket, market=UNKNOWN)


def test_fails_on_a_string_a_panic_or_a_bare_revert_when_a_custom_error_is_expected(reverter):
    expected = {"market": b"OM", "have": 5, "who": ZERO}
    with pytest.raises(AssertionError, match=r'reverted with Error\(message=\'plain string\'\), expected Boom'):
        assert_view_reverts(reverter.text, (), reverter.Boom, **expected)
    with pytest.raises(AssertionError, match=r"reverted with Panic\(code=18\), expected Boom"):
        assert_view_reverts(reverter.divide, 0, reverter.Boom, **expected)
    with pytest.raises(AssertionError, match="reverted with no revert data"):
        assert_view_reverts(reverter.bare, (), reverter.Boom, **expected)
    with pytest.raises(AssertionError, match=r"message is 'plain string', expected 'other string'"):
        assert_view_reverts(reverter.text, (), "Error", message="other string")


def test_refuses_to_be_used_loosely(reverter):
    """Every argument of the error must be given (no partial checks), by its ABI name; only views are accepted."""
    with pytest.raises(TypeError, match=r"missing \['who'\]"):
        assert_view_reverts(reverter.boom, 5, reverter.Boom, market=b"OM", have=5)
    with pytest.raises(TypeError, match=r"unknown \['amount'\]"):
        assert_view_reverts(reverter.boom, 5, reverter.Boom, market=b"OM", have=5, who=ZERO, amount=1)
    with pytest.raises(TypeError, match="has no error 'Nope'"):
        assert_view_reverts(reverter.boom, 5, "Nope")
    with pytest.raises(TypeError, match="not a view"):
        assert_view_reverts(reverter.poke, (), reverter.NoArgs)
    with pytest.raises(TypeError, match="do not encode"):
        assert_view_reverts(reverter.boom, 5, reverter.Boom, market=b"OM", have=-1, who=ZERO)


def test_decode_revert_reads_selector_and_arguments():
    data = error_selector(PANIC) + (0x11).to_bytes(32, "big")
    assert error_selector(PANIC).hex() == "4e487b71"
    got = decode_revert(data, [PANIC])
    assert (got.name, got.inputs) == ("Panic", {"code": 0x11})
    assert decode_revert(data[:3], [PANIC]) is None  # too short for a selector
    assert decode_revert(b"\x12\x34\x56\x78", [PANIC]) is None  # unknown selector
    assert decode_revert(error_selector(PANIC), [PANIC]) is None  # its argument is missing
    assert decode_revert(data + b"\0" * 32, [PANIC]) is None  # more data than its argument


def test_checks_an_error_bubbled_up_from_another_contract(reverter, oracle):
    """An error declared by the called contract's callee: expected as that contract's class, and named (from the
    project's ABIs) when it is not the one expected."""
    call = (oracle.address, oracle.price.encode_input(UNKNOWN))
    assert_view_reverts(reverter.relay, call, oracle.UnknownMarket, market=UNKNOWN)
    with pytest.raises(AssertionError, match=r'reverted with UnknownMarket\(market="NOPE-USD"\), expected Boom'):
        assert_view_reverts(reverter.relay, call, reverter.Boom, market=b"OM", have=5, who=ZERO)
    with pytest.raises(AssertionError, match='market is "NOPE-USD", expected "OM-USD"'):
        assert_view_reverts(reverter.relay, call, oracle.UnknownMarket, market=OM)
