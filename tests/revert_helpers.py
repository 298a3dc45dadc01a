"""Checking the custom error a *view* reverts with.

Ape 0.8 does not decode custom errors from an eth_call: a reverting view raises a plain ContractLogicError, and
`ape.reverts(contract.SomeError, arg=...)` accepts any ContractLogicError without looking at its name or
arguments. So `with ape.reverts(...)` around a view passes for any revert at all (transactions are decoded and
checked; keep `ape.reverts` for those).

`assert_view_reverts` makes the eth_call itself, takes the raw revert data from the node's answer, decodes it
against the error ABIs (selector = the first 4 bytes of keccak256 of the error's signature; arguments decoded
with eth_abi) and asserts the exact error and every one of its arguments:

    assert_view_reverts(oracle.price, OM, oracle.NotEnoughSources, market=OM, usable=0, required=1)
    assert_view_reverts(fund.snapshotAt, (OM, h + 2), fund.SnapshotOutsideWindow, hour=h + 2)
    assert_view_reverts(feed.decimals, (), "Error", message="...")   # a plain require/revert string
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from ethpm_types.abi import ABIType, ErrorABI
from hexbytes import HexBytes

# The two errors Solidity raises without declaring them.
ERROR_STRING = ErrorABI(type="error", name="Error", inputs=[ABIType(name="message", type="string")])
PANIC = ErrorABI(type="error", name="Panic", inputs=[ABIType(name="code", type="uint256")])
BUILTIN_ERRORS = (ERROR_STRING, PANIC)


@dataclass(frozen=True)
class DecodedRevert:
    """A revert decoded against an error ABI: its name, its arguments by name, and the raw data."""

    name: str
    inputs: dict[str, Any]
    data: bytes

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={_show(v)}' for k, v in self.inputs.items())})"


def error_selector(abi: ErrorABI) -> bytes:
    """The 4-byte selector of a custom error: keccak256("Name(type1,type2)")[:4]."""
    return keccak(text=abi.selector)[:4]


def assert_view_reverts(view, args, error, /, **expected_inputs) -> DecodedRevert:
    """Call the view `view` (a bound method such as `oracle.price`) with `args` (a tuple of its arguments; anything
    else is taken as its one argument) by eth_call, and assert it reverts with exactly `error` and exactly
    `expected_inputs` (by argument name; every argument of the error must be given).

    `error` is an Ape error class (`contract.SomeError`), an ethpm ErrorABI, or an error's name (looked up in the
    view's contract ABI; "Error" for a plain revert string, with `message=`, and "Panic" with `code=`).

    Raises AssertionError, naming what happened, when the view returns, reverts with another error (a plain string,
    a panic, an empty revert or an error of another name), or with other arguments. Returns the decoded revert.
    """
    contract = _check_view(view)
    args = args if isinstance(args, tuple) else (args,)
    expected_abi = _expected_abi(error, contract)
    expected_values = _expected_values(expected_abi, expected_inputs)
    where = f"{contract.contract_type.name}.{view.abis[0].name}({', '.join(_show(a) for a in args)})"
    expected_text = f"{expected_abi.name}({', '.join(f'{k}={_show(v)}' for k, v in zip(_names(expected_abi), expected_values))})"

    reverted, data = eth_call(view, args)
    if not reverted:
        raise AssertionError(f"{where} did not revert (it returned {HexBytes(data).to_0x_hex()}); expected {expected_text}")

    known = [expected_abi, *BUILTIN_ERRORS, *contract.contract_type.errors, *_project_errors()]
    actual = decode_revert(data, known)
    if actual is None:
        raise AssertionError(f"{where} reverted with {_describe_undecodable(data, known)}; expected {expected_text}")
    if data[:4] != error_selector(expected_abi):
        same_name = " (an error of the same name but another signature)" if actual.name == expected_abi.name else ""
        raise AssertionError(f"{where} reverted with {actual}{same_name}, expected {expected_text}")
    actual_values = list(actual.inputs.values())
    wrong = [
        f"{name} is {_show(got)}, expected {_show(want)}"
        for name, got, want in zip(_names(expected_abi), actual_values, expected_values)
        if got != want
    ]
    if wrong:
        raise AssertionError(f"{where} reverted with {actual}, expected {expected_text}: {'; '.join(wrong)}")
    return actual


def eth_call(view, args: tuple) -> tuple[bool, bytes]:
    """eth_call `view(*args)` on the current provider as Ape calls a view (to the contract, at "latest", no sender).
    Returns (True, revert data) when it reverts, (False, return data) when it returns."""
    from ape import chain  # noqa: PLC0415 - after Ape's pytest plugin connected the provider

    calldata = HexBytes(view.encode_input(*args))
    request = {"to": str(view.contract.address), "data": calldata.to_0x_hex()}
    # The raw web3 provider answers the JSON-RPC response as it is, error data included; Ape's own make_request and
    # web3.eth.call turn an error into an exception and keep (at most) the node's message.
    response = chain.provider.web3.provider.make_request("eth_call", [request, "latest"])
    if "error" not in response:
        return False, bytes(HexBytes(response["result"]))
    err = response["error"]
    data = err.get("data") if isinstance(err, dict) else None
    if isinstance(data, dict):  # some nodes nest it: {"message": ..., "data": "0x..."}
        data = data.get("data")
    if not isinstance(data, str):
        raise AssertionError(f"eth_call failed without revert data (not a revert?): {err!r}")
    return True, bytes(HexBytes(data))


def decode_revert(data: bytes, errors: Iterable[ErrorABI]) -> DecodedRevert | None:
    """Decode revert `data` against the first of `errors` whose selector it starts with; None if none matches or
    its arguments are not exactly their ABI encoding (eth_abi alone would read missing bytes as zeros)."""
    if len(data) < 4:
        return None
    for abi in errors:
        if data[:4] != error_selector(abi):
            continue
        try:
            values = abi_decode(_types(abi), data[4:])
        except Exception:  # noqa: BLE001 - eth_abi raises several kinds of decoding error
            return None
        if abi_encode(_types(abi), values) != bytes(data[4:]):
            return None
        return DecodedRevert(abi.name, dict(zip(_names(abi), (_normalise(t, v) for t, v in zip(_types(abi), values)))), bytes(data))
    return None


# ---------------------------------------------------------------- internals


def _check_view(view):
    abis = getattr(view, "abis", None)
    contract = getattr(view, "contract", None)
    if not abis or contract is None:
        raise TypeError(f"{view!r} is not a contract method (pass it uncalled, e.g. oracle.price, not oracle.price(OM))")
    if any(a.stateMutability not in ("view", "pure") for a in abis):
        raise TypeError(f"{view!r} is not a view: use ape.reverts, which decodes the errors of transactions")
    return contract


def _expected_abi(error, contract) -> ErrorABI:
    if isinstance(error, ErrorABI):
        return error
    abi = getattr(error, "abi", None)
    if isinstance(error, type) and isinstance(abi, ErrorABI):
        return abi  # an Ape error class: contract.SomeError
    if isinstance(error, str):
        found = [e for e in (*BUILTIN_ERRORS, *contract.contract_type.errors) if e.name == error]
        if not found:
            raise TypeError(f"{contract.contract_type.name} has no error {error!r}")
        if len(found) > 1:
            raise TypeError(f"{contract.contract_type.name} has several errors named {error!r}: pass contract.{error} or its ErrorABI")
        return found[0]
    raise TypeError(f"expected an Ape error class (contract.SomeError), an ErrorABI or an error name, not {error!r}")


def _names(abi: ErrorABI) -> list[str]:
    return [i.name or f"arg{n}" for n, i in enumerate(abi.inputs)]


def _types(abi: ErrorABI) -> list[str]:
    return [i.canonical_type for i in abi.inputs]


def _expected_values(abi: ErrorABI, given: dict[str, Any]) -> list[Any]:
    """The expected arguments in the error's order, passed through the same encoding as the revert data (accounts
    and contracts become addresses, short bytes are padded as the EVM pads them)."""
    from ape import convert  # noqa: PLC0415
    from ape.types import AddressType  # noqa: PLC0415

    names = _names(abi)
    missing = [n for n in names if n not in given]
    unknown = [n for n in given if n not in names]
    if missing or unknown:
        raise TypeError(
            f"{abi.selector} has arguments {names}: give each of them"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    types = _types(abi)
    values = [convert(given[n], AddressType) if t == "address" else given[n] for n, t in zip(names, types)]
    try:
        round_trip = abi_decode(types, abi_encode(types, values))
    except Exception as exc:  # noqa: BLE001
        raise TypeError(f"the expected arguments {dict(zip(names, values))} do not encode as {abi.selector}: {exc}") from exc
    return [_normalise(t, v) for t, v in zip(types, round_trip)]


def _normalise(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "address[]":
        return tuple(to_checksum_address(v) for v in value)
    return value


def _project_errors() -> list[ErrorABI]:
    """Every error of the project's contracts: only to name an error that came from another contract."""
    try:
        from ape import project  # noqa: PLC0415

        return [e for ct in project.contracts.values() for e in getattr(ct, "errors", ())]
    except Exception:  # noqa: BLE001 - naming is a nicety; the check itself does not need it
        return []


def _describe_undecodable(data: bytes, known: list[ErrorABI]) -> str:
    if not data:
        return "no revert data (a bare revert(), or a failed require without a message)"
    named = [abi.selector for abi in known if len(data) >= 4 and data[:4] == error_selector(abi)]
    if named:
        return f"{named[0]}'s selector but arguments that are not its ABI encoding (data {HexBytes(data).to_0x_hex()})"
    return f"an unknown error, selector 0x{data[:4].hex()} (data {HexBytes(data).to_0x_hex()})"


def _show(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).rstrip(b"\0")
        if text and all(32 <= c < 127 for c in text):
            return f'"{text.decode()}"'
        return HexBytes(value).to_0x_hex()
    if hasattr(value, "address"):
        return str(value.address)
    return repr(value)
