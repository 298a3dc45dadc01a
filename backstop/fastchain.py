"""The replay engine's hot path: web3.py straight to the node, pre-signed transactions, batched into blocks.

Ape's `contract.method(sender=...)` costs ~20 ms a call and web3's receipt polling caps a send-and-wait loop
at ~10 tx/s; here every transaction of a step is signed locally, sent without waiting, and mined in one
block with `evm_mine` (automine off), so the node sees hundreds of transactions per second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3._utils.method_formatters import receipt_formatter
from web3.types import TxReceipt

BATCH_MAX = 1_000  # JSON-RPC calls per HTTP request
TX_GAS = 3_000_000  # per transaction; gas is free on a local node (base fee and gas price 0)


class ChainDied(RuntimeError):
    """The node stopped answering (killed, crashed, or too slow)."""


def derive_account(seed: int, label: str, index: int) -> LocalAccount:
    """A deterministic throwaway account: the same seed, label and index give the same key."""
    return Account.from_key(keccak(text=f"backstop:{seed}:{label}:{index}"))


@dataclass
class Wallet:
    account: LocalAccount
    nonce: int = 0

    @property
    def address(self) -> str:
        return self.account.address


@dataclass
class Sent:
    tx_hash: bytes
    label: str
    raw: bytes | None = None  # signed bytes until flushed to the node


@dataclass
class FastChain:
    """Batches signed transactions into blocks on a local node (Anvil or Hardhat)."""

    w3: Web3
    chain_id: int = 0
    sent_total: int = 0
    _pending: list[Sent] = field(default_factory=list)
    _decoders: dict[bytes, tuple[str, Any]] = field(default_factory=dict)
    _errors: dict[bytes, str] = field(default_factory=dict)  # 4-byte selector -> custom error name
    _functions: dict[tuple[str, str], tuple[bytes, list[str], list[str]]] = field(default_factory=dict)
    uri: str = ""
    timeout: float = 60
    last_timestamp: int = 0
    head: int = -1
    block_times: dict[int, int] = field(default_factory=dict)  # [seconds] of the blocks mined here
    _http: Any = None

    def __post_init__(self) -> None:
        self.chain_id = int(self.rpc("eth_chainId"), 16)  # through rpc: a slow or dead node raises ChainDied

    @classmethod
    def connect(cls, uri: str, timeout: float = 60) -> "FastChain":
        """Connects to a node; every request gives up after `timeout` seconds (a slow node never hangs us: web3's
        retries, which would multiply the wait, are off; a failed request raises ChainDied)."""
        w3 = Web3(Web3.HTTPProvider(uri, request_kwargs={"timeout": timeout}, exception_retry_configuration=None))
        return cls(w3, uri=uri, timeout=timeout)

    # -------------------------------------------------------------- node control

    def rpc(self, method: str, params: list | None = None) -> Any:
        try:
            response = self.w3.provider.make_request(method, params or [])
        except Exception as exc:  # noqa: BLE001 - requests/aiohttp errors differ by transport
            raise ChainDied(f"the node stopped answering ({method}){_timed_out(exc, self.timeout)}: {exc}") from exc
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response.get("result")

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        """Several JSON-RPC calls in one HTTP round trip (Anvil and Hardhat accept batches); results in order.
        A call that fails yields its error dict instead of a result. Large batches go in chunks of BATCH_MAX:
        Anvil answers a batch of many thousands with an error instead of a list."""
        if not calls:
            return []
        if len(calls) > BATCH_MAX:
            return [r for i in range(0, len(calls), BATCH_MAX) for r in self.batch(calls[i : i + BATCH_MAX])]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        try:
            response = self._session().post(self.uri, json=payload, timeout=self.timeout)
            response.raise_for_status()
            answers = response.json()
        except Exception as exc:  # noqa: BLE001 - any transport failure means the node is gone
            raise ChainDied(f"the node stopped answering (batch of {len(calls)}){_timed_out(exc, self.timeout)}: {exc}") from exc
        by_id = {a["id"]: a for a in answers}
        return [by_id[i]["result"] if "result" in by_id[i] else by_id[i].get("error") for i in range(len(calls))]

    def view(self, requests: list[tuple[Contract, str, list]]) -> list[Any]:
        """Batched eth_calls at the latest block: [(contract, function, args)] -> decoded results (None for a
        call that reverted)."""
        return self._decode_calls(requests, self.batch(self._calls(requests)))

    def view_with_block(self, requests: list[tuple[Contract, str, list]]) -> tuple[list[Any], dict[str, Any]]:
        """`view`, and the latest block (its JSON-RPC header: hex fields) in the same round trip."""
        raw = self.batch([*self._calls(requests), ("eth_getBlockByNumber", ["latest", False])])
        return self._decode_calls(requests, raw[:-1]), raw[-1]

    def _calls(self, requests: list[tuple[Contract, str, list]]) -> list[tuple[str, list]]:
        return [("eth_call", [{"to": c.address, "data": self.encode(c, fn, args)}, "latest"]) for c, fn, args in requests]

    def encode(self, contract: Contract, fn: str, args: list | tuple) -> str:
        """Calldata of `contract.fn(*args)`, hex. The same bytes as web3's `contract.encode_abi`, without its
        per-call validation of the whole ABI (which hashes every signature in it: milliseconds a call)."""
        selector, inputs, _ = self._function(contract, fn)
        return "0x" + (selector + self.w3.codec.encode(inputs, list(args))).hex()

    def _function(self, contract: Contract, fn: str) -> tuple[bytes, list[str], list[str]]:
        """(selector, input types, output types) of `fn`, which must not be overloaded; cached per contract."""
        key = (contract.address, fn)
        found = self._functions.get(key)
        if found is None:
            items = [i for i in contract.abi if i.get("type") == "function" and i["name"] == fn]
            if len(items) != 1:
                raise ValueError(f"{len(items)} functions named {fn} in the ABI of {contract.address}")
            item = items[0]
            found = (abi_selector(item)[:4], [_abi_type(i) for i in item["inputs"]], [_abi_type(o) for o in item["outputs"]])
            self._functions[key] = found
        return found

    def _decode_calls(self, requests: list[tuple[Contract, str, list]], answers: list[Any]) -> list[Any]:
        out: list[Any] = []
        for (c, fn, args), raw in zip(requests, answers):
            if not isinstance(raw, str):
                out.append(None)
                continue
            values = self.w3.codec.decode(self._function(c, fn)[2], bytes.fromhex(raw[2:]))
            out.append(values[0] if len(values) == 1 else values)
        return out

    def _session(self):
        if self._http is None:
            import requests  # noqa: PLC0415

            self._http = requests.Session()
        return self._http

    def set_automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", [on])

    def now(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def wallet(self, account: LocalAccount) -> Wallet:
        return Wallet(account, int(self.rpc("eth_getTransactionCount", [account.address, "pending"]), 16))

    # -------------------------------------------------------------- transactions

    def send(self, wallet: Wallet, to: str, data: str | bytes, label: str = "", gas: int = TX_GAS) -> bytes:
        """Signs one transaction; it goes to the node with the next `flush()` or `mine()`."""
        tx = {
            "to": to,
            "data": data if isinstance(data, str) else "0x" + bytes(data).hex(),
            "gas": gas,
            "gasPrice": 0,
            "nonce": wallet.nonce,
            "chainId": self.chain_id,
            "value": 0,
        }
        raw = bytes(wallet.account.sign_transaction(tx).raw_transaction)
        tx_hash = keccak(raw)
        wallet.nonce += 1
        self.sent_total += 1
        self._pending.append(Sent(tx_hash, label, raw))
        return tx_hash

    def flush(self) -> None:
        """Sends every signed, unsent transaction to the node in one batch (they wait in its pool)."""
        unsent = [s for s in self._pending if s.raw is not None]
        answers = self.batch([("eth_sendRawTransaction", ["0x" + s.raw.hex()]) for s in unsent])
        for sent, answer in zip(unsent, answers):
            if not isinstance(answer, str):
                raise RuntimeError(f"the node refused transaction {sent.label}: {answer}")
            sent.raw = None

    def call_fn(self, wallet: Wallet, contract: Contract, fn: str, *args: Any, label: str = "") -> bytes:
        return self.send(wallet, contract.address, self.encode(contract, fn, args), label or fn)

    def mine(self, timestamp: int | None = None) -> list[tuple[Sent, TxReceipt]]:
        """Mines every pending transaction (in as many blocks as the gas limit needs; the first at
        `timestamp`) and returns (sent, receipt) pairs in sending order."""
        self.flush()
        pending, self._pending = self._pending, []
        self._mine_block(timestamp)
        receipts: list[Any] = [None] * len(pending)
        for _ in range(200):
            missing = [i for i, r in enumerate(receipts) if r is None]
            if not missing:
                break
            answers = self.batch([("eth_getTransactionReceipt", ["0x" + pending[i].tx_hash.hex()]) for i in missing])
            for i, raw in zip(missing, answers):
                if isinstance(raw, dict) and "blockNumber" in raw:
                    receipts[i] = receipt_formatter(raw)
            if any(r is None for r in receipts):
                self._mine_block(None)  # what did not fit in the block's gas limit
        else:
            raise ChainDied("transactions were never mined")
        return list(zip(pending, receipts))

    def wait(self, timeout: float = 120) -> list[tuple[Sent, TxReceipt]]:
        """On a node that mines by itself (automine, or a real chain): sends what is queued and waits for the
        receipts, polling every 50 ms."""
        self.flush()
        pending, self._pending = self._pending, []
        receipts: list[Any] = [None] * len(pending)
        deadline = time.monotonic() + timeout
        while any(r is None for r in receipts):
            if time.monotonic() > deadline:
                raise ChainDied(f"{sum(r is None for r in receipts)} transactions not mined within {timeout:.0f}s")
            missing = [i for i, r in enumerate(receipts) if r is None]
            for i, raw in zip(missing, self.batch([("eth_getTransactionReceipt", ["0x" + pending[i].tx_hash.hex()]) for i in missing])):
                if isinstance(raw, dict) and "blockNumber" in raw:
                    receipts[i] = receipt_formatter(raw)
            if any(r is None for r in receipts):
                time.sleep(0.05)
        return list(zip(pending, receipts))

    def _mine_block(self, timestamp: int | None) -> None:
        """One block at `timestamp`, or one second after the last block when that is later or not given."""
        if self.head < 0:
            self.last_timestamp = self.now()
            self.head = int(self.rpc("eth_blockNumber"), 16)
        ts = max(timestamp or 0, self.last_timestamp + 1)
        self.rpc("evm_mine", [ts])
        self.last_timestamp = ts
        self.head += 1
        self.block_times[self.head] = ts

    # -------------------------------------------------------------- events

    def register(self, name: str, contract: Contract) -> None:
        """Makes `decode` understand the events of `contract` (by topic, emitted at any address)."""
        for item in contract.abi:
            if item.get("type") == "error":
                self._errors[abi_selector(item)[:4]] = item["name"]
            if item.get("type") != "event":
                continue
            self._decoders[abi_selector(item)] = (name, getattr(contract.events, item["name"])())

    def revert_reason(self, tx_hash: bytes) -> str:
        """The custom error (or revert string) a mined, failed transaction ended with, from the node's trace."""
        try:
            trace = self.rpc("debug_traceTransaction", ["0x" + tx_hash.hex(), {"tracer": "callTracer"}])
        except RuntimeError:
            return "unknown"
        data = bytes.fromhex((trace.get("output") or "0x")[2:])
        if len(data) < 4:
            return trace.get("error") or "unknown"
        if data[:4] == bytes.fromhex("08c379a0"):  # Error(string)
            return self.w3.codec.decode(["string"], data[4:])[0]
        return self._errors.get(data[:4], "0x" + data[:4].hex())

    def decode(self, receipt: TxReceipt) -> list[tuple[str, str, dict[str, Any], Any]]:
        """(contract name, event name, args, log) for every log of `receipt` that a registered ABI knows."""
        out = []
        for log in receipt["logs"]:
            if not log["topics"]:
                continue
            found = self._decoders.get(bytes(log["topics"][0]))
            if not found:
                continue
            name, event = found
            decoded = event.process_log(log)
            out.append((name, decoded["event"], dict(decoded["args"]), log))
        return out


