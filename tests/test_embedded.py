"""The embedded EVM (issue #23, backstop.chain.revm): the same contracts in-process give Anvil's answers.

Every bundled scenario (in its CI size), the mini crash and the mini crash with traders trading during it
replay to the same report on both chains, figure
for figure and transaction for transaction (gas may be lower on revm: see backstop.chain.revm); at the chain level the same transactions get the same receipts, blocks, revert
reasons and view errors; bad input gets a one-line error.

These tests start their own Anvil nodes (backstop.chain.node) beside the one ape test runs on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backstop.chain.direct import DeployFailed, DirectDeployer
from backstop.chain.fastchain import FastChain, TransactionRefused
from backstop.chain.node import MNEMONIC, local_anvil
from backstop.chain.revm import RevmNode, mnemonic_accounts
from backstop.replay import run_replay
from backstop.units import market_id

from .impact_helpers import report_digest
from .test_fidelity import CI_SIZE
from .test_trading import BASE, EXITS, LATER, LIQUIDITY

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"
TRADING = {"population": [{**BASE, "exits": EXITS}, LATER], "markets.0.liquidity": LIQUIDITY}  # traders open and close mid-replay
CASES = {
    **{name: (SCENARIOS / f"{name}.yaml", overrides) for name, overrides in CI_SIZE.items()},
    "mini-crash": (MINI, {}),
    "mini-trading": (MINI, TRADING),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_bundled_scenario_replays_to_anvils_report(name, tmp_path):
    path, overrides = CASES[name]
    reports = {
        net: run_replay(path, tmp_path / net, network=net, progress=False, measure_raw=False, overrides=overrides)
        for net in ("anvil", "revm")
    }
    anvil, revm = reports["anvil"], reports["revm"]
    assert report_digest(revm) == report_digest(anvil)  # series, liquidations, ADL, keepers, flows, totals, failures
    # the same transactions of every action; gas as each chain charged it (backstop.chain.revm: never more on revm)
    assert {a: g["transactions"] for a, g in revm["run"]["gas"].items()} == {a: g["transactions"] for a, g in anvil["run"]["gas"].items()}
    assert all(revm["run"]["gas"][a]["gas"] <= anvil["run"]["gas"][a]["gas"] for a in anvil["run"]["gas"])
    assert revm["run"]["network"] == "revm" and anvil["run"]["network"].startswith("http://127.0.0.1:")
    assert sum(row["transactions"] for row in revm["run"]["gas"].values()) > 100
    events = [(tmp_path / net / "events.csv").read_text().count("\n") for net in ("anvil", "revm")]
    assert events[0] == events[1] > 0


# ---------------------------------------------------------------- the chain level, side by side


def _exercise(chain: FastChain, project) -> dict:
    """The same transactions on any FastChain: a deployment, transfers whose gas limit lets one into a block
    (Anvil's rule: the gas used so far plus the next limit must fit 30M), a failed transfer, a view that
    reverts and one that answers."""
    chain.set_automine(False)
    admin, *others = mnemonic_accounts(MNEMONIC, 6)  # Anvil's first test accounts
    deployer = DirectDeployer(chain, chain.wallet(admin))
    usdc = deployer.deploy(project.MockUSDC, deployer)
    oracle = deployer.deploy(project.PriceOracle, deployer)
    usdc.mint(deployer, 10**12, sender=deployer)
    bob = "0x" + "b0" * 20
    senders = [chain.wallet(a) for a in others]
    for wallet, gas in zip(senders, (100_000, 29_990_000, 100_000, 29_990_000, 100_000)):
        chain.send(wallet, usdc.address, chain.encode(usdc.web3, "transfer", [bob, 0]), "transfer", gas=gas)
    chain.send(deployer.wallet, usdc.address, chain.encode(usdc.web3, "transfer", [bob, 7]), "transfer", gas=100_000)
    chain.send(deployer.wallet, usdc.address, chain.encode(usdc.web3, "transfer", [bob, 10**15]), "too much", gas=100_000)
    start = chain.last_timestamp + 100
    mined = chain.mine(start)
    heads = sorted({r["blockNumber"] for _, r in mined})
    return {
        "receipts": [(s.label, r["status"], r["gasUsed"], r["blockNumber"] - heads[0], len(r["logs"])) for s, r in mined],
        "times": [chain.block_times[b] - start for b in heads],
        "reason": chain.revert_reason(mined[-1][0].tx_hash),
        "view_error": chain.call_error(oracle.web3, "price", [market_id("NOPE-USD")]),
        "balance": chain.view([(usdc.web3, "balanceOf", [bob])])[0],
        "addresses": (usdc.address, oracle.address),
    }


def test_the_same_transactions_get_the_same_receipts_blocks_and_errors(project):
    embedded = _exercise(FastChain.embedded(RevmNode(MNEMONIC)), project)
    with local_anvil() as anvil:
        on_anvil = _exercise(FastChain.connect(anvil.uri), project)
    strip = lambda receipts: [(label, status, block, logs) for label, status, _gas, block, logs in receipts]  # noqa: E731
    assert strip(embedded["receipts"]) == strip(on_anvil["receipts"])
    assert {k: v for k, v in embedded.items() if k != "receipts"} == {k: v for k, v in on_anvil.items() if k != "receipts"}
    # the gas used plus a transaction's 29.99M limit does not fit 30M: it waits for a block of its own
    assert [block for *_, block, _ in embedded["receipts"]] == [0, 1, 0, 2, 0, 0, 0]
    assert embedded["times"] == [0, 1, 2]
    assert embedded["receipts"][-1][1] == 0 and embedded["reason"].startswith("ERC20InsufficientBalance(")
    assert embedded["view_error"].startswith("UnknownMarket(")  # a view's custom error, by name (Ape cannot)
    assert embedded["balance"] == 7
    # gas: the first touch of a slot costs the same; pyrevm keeps it warm for later transactions (never more gas)
    gas = [(e[2], a[2]) for e, a in zip(embedded["receipts"], on_anvil["receipts"])]
    assert gas[0][0] == gas[0][1] and all(e <= a for e, a in gas) and any(e < a for e, a in gas)


# ---------------------------------------------------------------- bad input, one line each


def test_a_transaction_with_a_used_nonce_is_refused_by_name():
    node = RevmNode(MNEMONIC, accounts=1)
    chain = FastChain.embedded(node)
    chain.set_automine(False)
    wallet = chain.wallet(node.test_accounts[0])
    chain.send(wallet, "0x" + "11" * 20, b"")
    chain.mine()
    wallet.nonce = 0
    chain.send(wallet, "0x" + "11" * 20, b"", label="replayed")
    with pytest.raises(TransactionRefused, match=r"refused transaction 'replayed': nonce too low: 0, expected 1"):
        chain.flush()


def test_a_method_the_embedded_evm_does_not_serve_is_named():
    answer = RevmNode(MNEMONIC, accounts=1).post({"jsonrpc": "2.0", "id": 7, "method": "eth_getProof", "params": []})
    assert answer["id"] == 7 and "eth_getProof is not served by the embedded EVM" in answer["error"]["message"]


def test_a_deployment_that_reverts_names_its_reason(project):
    node = RevmNode(MNEMONIC, accounts=1)
    chain = FastChain.embedded(node)
    chain.set_automine(False)
    deployer = DirectDeployer(chain, chain.wallet(node.test_accounts[0]))
    usdc = deployer.deploy(project.MockUSDC, deployer)
    with pytest.raises(DeployFailed, match=r"MockUSDC.transfer failed: ERC20InsufficientBalance\("):
        usdc.transfer("0x" + "22" * 20, 1, sender=deployer)


def test_cli_replays_on_the_embedded_evm(tmp_path):
    from backstop.cli import main

    result = CliRunner(mix_stderr=False).invoke(main, ["replay", str(MINI), "--network", "revm", "--out", str(tmp_path / "r"), "--no-progress"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "liquidations" in result.output and "raw embedded EVM" in result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["run"]["network"] == "revm" and report["run"]["complete"]
