"""Keepers that batch their liquidations (issue #19, `keepers[i].batch`): the liquidations they start at one second
in one market go in one `liquidateMany`. The decisions do not change, so neither does the report; a trader the
batch skips leaves its pending mark and is counted by the revert's name. On the embedded EVM."""

from pathlib import Path

from backstop.replay import batches as batches_module
from backstop.replay import run_replay
from backstop.report import reconcile, validate_report

from .impact_helpers import report_digest

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"


def keepers(batch: bool) -> list[dict]:
    return [{"name": "fast", "count": 2, "capital": 200_000, "latency": 0, "take_discount_bps": 100, "batch": batch}]


def replay(tmp_path: Path, name: str, batch: bool) -> dict:
    report = run_replay(MINI, tmp_path / name, network="revm", progress=False, measure_raw=False,
                        overrides={"keepers": keepers(batch), "population.0.count": 120})
    assert validate_report(report) == [] and reconcile(report) == []
    return report


def test_batching_liquidations_changes_the_transactions_not_the_answer(tmp_path):
    single, batched = replay(tmp_path, "single", False), replay(tmp_path, "batched", True)
    assert report_digest(batched) == report_digest(single)  # every figure, every failure, every step
    one, many = single["run"]["gas"], batched["run"]["gas"]
    assert "liquidateMany" not in one and "liquidate" not in many
    assert many["liquidateMany"]["transactions"] < one["liquidate"]["transactions"] == single["totals"]["liquidations"]


def test_a_trader_the_batch_skips_is_released_and_counted(tmp_path, monkeypatch):
    """Each batch also names a trader who is not liquidatable (the market maker): it is skipped, its pending mark
    is dropped, the batch's other liquidations go through, and the report counts the skip by its reason."""
    original = batches_module._sender

    def with_a_stranger(ctx, k, keys, cascade, t):
        stranger = (keys[0][0], ctx.mms[keys[0][0]][0][0].address)
        return original(ctx, k, (*keys, stranger), lambda key, t: None if key == stranger else cascade(key, t), t)

    monkeypatch.setattr(batches_module, "_sender", with_a_stranger)
    report = replay(tmp_path, "stranger", True)
    skipped = report["run"]["failed_transactions"].get("liquidateMany skipped: NotLiquidatable", 0)
    assert skipped == report["run"]["gas"]["liquidateMany"]["transactions"] > 0
    assert report["totals"]["liquidations"] == replay(tmp_path, "plain", True)["totals"]["liquidations"]
