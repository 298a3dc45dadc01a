"""The replay engine's hot path: web3.py straight to the node, pre-signed transactions, batched into blocks.

Ape's `contract.method(sender=...)` costs ~20 ms a call and web3's receipt polling caps a send-and-wait loop
at ~10 tx/s; here every transaction of a step is signed locally, sent without waiting, and mined in one
block with `evm_mine` (automine off), so the node sees hundreds of transactions per second.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import unquote, urlparse

import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak as keccak256
from eth_keys.datatypes import PrivateKey
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from backstop.chain.blockspace import BlockSpace
from backstop.chain.codec import AbiCodec, AbiEvent, AbiFunction, checksum
from backstop.chain.fees import Fees, rpc_message
from backstop.chain.reverts import decode_revert
from backstop.errors import BackstopError

BATCH_MAX = 1_000  # JSON-RPC calls per HTTP request
TX_GAS = 3_000_000  # per transaction; gas is free on the replay's own Anvil (base fee and gas price 0)


class ChainDied(BackstopError, RuntimeError):
    """The node stopped answering (killed, crashed, or too slow)."""


class TransactionRefused(ChainDied):
    """The node refused a signed transaction (eth_sendRawTransaction answered an error: fee too low, nonce,
    funds, ...). Raised at once, never waited on. It subclasses ChainDied because nothing sent after it can be
    right either: a replay stops as on a dead chain (and writes its partial report)."""


def derive_account(seed: int, label: str, index: int) -> LocalAccount:
    """A deterministic throwaway account: the same seed, label and index give the same key."""
    return Account.from_key(keccak(text=f"backstop:{seed}:{label}:{index}"))


@dataclass
class Wallet:
    account: LocalAccount
    nonce: int = 0
    address: str = field(init=False)  # the account's, read once (a replay asks for it a million times)

    def __post_init__(self) -> None:
        self.address = self.account.address


@dataclass
class Sent:
    tx_hash: bytes
    label: str
    raw: bytes | None = None  # signed bytes until flushed to the node
    unsigned: dict[str, str] | None = None  # on the embedded EVM: the eth_sendTransaction request until flushed
    sender: str = ""
    items: int = 1  # what it does, counted for block space (the liquidations of a liquidateMany)
    offered_at: int | None = None  # [seconds] the first block it was offered to (block space)


def unsigned_hash(sender: str, nonce: int, gas_price: int, gas: int, to: str, data: bytes) -> bytes:
    """The hash of a transaction handed over unsigned (to the embedded EVM): keccak of its sender, nonce, gas
    price, gas limit, recipient and calldata, concatenated at fixed widths (20, 8, 32, 8, 20 bytes, then the
    data; no RLP: a replay hashes every transaction it sends). The node computes the same."""
    to_bytes = bytes.fromhex(to[2:]) if to and to != "0x" else b"\0" * 20
    head = bytes.fromhex(sender[2:]) + nonce.to_bytes(8, "big") + gas_price.to_bytes(32, "big") + gas.to_bytes(8, "big") + to_bytes
    return keccak256(head + data)


@dataclass
class FastChain(AbiCodec):
    """Batches signed transactions into blocks on a local node (Anvil or Hardhat)."""

    w3: Web3
    chain_id: int = 0
    sent_total: int = 0
    _pending: list[Sent] = field(default_factory=list)
    _decoders: dict[bytes, tuple[str, Any, "AbiEvent | None"]] = field(default_factory=dict)
    _errors: dict[bytes, dict[str, Any]] = field(default_factory=dict)  # 4-byte selector -> custom error (ABI item)
    _fns: dict[tuple[str, str], "AbiFunction | None"] = field(default_factory=dict)  # (address, name) -> its ABI, pre-parsed
    uri: str = ""
    timeout: float = 60
    last_timestamp: int = 0
    head: int = -1
    block_times: dict[int, int] = field(default_factory=dict)  # [seconds] of the blocks mined here
    _http: Any = None
    _keys: dict[str, PrivateKey] = field(default_factory=dict)  # address -> signing key, parsed once
    _client: str | None = None  # web3_clientVersion, asked once
    fees: Fees = field(default_factory=Fees)  # the gas price signed with, gas money for a dev node's senders
    unsigned: bool = False  # hand transactions over unsigned (the embedded EVM; see `embedded`)
    space: BlockSpace | None = None  # a block gas limit kept in front of the node (backstop.chain.blockspace)

    def __post_init__(self) -> None:
        self.chain_id = int(self.rpc("eth_chainId"), 16)  # through rpc: a slow or dead node raises ChainDied

    @classmethod
    def connect(cls, uri: str, timeout: float = 60) -> "FastChain":
        """Connects to a node; every request gives up after `timeout` seconds (a slow node never hangs us: web3's
        retries, which would multiply the wait, are off; a failed request raises ChainDied)."""
        w3 = Web3(Web3.HTTPProvider(uri, request_kwargs={"timeout": timeout}, exception_retry_configuration=None))
        chain = cls(w3, uri=uri, timeout=timeout)
        chain.fees.reprice(chain)
        return chain

    @classmethod
    def embedded(cls, node: Any) -> "FastChain":
        """A FastChain on an in-process node (backstop.chain.revm.RevmNode): the same calls, answered by `node.post`
        with no HTTP and no JSON in between. Its web3 has no provider: it only encodes and decodes. Transactions
        go over unsigned (eth_sendTransaction from the sender, as to an account Anvil impersonates): the node is
        in this process and trusts it; the EIP-712 orders inside them are still signed and checked on-chain."""
        chain = cls(Web3(), uri=node.uri, _http=node, unsigned=True)
        chain.fees.reprice(chain)
        return chain

    @property
    def gas_price(self) -> int:
        """[wei] the legacy gas price of the transactions signed now (see backstop.chain.fees; 0 on a gas-free node)."""
        return self.fees.price

    # -------------------------------------------------------------- node control

    def rpc(self, method: str, params: list | None = None) -> Any:
        """One JSON-RPC call, on the same kept-alive connection as `batch` (web3's provider adds ~1 ms a call)."""
        try:
            answer = self._connection().post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
        except Exception as exc:  # noqa: BLE001 - any transport failure means the node is gone
            raise ChainDied(f"the node stopped answering ({method}){_timed_out(exc, self.timeout)}: {exc}") from exc
        if "error" in answer:
            raise RuntimeError(f"{method} failed: {answer['error']}")
        return answer.get("result")

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
            answers = self._connection().post(payload)
        except Exception as exc:  # noqa: BLE001 - any transport failure means the node is gone
            raise ChainDied(f"the node stopped answering (batch of {len(calls)}){_timed_out(exc, self.timeout)}: {exc}") from exc
        by_id = {a["id"]: a for a in answers}
        return [by_id[i]["result"] if "result" in by_id[i] else by_id[i].get("error") for i in range(len(calls))]

    def view(self, requests: list[tuple[Contract, str, list]]) -> list[Any]:
        """Batched eth_calls at the latest block: [(contract, function, args)] -> decoded results (None for a
        call that reverted)."""
        return self._decode_views(requests, self.batch(self._view_calls(requests)))

    def view_with_block(self, requests: list[tuple[Contract, str, list]]) -> tuple[list[Any], dict[str, Any]]:
        """`view`, and the latest block (its JSON-RPC header: hex fields) in the same round trip."""
        raw = self.batch([*self._view_calls(requests), ("eth_getBlockByNumber", ["latest", False])])
        return self._decode_views(requests, raw[:-1]), raw[-1]

    def error_name(self, data: bytes, args: bool = True) -> str:
        """Revert data `data` in words, as `revert_reason` gives a transaction's (`args=False`: the name alone)."""
        return decode_revert(data, self._errors, self.w3.codec, args)

    def call_error(self, contract: Contract, fn: str, args: list) -> str | None:
        """Why `contract.fn(*args)` reverts as an eth_call now (read as `revert_reason` reads a transaction's);
        None if it does not."""
        answer, = self.batch(self._view_calls([(contract, fn, args)]))
        if isinstance(answer, str):
            return None
        data = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return decode_revert(bytes.fromhex(data[2:]), self._errors, self.w3.codec)
        return rpc_message(answer)

    def _view_calls(self, requests: list[tuple[Contract, str, list]], block: dict[str, str] | None = None) -> list[tuple[str, list]]:
        """eth_calls at the latest state; `block`: with these block overrides (time, number)."""
        extra: list[Any] = [{}, block] if block else []
        return [("eth_call", [{"to": c.address, "data": self.encode(c, fn, args)}, "latest", *extra]) for c, fn, args in requests]

    def _key(self, wallet: Wallet) -> PrivateKey:
        key = self._keys.get(wallet.address)
        if key is None:
            key = self._keys[wallet.address] = PrivateKey(bytes(wallet.account.key))
        return key

    def _connection(self) -> "_Connection":
        if self._http is None or self._http.uri != self.uri:
            self._http = _Connection(self.uri, self.timeout)
        return self._http

    def set_automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", [on])

    def now(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def wallet(self, account: LocalAccount) -> Wallet:
        return Wallet(account, int(self.rpc("eth_getTransactionCount", [account.address, "pending"]), 16))

    # -------------------------------------------------------------- transactions

    def send(self, wallet: Wallet, to: str, data: str | bytes, label: str = "", gas: int = TX_GAS, items: int = 1) -> bytes:
        """Signs one transaction; it goes to the node with the next `flush()` or `mine()`. `items`: what it does,
        for block space (the liquidations of a liquidateMany)."""
        calldata = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
        self.fees.sender(wallet.address)
        if self.unsigned:  # the embedded EVM: no signature to make and recover (0.2 ms a transaction)
            tx_hash = unsigned_hash(wallet.address, wallet.nonce, self.fees.price, gas, to, calldata)
            request = {"from": wallet.address, "to": to if to != "0x" else None, "data": "0x" + calldata.hex(),
                       "gas": hex(gas), "gasPrice": hex(self.fees.price), "nonce": hex(wallet.nonce)}
            sent = Sent(tx_hash, label, unsigned=request, sender=wallet.address, items=items)
        else:
            raw = _sign_legacy(self._key(wallet), self.chain_id, wallet.nonce, gas, to, calldata, self.fees.price)
            sent = Sent(keccak256(raw), label, raw, sender=wallet.address, items=items)
        wallet.nonce += 1
        self.sent_total += 1
        self._pending.append(sent)
        return sent.tx_hash

    def flush(self, sents: list[Sent] | None = None) -> None:
        """Sends every signed, unsent transaction (of `sents`, by default all pending) to the node in one batch
        (they wait in its pool). A transaction the node refuses raises TransactionRefused at once, naming it and
        the node's reason."""
        for address, why in self.fees.fund_senders(self):
            raise TransactionRefused(f"the node at {self.uri} cannot give {address} gas money (hardhat_setBalance): {why}")
        unsent = [s for s in (self._pending if sents is None else sents) if s.raw is not None or s.unsigned is not None]
        answers = self.batch([
            ("eth_sendRawTransaction", ["0x" + s.raw.hex()]) if s.raw is not None else ("eth_sendTransaction", [s.unsigned]) for s in unsent
        ])
        for sent, answer in zip(unsent, answers):
            if not isinstance(answer, str):
                raise TransactionRefused(f"the node at {self.uri} refused transaction {sent.label!r}: {rpc_message(answer)}")
            sent.raw = sent.unsigned = None

    @property
    def backlog(self) -> bool:
        """Whether transactions offered to a block wait for the next (block space, `space`)."""
        return any(s.offered_at is not None for s in self._pending)

    def waiting_senders(self) -> set[str]:
        """The senders of the transactions that wait for block space."""
        return {s.sender for s in self._pending if s.offered_at is not None}

    def waiting_kinds(self) -> set[str]:
        """The kinds (label up to its first colon) of the transactions that wait for block space."""
        return {BlockSpace.kind(s.label) for s in self._pending if s.offered_at is not None}

    def call_fn(self, wallet: Wallet, contract: Contract, fn: str, *args: Any, label: str = "") -> bytes:
        return self.send(wallet, contract.address, self.encode(contract, fn, args), label or fn)

    def mine(self, timestamp: int | None = None) -> list[tuple[Sent, TxReceipt]]:
        """Mines every pending transaction (in as many blocks as the gas limit needs; the first at
        `timestamp`) and returns (sent, receipt) pairs in sending order."""
        return self.mine_and_view(timestamp, [])[0]

    def mine_and_view(
        self, timestamp: int | None, reads: list[tuple[Contract, str, list]], skip_empty: bool = False
    ) -> tuple[list[tuple[Sent, TxReceipt]], list[Any]]:
        """`mine`, and `view(reads)` at the state the mined block(s) leave, in the same round trip as the
        receipts (one request fewer than mining, then reading).

        `skip_empty`: with nothing to mine, no block is mined (on a node with a large state an empty block
        costs as much as a full one: Anvil recomputes the state root) and `reads` are answered as in the block
        that would have been mined: on its state (the latest, which an empty block does not change) with its
        timestamp and number (eth_call block overrides; Anvil only, other nodes mine the empty block)."""
        if skip_empty and not self._pending and self.overrides_blocks:
            self._sync_head()
            block = {"time": hex(max(timestamp or 0, self.last_timestamp + 1)), "number": hex(self.head + 1)}
            return [], self._decode_views(reads, self.batch(self._view_calls(reads, block)))
        if self.space is not None:  # only what fits the block's gas; the rest waits for the next block
            self._sync_head()
            pending, self._pending = self.space.fill(self._pending, max(timestamp or 0, self.last_timestamp + 1))
        else:
            pending, self._pending = self._pending, []
        self.flush(pending)
        self._mine_block(timestamp)
        receipts: list[Any] = [None] * len(pending)
        calls = self._view_calls(reads)
        for _ in range(200):
            missing = [i for i, r in enumerate(receipts) if r is None]
            answers = self.batch([("eth_getTransactionReceipt", ["0x" + pending[i].tx_hash.hex()]) for i in missing] + calls)
            for i, raw in zip(missing, answers):
                if isinstance(raw, dict) and "blockNumber" in raw:
                    receipts[i] = _receipt(raw)
            if all(r is not None for r in receipts):
                self.fees.follow(self)
                return list(zip(pending, receipts)), self._decode_views(reads, answers[len(missing):])
            self._mine_block(None)  # what did not fit in the block's gas limit (and read again after it)
        raise ChainDied("transactions were never mined")

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
                    receipts[i] = _receipt(raw)
            if any(r is None for r in receipts):
                time.sleep(0.05)
        self.fees.follow(self)
        return list(zip(pending, receipts))

    def _sync_head(self) -> None:
        """The chain's latest block and time, read once (blocks mined elsewhere since: set `head` to -1)."""
        if self.head < 0:
            self.last_timestamp = self.now()
            self.head = int(self.rpc("eth_blockNumber"), 16)

    @property
    def client(self) -> str:
        """The node's web3_clientVersion, lower case (e.g. "anvil/v1.7.1", "hardhatnetwork/2.29.1/...")."""
        if self._client is None:
            self._client = str(self.rpc("web3_clientVersion")).lower()
        return self._client

    @property
    def is_anvil(self) -> bool:
        return self.client.startswith("anvil")

    @property
    def is_embedded(self) -> bool:
        """The in-process EVM of backstop.chain.revm."""
        return self.client.startswith("backstop-revm")

    @property
    def overrides_blocks(self) -> bool:
        """The node answers eth_call with block overrides (time, number): Anvil and the embedded EVM."""
        return self.is_anvil or self.is_embedded

    @property
    def is_dev(self) -> bool:
        """A development node (Anvil, Hardhat, the embedded EVM): it sets balances on request (hardhat_setBalance)."""
        return self.client.startswith(("anvil", "hardhat")) or self.is_embedded

    def _mine_block(self, timestamp: int | None) -> None:
        """One block at `timestamp`, or one second after the last block when that is later or not given."""
        self._sync_head()
        ts = max(timestamp or 0, self.last_timestamp + 1)
        self.rpc("evm_mine", [ts])
        self.last_timestamp = ts
        self.head += 1
        self.block_times[self.head] = ts

    # -------------------------------------------------------------- events

    def revert_reason(self, tx_hash: bytes, args: bool = True) -> str:
        """What a mined, failed transaction ended with, from the node's trace: its custom error by name with its
        arguments, ``UnknownMarket(0x4f4d…)`` (decoded against every compiled Backstop contract's errors and
        the registered ones; `args=False`: the name alone), a revert string, a panic, or the node's own error."""
        data, error = _traced_revert(self, tx_hash)
        if data is None:
            return error or "unknown"
        return decode_revert(data, self._errors, self.w3.codec, args) if data else (error or "reverted without a reason")



def _sign_legacy(key: PrivateKey, chain_id: int, nonce: int, gas: int, to: str, data: bytes, gas_price: int = 0) -> bytes:
    """A signed legacy (EIP-155) transaction with no value: the same bytes as eth_account's `sign_transaction`
    (deterministic RFC 6979 signature), without its per-call key parsing and formatters."""
    fields = [nonce, gas_price, gas, bytes.fromhex(to[2:]), 0, data]
    signature = key.sign_msg_hash(keccak(rlp.encode([*fields, chain_id, 0, 0])))
    return rlp.encode([*fields, signature.v + 35 + 2 * chain_id, signature.r, signature.s])


def _traced_revert(chain: FastChain, tx_hash: bytes) -> tuple[bytes | None, str | None]:
    """(the revert data, the trace's error) of a mined transaction: Anvil's callTracer, else the default
    tracer's returnValue (Hardhat); (None, None) when the node traces neither way."""
    target = "0x" + tx_hash.hex()
    for options in ({"tracer": "callTracer"}, {"disableStorage": True, "disableMemory": True, "disableStack": True}):
        try:
            trace = chain.rpc("debug_traceTransaction", [target, options])
        except ChainDied:
            raise
        except RuntimeError:
            continue
        hexdata = (trace.get("output") if "output" in trace else trace.get("returnValue")) if isinstance(trace, dict) else None
        try:
            return bytes.fromhex((hexdata or "").removeprefix("0x")), trace.get("error")
        except (ValueError, AttributeError):
            continue
    return None, None


def _send_in_one(self: http.client.HTTPConnection, message_body: Any = None, encode_chunked: bool = False) -> None:
    """http.client's `_send_output` sends the headers and the body in two writes (two wake-ups of the node per
    request); this sends them in one."""
    self._buffer.extend((b"", b""))
    head = b"\r\n".join(self._buffer)
    del self._buffer[:]
    self.send(head + bytes(message_body or b""))


class _Connection:
    """JSON-RPC over one kept-alive HTTP connection to the node, each request in a single write (plain
    http.client: requests adds a proxy look-up in the environment and ~0.5 ms of preparation per request)."""

    def __init__(self, uri: str, timeout: float) -> None:
        url = urlparse(uri)
        self.uri = uri
        self.path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        base = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        self.headers = {"Content-Type": "application/json"}
        if url.username:
            token = base64.b64encode(f"{unquote(url.username)}:{unquote(url.password or '')}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.http = type("OneWrite" + base.__name__, (base,), {"_send_output": _send_in_one})(url.hostname, url.port, timeout=timeout)

    def post(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        for attempt in (0, 1):
            reused = self.http.sock is not None
            try:
                self.http.request("POST", self.path, body=body, headers=self.headers)
                response = self.http.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.http.close()
                if attempt or not reused:
                    raise
                # the node closed a kept-alive connection: once more on a new one
            except Exception:
                self.http.close()
                raise
        if response.status >= 400:
            raise RuntimeError(f"HTTP {response.status} {response.reason}")
        return json.loads(data)


def _timed_out(exc: Exception, timeout: float) -> str:
    """' within N s' when `exc` is a timeout, so the message says the node was too slow rather than gone."""
    import requests  # noqa: PLC0415

    return f": no answer within {timeout:g} s" if isinstance(exc, (requests.Timeout, TimeoutError)) else ""


_INTS = ("blockNumber", "transactionIndex", "cumulativeGasUsed", "status", "gasUsed", "effectiveGasPrice", "type", "blobGasPrice", "blobGasUsed", "logIndex")
_BYTES = ("blockHash", "transactionHash", "logsBloom", "data")
_ADDRESSES = ("from", "to", "contractAddress", "address")


def format_log(raw: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC log (eth_getLogs) as web3's `log_entry_formatter` gives it, for a fraction of its cost."""
    return _formatted(raw)


def _receipt(raw: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC receipt as web3's `receipt_formatter` gives it (quantities as int, hashes and data as
    HexBytes, addresses checksummed, each log likewise), for a fraction of its cost."""
    return _formatted(raw)


def _hexbytes(text: str) -> HexBytes:
    """HexBytes of a 0x-prefixed, even-length hex string (as nodes write hashes, data and topics), without
    HexBytes' own parsing of every input type."""
    return bytes.__new__(HexBytes, bytes.fromhex(text[2:]))


def _formatted(raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    for k in _INTS:
        if isinstance(out.get(k), str):
            out[k] = int(out[k], 16)
    for k in _BYTES:
        if isinstance(out.get(k), str):
            out[k] = _hexbytes(out[k])
    for k in _ADDRESSES:
        if isinstance(out.get(k), str):
            out[k] = checksum(out[k])
    if "topics" in out:
        out["topics"] = [_hexbytes(t) for t in out["topics"]]
    if isinstance(out.get("logs"), list):
        out["logs"] = [_formatted(log) for log in out["logs"]]
    return out


def raw_throughput(chain: FastChain, wallet: Wallet, token: Contract, n: int = 2_000, batch: int = 500) -> float:
    """Transactions per second the node accepts for pre-signed ERC-20 transfers sent straight to it, batched
    into blocks: the ceiling against which the replay's own throughput is reported."""
    data = token.encode_abi("transfer", [wallet.address, 0])
    signed: list[bytes] = []
    price = chain.gas_price
    for i in range(n):
        tx = {"to": token.address, "data": data, "gas": 100_000, "gasPrice": price, "nonce": wallet.nonce + i, "chainId": chain.chain_id, "value": 0}
        signed.append(wallet.account.sign_transaction(tx).raw_transaction)
    start = time.perf_counter()
    for chunk_start in range(0, n, batch):
        for raw in signed[chunk_start : chunk_start + batch]:
            try:
                chain.rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
            except RuntimeError as exc:
                if isinstance(exc, ChainDied):
                    raise
                raise TransactionRefused(f"the node at {chain.uri} refused a throughput-test transfer: {exc}") from None
        chain.rpc("evm_mine", [])
    elapsed = time.perf_counter() - start
    wallet.nonce += n
    return n / elapsed


def web3_contract(w3: Web3, address: str, abi: Iterable[dict[str, Any]]) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=list(abi))