def _timed_out(exc: Exception, timeout: float) -> str:
    """' within N s' when `exc` is a timeout, so the message says the node was too slow rather than gone."""
    import requests  # noqa: PLC0415

    return f": no answer within {timeout:g} s" if isinstance(exc, (requests.Timeout, TimeoutError)) else ""


def abi_selector(item: dict[str, Any]) -> bytes:
    """keccak256 of an ABI event's or error's signature: an event's topic 0, an error's selector (first 4 bytes)."""
    return keccak(text=f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})")


def _abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]


def raw_throughput(chain: FastChain, wallet: Wallet, token: Contract, n: int = 2_000, batch: int = 500) -> float:
    """Transactions per second the node accepts for pre-signed ERC-20 transfers sent straight to it, batched
    into blocks: the ceiling against which the replay's own throughput is reported."""
    data = token.encode_abi("transfer", [wallet.address, 0])
    signed: list[bytes] = []
    for i in range(n):
        tx = {"to": token.address, "data": data, "gas": 100_000, "gasPrice": 0, "nonce": wallet.nonce + i, "chainId": chain.chain_id, "value": 0}
        signed.append(wallet.account.sign_transaction(tx).raw_transaction)
    start = time.perf_counter()
    for chunk_start in range(0, n, batch):
        for raw in signed[chunk_start : chunk_start + batch]:
            chain.rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
        chain.rpc("evm_mine", [])
    elapsed = time.perf_counter() - start
    wallet.nonce += n
    return n / elapsed


def web3_contract(w3: Web3, address: str, abi: Iterable[dict[str, Any]]) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=list(abi))
