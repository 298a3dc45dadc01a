"""The ABI side of backstop.chain.fastchain: calldata, views and events encoded and decoded as web3.py does,
at a fraction of its cost (each function's and event's types parsed once; static words decoded by slicing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from backstop.chain.reverts import abi_selector, abi_type

__all__ = ["AbiCodec", "AbiEvent", "AbiFunction", "checksum", "static_decoder", "static_encoder", "word_decoder", "word_encoder"]


class AbiCodec:
    """Encoding and decoding for FastChain (a mixin: it needs `w3`, `_fns`, `_decoders` and `_errors`)."""

    w3: Web3
    _fns: dict[tuple[str, str], "AbiFunction | None"]
    _decoders: dict[bytes, tuple[str, Any, "AbiEvent | None"]]
    _errors: dict[bytes, dict[str, Any]]

    def _decode_views(self, requests: list[tuple[Contract, str, list]], answers: list[Any]) -> list[Any]:
        out: list[Any] = []
        for (c, fn, _args), raw in zip(requests, answers):
            if not isinstance(raw, str):
                out.append(None)
                continue
            f = self._function(c, fn)
            if f is not None and f.fast is not None:
                values = f.fast(bytes.fromhex(raw[2:]))
            else:
                types = f.outputs if f else [abi_type(o) for o in c.get_function_by_name(fn).abi["outputs"]]
                values = self.w3.codec.decode(types, bytes.fromhex(raw[2:]))
            out.append(values[0] if len(values) == 1 else values)
        return out

    def encode(self, contract: Contract, fn: str, args: list | tuple) -> str:
        """Calldata of `contract.fn(*args)`, the same bytes as web3's `encode_abi` (which re-validates the whole
        ABI, a few ms a call): the function's selector and types are parsed once per contract. An overloaded
        name goes through web3."""
        f = self._function(contract, fn)
        if f is None:
            return contract.encode_abi(fn, list(args))
        if f.fast_in is not None:
            try:
                return "0x" + f.selector.hex() + f.fast_in(args).hex()
            except (TypeError, ValueError, OverflowError):
                pass  # eth_abi below names what is wrong with the arguments
        return "0x" + f.selector.hex() + self.w3.codec.encode(f.inputs, list(args)).hex()

    def _function(self, contract: Contract, fn: str) -> "AbiFunction | None":
        key = (contract.address, fn)
        if key not in self._fns:
            found = [i for i in contract.abi if i.get("type") == "function" and i.get("name") == fn]
            self._fns[key] = AbiFunction.of(found[0]) if len(found) == 1 else None
        return self._fns[key]

    def register(self, name: str, contract: Contract) -> None:
        """Makes `decode` understand the events of `contract` (by topic, emitted at any address), and
        `revert_reason` its errors."""
        for item in contract.abi:
            if item.get("type") == "error":
                self._errors[abi_selector(item)[:4]] = item
            if item.get("type") != "event":
                continue
            self._decoders[abi_selector(item)] = (name, getattr(contract.events, item["name"])(), AbiEvent.of(item))

    def decode(self, receipt: TxReceipt) -> list[tuple[str, str, dict[str, Any], Any]]:
        """(contract name, event name, args, log) for every log of `receipt` that a registered ABI knows."""
        out = []
        for log in receipt["logs"]:
            if not log["topics"]:
                continue
            found = self._decoders.get(bytes(log["topics"][0]))
            if not found:
                continue
            name, event, fast = found
            if fast is not None:
                out.append((name, fast.name, fast.decode(self.w3.codec, log), log))
                continue
            decoded = event.process_log(log)
            out.append((name, decoded["event"], dict(decoded["args"]), log))
        return out


@dataclass(frozen=True)
class AbiFunction:
    selector: bytes
    inputs: list[str]
    outputs: list[str]
    fast: Any = None  # a decoder of its outputs when every one is a static word (see static_decoder)
    fast_in: Any = None  # an encoder of its inputs, likewise (see static_encoder)

    @classmethod
    def of(cls, item: dict[str, Any]) -> "AbiFunction":
        outputs = [abi_type(o) for o in item.get("outputs", [])]
        inputs = [abi_type(i) for i in item["inputs"]]
        return cls(abi_selector(item)[:4], inputs, outputs, static_decoder(outputs), static_encoder(inputs))


def word_decoder(kind: str) -> Any:
    """A decoder of one 32-byte ABI word of elementary static type `kind`, giving what eth_abi gives (None: not one)."""
    if kind.startswith("uint") and kind[4:].isdigit():
        return lambda w: int.from_bytes(w, "big")
    if kind.startswith("int") and kind[3:].isdigit():
        return lambda w: int.from_bytes(w, "big", signed=True)
    if kind == "bool":
        return lambda w: w[31] == 1
    if kind == "address":
        return lambda w: "0x" + w[12:].hex()  # lower case, as eth_abi (events checksum it after)
    if kind.startswith("bytes") and kind[5:].isdigit():
        size = int(kind[5:])
        return lambda w: bytes(w[:size])
    return None


def _flat(kind: str) -> list[str] | None:
    """The components of a tuple of elementary words, "(int256,uint256)" -> ["int256", "uint256"] (else None)."""
    if not (kind.startswith("(") and kind.endswith(")")) or "(" in kind[1:] or "[" in kind:
        return None
    return kind[1:-1].split(",")


def static_decoder(types: list[str]) -> Any:
    """A decoder of `types` from ABI data when each is one static word (uint/int/bool/address/bytesN) or a tuple
    of them (a static struct: its words inline): 30x faster than eth_abi's, and strict as it is (the data must
    hold every word, a bool word must be 0 or 1). None when any type is another kind (arrays, strings, nested
    tuples go through eth_abi)."""
    shape: list[int | None] = []  # per type: None for a word, n for a tuple of n words
    words: list[Any] = []
    kinds: list[str] = []
    for t in types:
        parts = _flat(t)
        shape.append(None if parts is None else len(parts))
        kinds += parts or [t]
    words = [word_decoder(k) for k in kinds]
    if not words or any(w is None for w in words):
        return None
    bools = [i for i, k in enumerate(kinds) if k == "bool"]
    size = 32 * len(words)

    def decode(data: bytes) -> tuple[Any, ...]:
        if len(data) < size:
            raise ValueError(f"ABI data of {len(data)} bytes, {size} expected")
        for i in bools:
            if data[32 * i : 32 * i + 31].strip(b"\0") or data[32 * i + 31] > 1:
                raise ValueError("a bool word that is not 0 or 1")
        flat = [w(data[32 * i : 32 * i + 32]) for i, w in enumerate(words)]
        out: list[Any] = []
        at = 0
        for n in shape:
            out.append(flat[at] if n is None else tuple(flat[at : at + n]))
            at += 1 if n is None else n
        return tuple(out)

    return decode


def word_encoder(kind: str) -> Any:
    """An encoder of one value of elementary static type `kind` into its 32-byte word, or None (not one). It
    raises (TypeError, ValueError, OverflowError) on a value eth_abi would refuse: the caller then asks eth_abi,
    which names what is wrong."""
    if kind.startswith("uint") and kind[4:].isdigit():
        bits = int(kind[4:])

        def uint(v: Any) -> bytes:
            if type(v) is not int or v < 0 or v >> bits:
                raise ValueError(kind)
            return v.to_bytes(32, "big")

        return uint
    if kind.startswith("int") and kind[3:].isdigit():
        bits = int(kind[3:])

        def sint(v: Any) -> bytes:
            if type(v) is not int or not -(1 << (bits - 1)) <= v < 1 << (bits - 1):
                raise ValueError(kind)
            return v.to_bytes(32, "big", signed=True)

        return sint
    if kind == "bool":

        def boolean(v: Any) -> bytes:
            if type(v) is not bool:
                raise ValueError(kind)
            return bytes(31) + bytes([v])

        return boolean
    if kind == "address":

        def address(v: Any) -> bytes:
            if not isinstance(v, str) or len(v) != 42 or (v[2:] != v[2:].lower() and checksum(v) != v):
                raise ValueError(kind)
            return bytes(12) + bytes.fromhex(v[2:])

        return address
    if kind.startswith("bytes") and kind[5:].isdigit():
        size = int(kind[5:])

        def fixed(v: Any) -> bytes:
            if not isinstance(v, (bytes, bytearray)) or len(v) != size:  # eth_abi (strict) wants the exact length
                raise ValueError(kind)
            return bytes(v).ljust(32, b"\0")

        return fixed
    return None


def static_encoder(types: list[str]) -> Any:
    """An encoder of arguments of `types` when each is one static word (see word_encoder), else None."""
    words = [word_encoder(t) for t in types]
    if any(w is None for w in words):
        return None

    def encode(args: list[Any]) -> bytes:
        if len(args) != len(words):
            raise ValueError("argument count")
        return b"".join(w(a) for w, a in zip(words, args))

    return encode


@dataclass(frozen=True)
class AbiEvent:
    """An event of plain arguments (no tuples, no arrays), decoded as web3's `process_log` decodes it (addresses
    checksummed; an indexed dynamic value is its topic) at a fraction of its cost."""

    name: str
    fields: list[tuple[str, str, bool]]  # (name, type, indexed)
    data_types: list[str]
    fast_data: Any = None  # static_decoder of data_types, when they are all static words
    fast_topics: dict[str, Any] = field(default_factory=dict)  # indexed type -> its word decoder

    @classmethod
    def of(cls, item: dict[str, Any]) -> "AbiEvent | None":
        fields = [(i["name"], abi_type(i), bool(i.get("indexed"))) for i in item["inputs"]]
        if item.get("anonymous") or any("(" in t or "[" in t for _, t, _ in fields):
            return None
        data_types = [t for _, t, indexed in fields if not indexed]
        topics = {t: word_decoder(t) for _, t, indexed in fields if indexed and t not in ("bytes", "string", "bool")}
        return cls(item["name"], fields, data_types, static_decoder(data_types) if data_types else None, {t: d for t, d in topics.items() if d})

    def decode(self, codec: Any, log: Any) -> dict[str, Any]:
        topics = iter(log["topics"][1:])
        raw = bytes(log["data"])
        data = iter(self.fast_data(raw) if self.fast_data is not None else codec.decode(self.data_types, raw))
        args: dict[str, Any] = {}
        for name, t, indexed in self.fields:
            if indexed:
                topic = bytes(next(topics))
                fast = self.fast_topics.get(t)
                value = topic if t in ("bytes", "string") else fast(topic) if fast else codec.decode([t], topic)[0]
            else:
                value = next(data)
            args[name] = checksum(value) if t == "address" else value
        return args


@cache
def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)
