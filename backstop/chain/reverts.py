"""Revert data in a reader's words: custom errors by name with their arguments, decoded against the errors of
every contract `ape compile` wrote to .build/ (and any ABI the caller registered), revert strings and panics.

Pure Python over JSON ABIs (no Ape), for backstop.chain.fastchain's `revert_reason` and anyone holding revert
data (an eth_call's error, a trace's output).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import Web3

__all__ = ["BUILD_FILES", "abi_selector", "abi_type", "compiled_errors", "decode_revert"]

BUILD_FILES = (Path(__file__).resolve().parents[2] / ".build" / "__local__.json", Path(".build") / "__local__.json")
PANICS = {0x01: "assert failed", 0x11: "arithmetic overflow", 0x12: "division by zero", 0x21: "bad enum value",
          0x22: "bad storage bytes", 0x31: "pop of an empty array", 0x32: "index out of bounds", 0x41: "out of memory",
          0x51: "call to a zero function"}


@cache
def compiled_errors() -> dict[bytes, dict[str, Any]]:
    """4-byte selector -> ABI error item, of every contract `ape compile` wrote to .build/ (the project's and
    then the working folder's; {} when neither exists)."""
    out: dict[bytes, dict[str, Any]] = {}
    for path in BUILD_FILES:
        try:
            types = json.loads(path.read_text()).get("contractTypes", {})
        except (OSError, ValueError):
            continue
        for contract in types.values():
            for item in contract.get("abi", []) if isinstance(contract, dict) else []:
                if item.get("type") == "error":
                    out.setdefault(abi_selector(item)[:4], item)
    return out


def decode_revert(data: bytes, known: dict[bytes, dict[str, Any]], codec: Any, args: bool = True) -> str:
    """Revert data as a reader wants it: ``Name(arg, ...)`` for a custom error of `known` or of any compiled
    contract (addresses checksummed, bytes32 in hex, and as text too when it is one, such as a market id), the
    message of Error(string), ``Panic(0x11: arithmetic overflow)``; else ``error 0x<selector>`` and its
    length."""
    selector, body = bytes(data[:4]), bytes(data[4:])
    if selector == bytes.fromhex("08c379a0"):  # Error(string)
        return codec.decode(["string"], body)[0]
    if selector == bytes.fromhex("4e487b71"):  # Panic(uint256)
        code = codec.decode(["uint256"], body)[0]
        return f"Panic({code:#04x}: {PANICS.get(code, 'unknown panic code')})"
    item = known.get(selector) or compiled_errors().get(selector)
    if item is None:
        return f"error 0x{selector.hex()} (not in any Backstop contract's ABI; {len(data)} bytes of revert data)"
    if not args:
        return item["name"]
    types = [abi_type(i) for i in item["inputs"]]
    try:
        values = codec.decode(types, body)
    except Exception:  # noqa: BLE001 - malformed revert data: the name is still right
        return f"{item['name']}(<{len(body)} undecodable bytes>)"
    return f"{item['name']}({', '.join(_show(t, v) for t, v in zip(types, values))})"


def _show(kind: str, value: Any) -> str:
    if kind == "address":
        return Web3.to_checksum_address(value)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).rstrip(b"\0")
        shown = "0x" + bytes(value).hex()
        if kind == "bytes32" and text and all(32 <= c < 127 for c in text):
            return f'{shown} ("{text.decode()}")'
        return shown
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(kind.split("[")[0], v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def abi_selector(item: dict[str, Any]) -> bytes:
    """keccak256 of an ABI event's or error's signature: an event's topic 0, an error's selector (first 4 bytes)."""
    return keccak(text=f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})")


def abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]
