"""Block space (issue #19): a replay's blocks hold the scenario's `chain.block_gas_limit`, one every
`chain.block_time` seconds; what does not fit waits, and the report's `settlement` says who waited how long.
Packing rules on their own (backstop.chain.blockspace), then replays of the mini crash on the embedded EVM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from backstop.chain.blockspace import FIRST_GUESS, BlockSpace, summary
from backstop.replay import run_replay
from backstop.report import reconcile, validate_report
from backstop.report.markdown import render_markdown

from .impact_helpers import report_digest
from .test_scenario import rejects_change

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"


@dataclass
class Tx:
    label: str
    sender: str
    items: int = 1
    offered_at: int | None = None
    tx_hash: bytes = b""


# ------------------------------------------------------------------------------------------- packing


def test_a_block_takes_transactions_in_order_until_the_next_would_not_fit():
    space = BlockSpace(1_000_000, 2)
    txs = [Tx("liquidate:a", "a"), Tx("liquidate:b", "b"), Tx("liquidate:c", "c")]  # 450k each, first guess
    now, later = space.fill(txs, 100)
    assert now == txs[:2] and later == txs[2:]
    assert [t.offered_at for t in txs] == [100, 100, 100]  # a wait counts from the first block offered
    assert (space.blocks[-1].expected_gas, space.blocks[-1].waiting) == (2 * FIRST_GUESS["liquidate"], 1)
    now, later = space.fill(later, 102)
    assert now == txs[2:] and later == [] and txs[2].offered_at == 100


def test_a_waiting_sender_sends_nothing_after_it_and_the_world_takes_no_space():
    space = BlockSpace(1_200_000, 2, exempt={"world"})
    t1, t2 = Tx("liquidate:c", "c"), Tx("take:a", "a")  # 450k + 360k
    t3 = Tx("liquidate:a", "a")  # 450k more would overflow: it waits
    t4 = Tx("redo:a", "a")  # 200k would fit, but a's earlier transaction waits (nonce order)
    t5 = Tx("redo:b", "b")  # fits
    prices = [Tx("price", "world") for _ in range(50)]
    now, later = space.fill([t1, t2, t3, t4, t5, *prices], 10)
    assert now == [t1, t2, t5, *prices] and later == [t3, t4]
    assert space.blocks[-1].expected_gas == 450_000 + 360_000 + 200_000  # the world's transactions count for nothing


def test_a_transaction_bigger_than_a_block_gets_one_of_its_own():
    space = BlockSpace(1_000_000, 2)
    batch = Tx("liquidateMany:a", "a", items=40)  # 40 x 450k expected
    after = Tx("take:b", "b")
    now, later = space.fill([batch, after], 5)
    assert now == [batch] and later == [after]


def test_the_expected_gas_is_what_the_last_receipt_of_the_kind_used_per_item():
    space = BlockSpace(30_000_000, 2)
    batch = Tx("liquidateMany:k", "k", items=10, offered_at=4)
    space.record(batch, {"gasUsed": 790_001}, 6)
    assert space.learned["liquidateMany"] == 79_001  # rounded up per liquidation
    assert space.expected(Tx("liquidateMany:j", "j", items=3)) == 3 * 79_001
    assert space.expected(Tx("something-new", "z")) > 0
    report = summary(space)
    assert (report["liquidations"], report["liquidations_waited"], report["longest_wait_s"]) == (10, 10, 2)
    assert [(w["over_s"], w["up_to_s"], w["liquidations"]) for w in report["waits"]][:2] == [(0, 2, 10), (2, 10, 0)]
    assert report["waits"][-1]["up_to_s"] is None


def test_chain_fields_out_of_range_are_refused_by_name(tmp_path):
    rejects_change(tmp_path, lambda d: d.update(chain={"block_gas_limit": 999_999}), "chain.block_gas_limit", "a value >= 1000000 (got 999999)")
    rejects_change(tmp_path, lambda d: d.update(chain={"block_time": 0}), "chain.block_time", "a value >= 1 (got 0)")
    rejects_change(tmp_path, lambda d: d.update(chain={"block_gas": 30_000_000}), "chain.block_gas", "")


# ------------------------------------------------------------------------------------------- replays


def replay(tmp_path: Path, name: str, **chain) -> dict:
    overrides = {"population.0.count": 120, **{f"chain.{k}": v for k, v in chain.items()}}
    report = run_replay(MINI, tmp_path / name, network="revm", progress=False, measure_raw=False, overrides=overrides)
    assert validate_report(report) == [] and reconcile(report) == []
    return report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blockspace")
    return {
        "default": replay(tmp, "default"),
        "ample": replay(tmp, "ample", block_gas_limit=10**9),
        "tight": replay(tmp, "tight", block_gas_limit=1_000_000, block_time=12),
    }


def test_blocks_with_room_change_nothing(runs):
    default, ample = runs["default"], runs["ample"]
    assert report_digest(default) == report_digest(ample)
    s = default["settlement"]
    assert (s["block_gas_limit"], s["block_time"]) == (30_000_000, 2)
    assert s["liquidations"] == default["totals"]["liquidations"] > 0
    assert (s["liquidations_waited"], s["transactions_waited"], s["full_blocks"]) == (0, 0, 0)
    assert 0 < s["peak_block_gas"] <= 30_000_000
    assert "None of the" in render_markdown(default)


def test_full_blocks_make_liquidations_wait_and_the_report_says_how_long(runs):
    ample, tight = runs["ample"], runs["tight"]
    s = tight["settlement"]
    assert s["full_blocks"] > 0 and s["liquidations_waited"] > 0
    assert s["longest_wait_s"] >= 12  # at least one block later
    assert sum(w["liquidations"] for w in s["waits"]) == s["liquidations_waited"]
    assert s["liquidations"] == tight["totals"]["liquidations"]  # every liquidation sent was mined in the end
    # waiting moves the liquidations later in the crash
    mean_t = lambda r: sum(x["t"] for x in r["liquidations"]) / len(r["liquidations"])  # noqa: E731
    assert mean_t(tight) > mean_t(ample)
    assert report_digest(tight) != report_digest(ample)
    md = render_markdown(tight)
    assert "## Settlement capacity" in md and f"{s['liquidations_waited']:,} of the" in md


def test_a_batching_keeper_sizes_its_batches_to_the_block(tmp_path):
    from types import SimpleNamespace

    from backstop.replay.batches import BATCH_LIMIT, batch_size

    space = BlockSpace(1_000_000, 12)
    ctx = SimpleNamespace(chain=SimpleNamespace(space=space))
    assert batch_size(ctx) == 1_000_000 // FIRST_GUESS["liquidateMany"] == 2
    space.learned["liquidateMany"] = 80_000
    assert batch_size(ctx) == 12
    space.learned["liquidateMany"] = 2_000_000  # bigger than a block: one liquidation a batch
    assert batch_size(ctx) == 1
    assert batch_size(SimpleNamespace(chain=SimpleNamespace(space=None))) == BATCH_LIMIT

    keepers = [{"name": "fast", "count": 2, "capital": 200_000, "latency": 0, "take_discount_bps": 100, "batch": True}]
    report = run_replay(MINI, tmp_path / "batched", network="revm", progress=False, measure_raw=False,
                        overrides={"population.0.count": 120, "keepers": keepers, "chain.block_gas_limit": 1_000_000, "chain.block_time": 12})
    assert validate_report(report) == [] and reconcile(report) == []
    # batched on small blocks, every liquidation sent is mined, in batches whose size fits a block
    assert report["settlement"]["liquidations"] == report["totals"]["liquidations"] > 0
    assert report["run"]["gas"]["liquidateMany"]["transactions"] > 0 and "liquidate" not in report["run"]["gas"]


def test_the_cli_says_when_liquidations_waited_for_block_space(tmp_path):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    args = [sys.executable, "-m", "backstop.cli", "replay", str(MINI), "--network", "revm", "--out", str(tmp_path / "cli"), "--no-progress",
            "--set", "population.0.count=120", "--set", "chain.block_gas_limit=1000000", "--set", "chain.block_time=12"]
    result = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("block space: "))
    assert "liquidations waited for a block" in line and "full blocks of 1,000,000 gas" in line
