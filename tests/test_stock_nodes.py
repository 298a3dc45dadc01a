"""Replays on nodes started as anyone starts them: `anvil --port N` and `npx hardhat node`, with their default
base fee (1 gwei) and accounts, not the gas-free Anvil that backstop.chain.node starts. FastChain prices its
transactions from the node (backstop.chain.fees), gives its throwaway senders gas money on such dev
nodes, and a transaction the node refuses fails at once, as one line, and leaves the node usable."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests
from eth_account import Account

from backstop.chain.fastchain import FastChain, TransactionRefused, Wallet, derive_account
from backstop.chain.fees import DEV_GAS_FUNDS, Fees
from backstop.chain.node import PROJECT_ROOT, find_anvil, free_port
from backstop.errors import BackstopError
from backstop.replay import ReplayFailed, run_replay

MINI = Path(__file__).parent / "data" / "mini-crash.yaml"
SMALL = {"population.0.count": 8}
HARDHAT_CLI = PROJECT_ROOT / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
A_TEST_ACCOUNT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # the standard mnemonic's first account


def _rpc(uri: str, method: str, params: list | None = None):
    return requests.post(uri, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=5).json()["result"]


@contextmanager
def _node(cmd: list[str], port: int, timeout: float = 60) -> Iterator[str]:
    """Runs `cmd` (a node listening on `port`) until the block ends; yields its URL."""
    uri = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, f"{cmd[0]} exited at start (code {proc.returncode})"
            try:
                _rpc(uri, "eth_chainId")
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, f"{cmd} did not answer within {timeout} s"
                time.sleep(0.2)
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@contextmanager
def stock_anvil() -> Iterator[str]:
    port = free_port()
    with _node([find_anvil(), "--port", str(port), "--silent"], port) as uri:
        assert int(_rpc(uri, "eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16) > 0  # stock: 1 gwei
        yield uri


@contextmanager
def stock_hardhat(tmp_path: Path) -> Iterator[str]:
    """`npx hardhat node` with an empty config (every default: base fee 1 gwei, the standard mnemonic)."""
    config = tmp_path / "hardhat.config.js"
    config.write_text("module.exports = {};\n")
    port = free_port()
    with _node(["node", str(HARDHAT_CLI), "--config", str(config), "node", "--port", str(port)], port) as uri:
        yield uri


def _complete(report: dict, out: Path) -> None:
    assert report["run"]["complete"] and report["run"]["error"] is None
    assert report["run"]["setup"]["opened"] == SMALL["population.0.count"]
    assert report["totals"]["liquidations"] > 0
    assert (out / "report.json").is_file() and (out / "report.md").is_file()


def test_a_replay_on_a_stock_anvil_is_complete_and_a_refused_send_leaves_the_node_usable(tmp_path, monkeypatch):
    with stock_anvil() as uri:
        # the old behaviour, gas price 0 on a node with a base fee: the node refuses the first transaction
        with monkeypatch.context() as m:
            m.setattr(Fees, "reprice", lambda self, chain: setattr(self, "price", 0))
            started = time.monotonic()
            with pytest.raises(ReplayFailed, match="refused transaction 'mint': max fee per gas less than block base fee") as info:
                run_replay(MINI, tmp_path / "refused", network=uri, progress=False, overrides=SMALL, measure_raw=False)
            assert time.monotonic() - started < 90  # the deployment, then at once: no 120 s wait for a receipt
        assert "\n" not in str(info.value)
        assert (tmp_path / "refused" / "report.json").is_file()  # the partial report
        assert _rpc(uri, "anvil_getAutomine") is True  # left as it was found: the next run's deployment mines

        report = run_replay(MINI, tmp_path / "ok", network=uri, progress=False, overrides=SMALL)
        _complete(report, tmp_path / "ok")
        assert report["throughput"]["raw_anvil_tx_per_s"] > 0  # the raw throughput transfers are priced too


@pytest.mark.hardhat
@pytest.mark.skipif(not HARDHAT_CLI.is_file(), reason="hardhat is not installed in node_modules (make setup)")
def test_a_replay_on_a_stock_hardhat_node_is_complete(tmp_path):
    with stock_hardhat(tmp_path) as uri:
        report = run_replay(MINI, tmp_path / "hh", network=uri, progress=False, overrides=SMALL, measure_raw=False)
    _complete(report, tmp_path / "hh")


def test_a_refused_transaction_raises_at_once_naming_the_reason():
    with stock_anvil() as uri:
        chain = FastChain.connect(uri)
        assert chain.gas_price >= 2 * 10**9  # twice the stock base fee
        wallet = Wallet(derive_account(1, "refused", 0))
        chain.fees.price = 0  # below the base fee
        chain.send(wallet, A_TEST_ACCOUNT, b"", label="too cheap")
        started = time.monotonic()
        with pytest.raises(TransactionRefused) as info:
            chain.wait(timeout=120)
        assert time.monotonic() - started < 5
        assert isinstance(info.value, BackstopError)
        assert str(info.value) == f"the node at {uri} refused transaction 'too cheap': max fee per gas less than block base fee"


def test_new_senders_get_gas_money_on_a_dev_node_and_pay_the_nodes_price():
    with stock_anvil() as uri:
        chain = FastChain.connect(uri)
        chain.set_automine(False)
        rich = chain.wallet(Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"))
        assert rich.address == A_TEST_ACCOUNT
        _rpc(uri, "anvil_setBalance", [rich.address, hex(6_000 * 10**18)])  # more than half of DEV_GAS_FUNDS
        poor = Wallet(derive_account(1, "poor", 0))
        chain.send(poor, A_TEST_ACCOUNT, b"", label="from poor", gas=21_000)
        chain.send(rich, A_TEST_ACCOUNT, b"", label="from rich", gas=21_000)
        (_, r1), (_, r2) = chain.mine()
        assert r1["status"] == r2["status"] == 1
        assert r1["effectiveGasPrice"] == r2["effectiveGasPrice"] > 0
        assert int(_rpc(uri, "eth_getBalance", [poor.address, "latest"]), 16) == DEV_GAS_FUNDS - 21_000 * r1["effectiveGasPrice"]
        assert int(_rpc(uri, "eth_getBalance", [rich.address, "latest"]), 16) == 6_000 * 10**18 - 21_000 * r2["effectiveGasPrice"]  # left alone


def test_the_replays_own_anvil_stays_gas_free():
    from backstop.chain.node import local_anvil

    with local_anvil() as node:
        chain = FastChain.connect(node.uri)
        assert chain.gas_price == 0 and not chain.fees.new_senders
        chain.send(Wallet(derive_account(1, "free", 0)), A_TEST_ACCOUNT, b"")
        assert not chain.fees.new_senders  # never asks the node for balances
