"""An embedded EVM: revm (through pyrevm) in this process, answering the JSON-RPC methods a replay uses.

Anvil 1.7.1 recomputes the whole state trie at every block (≈45 ms a block on the OM replay's state, empty or
full) and every call crosses HTTP and JSON. `RevmNode` runs the same bytecode in-process with no state root:
`FastChain.embedded()` talks to it through the same `batch`/`rpc` calls it sends to Anvil (the payloads are
handed over as Python objects, never serialised), so the replay engine does not know which one it runs on.

What it mirrors of Anvil, so that a replay's report is the same figure for figure:
- chain id 31337, the ten funded accounts of the standard test mnemonic, base fee and gas price 0, the Cancun
  rules, a 30M block gas limit filled as Anvil fills it (in sending order, a transaction goes into the block
  when the gas used so far plus its gas limit fits; the others wait for the next block);
- transactions signed (legacy, the sender recovered from the signature) or handed over unsigned by this process
  (eth_sendTransaction, as to an account Anvil impersonates), nonces checked, contract addresses from the
  sender and its nonce, receipts and logs in JSON-RPC shape;
- `evm_mine` at a given timestamp, automine on or off, eth_call at the latest state with block overrides,
  eth_getLogs, and `debug_traceTransaction` with the output of a failed transaction (its revert data).

Where its gas differs from Anvil's: pyrevm 0.3.7 runs every call in one open revm transaction (it never
finalises the journal), so what an earlier transaction touched stays warm (EIP-2929: 100 gas instead of a
cold 2,100 per storage slot, 2,600 per account) and a slot's "original value" (EIP-2200) is its value when it
was first read in the run, not at the start of the transaction. A transaction therefore uses the same gas or
less than on Anvil; no figure of a report depends on it (the equality tests show it), and `report.run.gas`
lists the gas as the chain that ran charged it. The one place gas could change an answer is a block of more
than ~27M gas, which Anvil would split differently.

What it does not do: serve other processes (there is no port: `cast` cannot inspect the state after a run; replay
on Anvil for that, `--network anvil`), keep old states (every read is at the latest block), value transfers,
typed (EIP-1559) transactions, or tracing beyond a failed transaction's output.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth_account import Account
from eth_keys.datatypes import Signature
from eth_utils import keccak

from backstop.chain.codec import checksum
from backstop.chain.fastchain import unsigned_hash
from backstop.errors import BackstopError

__all__ = ["CHAIN_ID", "BLOCK_GAS_LIMIT", "EmbeddedError", "RevmNode", "mnemonic_accounts", "pyrevm_version"]

CHAIN_ID = 31337  # Anvil's
BLOCK_GAS_LIMIT = 30_000_000  # Anvil's default
CALL_GAS = BLOCK_GAS_LIMIT  # what an eth_call may use (Anvil: the block gas limit)
TEST_BALANCE = 10_000 * 10**18  # [wei] each test account's, as `anvil --balance 10000`
_FAILED = re.compile(r"(Revert|Halt)\s*\{(?P<body>.*)\}", re.S)


class EmbeddedError(BackstopError, RuntimeError):
    """The embedded EVM could not be used (pyrevm missing or failing)."""


def mnemonic_accounts(mnemonic: str, count: int) -> list[Any]:
    """The first `count` accounts of `mnemonic` on the standard path m/44'/60'/0'/0/i: Anvil's (and Ape's) test
    accounts for the standard test mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def pyrevm_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version("pyrevm")


@dataclass
class _Tx:
    hash: str
    sender: str
    nonce: int
    gas: int
    gas_price: int
    to: str | None  # None: a contract creation
    data: bytes


@dataclass
class _Block:
    number: int
    timestamp: int
    hash: str
    txs: list[str] = field(default_factory=list)
    gas_used: int = 0


class RevmNode:
    """One in-process chain. Its `post(payload)` answers a JSON-RPC request (a dict) or batch (a list) as the
    decoded JSON an HTTP node would send back."""

    uri = "revm://embedded"

    def __init__(self, mnemonic: str, accounts: int = 10, genesis_time: int | None = None, block_gas_limit: int = BLOCK_GAS_LIMIT) -> None:
        try:
            from pyrevm import EVM, BlockEnv, CfgEnv, Env  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - pinned in constraints.txt
            raise EmbeddedError(f"the embedded EVM needs pyrevm (pip install -c constraints.txt pyrevm): {exc}") from None
        self._BlockEnv = BlockEnv
        self.gas_limit = block_gas_limit
        now = int(time.time()) if genesis_time is None else genesis_time
        self.evm = EVM(env=Env(cfg=CfgEnv(chain_id=CHAIN_ID), block=self._block_env(0, now)), spec_id="CANCUN")
        self.blocks: list[_Block] = [_Block(0, now, _block_hash(0))]
        self.pool: list[_Tx] = []
        self.pending_nonces: dict[str, int] = {}  # [lower-case address] the nonce its next transaction must have
        self.nonces: dict[str, int] = {}  # [lower-case address] transactions mined
        self.receipts: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, bytes] = {}  # tx hash -> revert data of a failed transaction
        self.logs: list[dict[str, Any]] = []
        self.automine = True
        self.test_accounts = mnemonic_accounts(mnemonic, accounts)
        for account in self.test_accounts:
            self.evm.set_balance(account.address, TEST_BALANCE)

    # ------------------------------------------------------------------ transport

    def post(self, payload: Any) -> Any:
        if isinstance(payload, list):
            return [self._answer(p) for p in payload]
        return self._answer(payload)

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request["method"], request.get("params") or []
        handler = getattr(self, "_" + method, None)
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        if handler is None:
            reply["error"] = {"code": -32601, "message": f"method {method} is not served by the embedded EVM"}
            return reply
        try:
            reply["result"] = handler(*params)
        except _RpcError as exc:
            reply["error"] = exc.error
        return reply

    # ------------------------------------------------------------------ node

    def _web3_clientVersion(self) -> str:
        return f"backstop-revm/pyrevm-{pyrevm_version()}"

    def _eth_chainId(self) -> str:
        return hex(CHAIN_ID)

    def _net_version(self) -> str:
        return str(CHAIN_ID)

    def _eth_gasPrice(self) -> str:
        return "0x0"

    def _eth_blockNumber(self) -> str:
        return hex(self.blocks[-1].number)

    def _eth_getBlockByNumber(self, which: str, _full: bool = False) -> dict[str, Any] | None:
        block = self._block(which)
        if block is None:
            return None
        return {
            "number": hex(block.number), "hash": block.hash, "parentHash": _block_hash(block.number - 1) if block.number else "0x" + "00" * 32,
            "timestamp": hex(block.timestamp), "gasLimit": hex(self.gas_limit), "gasUsed": hex(block.gas_used),
            "baseFeePerGas": "0x0", "miner": "0x" + "00" * 20, "transactions": list(block.txs),
        }

    def _eth_getBalance(self, address: str, _block: str = "latest") -> str:
        return hex(self.evm.get_balance(address))

    def _hardhat_setBalance(self, address: str, value: str) -> bool:
        self.evm.set_balance(address, int(value, 16))
        return True

    _anvil_setBalance = _hardhat_setBalance

    def _eth_getCode(self, address: str, _block: str = "latest") -> str:
        return "0x" + (self.evm.get_code(address) or b"").hex()

    def _eth_getTransactionCount(self, address: str, block: str = "latest") -> str:
        return hex(self._next_nonce(address.lower()) if block == "pending" else self.nonces.get(address.lower(), 0))

    def _evm_setAutomine(self, on: bool) -> bool:
        self.automine = bool(on)
        if self.automine:
            while self.pool:
                self._mine(None)
        return True

    def _evm_mine(self, timestamp: Any = None) -> str:
        self._mine(int(timestamp, 16) if isinstance(timestamp, str) else timestamp)
        return "0x0"

    # ------------------------------------------------------------------ transactions

    def _eth_sendRawTransaction(self, raw_hex: str) -> str:
        raw = bytes.fromhex(raw_hex[2:])
        try:
            tx = _decode_legacy(raw)
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with the bytes, the sender hears it
            raise _RpcError(-32602, f"not a signed legacy transaction: {exc}") from None
        return self._enqueue(tx)

    def _eth_sendTransaction(self, request: dict[str, Any]) -> str:
        """A transaction handed over unsigned by the process it runs in (FastChain.embedded), as to an account
        Anvil impersonates; its hash is backstop.chain.fastchain.unsigned_hash."""
        try:
            sender, to = request["from"].lower(), request.get("to")
            data = bytes.fromhex((request.get("data") or request.get("input") or "0x")[2:])
            nonce = int(request["nonce"], 16) if "nonce" in request else self._next_nonce(sender)
            gas, price = int(request.get("gas", hex(self.gas_limit)), 16), int(request.get("gasPrice", "0x0"), 16)
            if int(request.get("value", "0x0"), 16):
                raise ValueError("value transfers are not supported by the embedded EVM")
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise _RpcError(-32602, f"not a transaction request: {exc}") from None
        tx_hash = "0x" + unsigned_hash(sender, nonce, price, gas, to or "0x", data).hex()
        return self._enqueue(_Tx(tx_hash, sender, nonce, gas, price, checksum(to) if to else None, data))

    def _next_nonce(self, sender: str) -> int:
        return self.pending_nonces.get(sender, self.nonces.get(sender, 0))

    def _enqueue(self, tx: _Tx) -> str:
        expected = self._next_nonce(tx.sender)
        if tx.nonce != expected:
            raise _RpcError(-32003, f"nonce {'too low' if tx.nonce < expected else 'too high'}: {tx.nonce}, expected {expected}")
        if tx.gas > self.gas_limit:
            raise _RpcError(-32003, f"intrinsic gas too high: gas limit {tx.gas} above the block gas limit {self.gas_limit}")
        self.pool.append(tx)
        self.pending_nonces[tx.sender] = tx.nonce + 1
        if self.automine:
            self._mine(None)
        return tx.hash

    def _eth_getTransactionReceipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.receipts.get(tx_hash.lower())

    def _evm_setBlockGasLimit(self, limit: str) -> bool:
        self.gas_limit = int(limit, 16)
        return True

    def _debug_traceTransaction(self, tx_hash: str, _options: dict[str, Any] | None = None) -> dict[str, Any]:
        receipt = self.receipts.get(tx_hash.lower())
        if receipt is None:
            raise _RpcError(-32000, f"transaction {tx_hash} not found")
        if receipt["status"] == "0x1":
            return {"type": "CALL", "output": "0x"}
        return {"type": "CALL", "output": "0x" + self.outputs.get(tx_hash.lower(), b"").hex(), "error": "execution reverted"}

    def _mine(self, timestamp: int | None) -> None:
        """One block: Anvil's timestamp rule (the one asked, or one second after the last block, whichever is
        later; now when nothing is asked), then the pool in sending order, each transaction that fits (the gas
        used so far plus its gas limit within the block gas limit: Anvil's rule) and whose sender has nothing
        waiting; the others wait for the next block. (Anvil 1.7.1 drops the later transactions of a sender whose
        transaction did not fit, and a replay there stops with "transactions were never mined"; here they wait.)"""
        last = self.blocks[-1]
        ts = max(timestamp if timestamp is not None else int(time.time()), last.timestamp + 1)
        block = _Block(last.number + 1, ts, _block_hash(last.number + 1))
        self.evm.set_block_env(self._block_env(block.number, ts))
        rest: list[_Tx] = []
        waiting: set[str] = set()  # senders with a transaction left for a later block: their next ones wait too
        for tx in self.pool:
            if tx.sender in waiting or block.gas_used + tx.gas > self.gas_limit:
                rest.append(tx)
                waiting.add(tx.sender)
                continue
            self._execute(tx, block)
        self.pool = rest
        self.blocks.append(block)

    def _execute(self, tx: _Tx, block: _Block) -> None:
        evm = self.evm
        index = len(block.txs)
        created: str | None = None
        output = b""
        evm.reset_transient_storage()  # EIP-1153: transient storage lasts one transaction
        try:
            if tx.to is None:
                self._set_nonce(tx.sender, self.nonces.get(tx.sender, 0))  # revm creates at the sender's nonce
                created = evm.deploy(tx.sender, tx.data, gas=tx.gas)
            else:
                evm.message_call(tx.sender, tx.to, tx.data, gas=tx.gas, gas_price=tx.gas_price)
            ok = True
        except RuntimeError as exc:
            ok, output = False, _failure_output(str(exc))
        result = evm.result
        gas_used = result.gas_used if result is not None else tx.gas
        self.nonces[tx.sender] = self.nonces.get(tx.sender, 0) + 1
        block.gas_used += gas_used
        block.txs.append(tx.hash)
        logs = []
        if ok and result is not None:
            for log in result.logs:
                topics, data = log.data
                entry = {
                    "address": log.address, "topics": ["0x" + bytes(t).hex() for t in topics], "data": "0x" + bytes(data).hex(),
                    "blockNumber": hex(block.number), "blockHash": block.hash, "transactionHash": tx.hash,
                    "transactionIndex": hex(index), "logIndex": hex(len(self.logs)), "removed": False,
                }
                logs.append(entry)
                self.logs.append(entry)
        if not ok:
            self.outputs[tx.hash] = output
        self.receipts[tx.hash] = {
            "transactionHash": tx.hash, "transactionIndex": hex(index), "blockNumber": hex(block.number), "blockHash": block.hash,
            "from": tx.sender, "to": tx.to, "contractAddress": created.lower() if created else None,
            "cumulativeGasUsed": hex(block.gas_used), "gasUsed": hex(gas_used), "effectiveGasPrice": hex(tx.gas_price),
            "status": "0x1" if ok else "0x0", "logs": logs, "type": "0x0",
        }

    def _set_nonce(self, address: str, nonce: int) -> None:
        from pyrevm import AccountInfo  # noqa: PLC0415

        balance = self.evm.get_balance(address)
        self.evm.insert_account_info(address, AccountInfo(nonce=nonce))
        self.evm.set_balance(address, balance)

    # ------------------------------------------------------------------ reads

    def _eth_call(self, call: dict[str, Any], _block: str = "latest", _state: Any = None, overrides: dict[str, Any] | None = None) -> str:
        evm = self.evm
        if overrides:
            last = self.blocks[-1]
            number = int(overrides.get("number", hex(last.number)), 16)
            ts = int(overrides.get("time", hex(last.timestamp)), 16)
            evm.set_block_env(self._block_env(number, ts))
        try:
            data = call.get("data") or call.get("input") or "0x"
            out = evm.message_call(call.get("from") or "0x" + "00" * 20, call["to"], bytes.fromhex(data[2:]), gas=CALL_GAS, is_static=True)
        except RuntimeError as exc:
            output = _failure_output(str(exc))
            raise _RpcError(3, "execution reverted", "0x" + output.hex()) from None
        finally:
            if overrides:
                last = self.blocks[-1]
                evm.set_block_env(self._block_env(last.number, last.timestamp))
        return "0x" + bytes(out).hex()

    def _eth_getLogs(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        lo = int(query.get("fromBlock", "0x0"), 16)
        hi = self.blocks[-1].number if query.get("toBlock", "latest") == "latest" else int(query["toBlock"], 16)
        wanted = query.get("address")
        if isinstance(wanted, str):
            wanted = [wanted]
        addresses = {a.lower() for a in wanted} if wanted else None
        return [
            log for log in self.logs
            if lo <= int(log["blockNumber"], 16) <= hi and (addresses is None or log["address"].lower() in addresses)
        ]

    # ------------------------------------------------------------------ helpers

    def _block(self, which: str) -> _Block | None:
        if which in ("latest", "pending", "safe", "finalized"):
            return self.blocks[-1]
        if which == "earliest":
            return self.blocks[0]
        n = int(which, 16)
        return self.blocks[n] if 0 <= n < len(self.blocks) else None

    def _block_env(self, number: int, timestamp: int) -> Any:
        return self._BlockEnv(number=number, timestamp=timestamp, gas_limit=self.gas_limit, basefee=0, prevrandao=b"\0" * 32)


class _RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            self.error["data"] = data


def _block_hash(number: int) -> str:
    return "0x" + keccak(b"backstop-revm-block" + number.to_bytes(8, "big")).hex()


def _failure_output(message: str) -> bytes:
    """The revert data in pyrevm's error text, ``Revert { gas_used: N, output: 0x… }`` (b"" for a halt)."""
    found = _FAILED.search(message)
    if found and "output:" in found["body"]:
        hexdata = found["body"].split("output:", 1)[1].strip().split()[0].rstrip(",}")
        try:
            return bytes.fromhex(hexdata.removeprefix("0x"))
        except ValueError:
            return b""
    return b""


def _decode_legacy(raw: bytes) -> _Tx:
    """A signed legacy (EIP-155) transaction; the sender recovered from its signature."""
    nonce, gas_price, gas, to, value, data, v, r, s = rlp.decode(raw)
    v_int = int.from_bytes(v, "big")
    if v_int >= 35:
        chain_id = (v_int - 35) // 2
        unsigned = rlp.encode([nonce, gas_price, gas, to, value, data, chain_id, 0, 0])
        recovery = v_int - 35 - 2 * chain_id
    else:
        unsigned = rlp.encode([nonce, gas_price, gas, to, value, data])
        recovery = v_int - 27
    signature = Signature(vrs=(recovery, int.from_bytes(r, "big"), int.from_bytes(s, "big")))
    sender = signature.recover_public_key_from_msg_hash(keccak(unsigned)).to_checksum_address().lower()
    if int.from_bytes(value, "big"):
        raise ValueError("value transfers are not supported by the embedded EVM")
    return _Tx(
        hash="0x" + keccak(raw).hex(), sender=sender, nonce=int.from_bytes(nonce, "big"), gas=int.from_bytes(gas, "big"),
        gas_price=int.from_bytes(gas_price, "big"), to=checksum(to) if to else None, data=bytes(data),
    )
