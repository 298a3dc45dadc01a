"""The benchmark's results file (backstop.bench.results): schema, targets from given figures, validation, Markdown.

Pure Python: no chain, no benchmark run. Run alone with
``PYTHONPATH=$PWD .venv/bin/python -m pytest tests/test_bench.py -q -p no:ape_test``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

from backstop.bench.results import (
    RESULTS_SCHEMA,
    Figure,
    GasFigure,
    Results,
    compute_targets,
    machine,
    render_markdown,
    validate_results,
    write_results,
)

ROOT = Path(__file__).resolve().parent.parent


def _results(
    auction: int = 672_682, packed: int = 329_483, adl: tuple[int, int] = (144_594, 146_000), ratio: float | None = 0.086, many: int = 155_741
) -> Results:
    gas = [
        GasFigure("deposit", 48_798, "existing free balance"),
        GasFigure("liquidation through the auction (start + full take)", auction, "", key="liquidation_auction_full"),
        GasFigure("liquidation: filled by a standing bid, 60 in one block (each)", packed, "", key="liquidation_standing_bid_batched"),
        GasFigure("liquidation: filled by a standing bid, 50 in one liquidateMany (each)", many, "", key="liquidation_standing_bid_liquidate_many"),
        GasFigure("ADL: each extra counterparty, 10 positions", adl[0], "", key="adl_per_counterparty@10"),
        GasFigure("ADL: each extra counterparty, 10,000 positions", adl[1], "", key="adl_per_counterparty@10000"),
        GasFigure("ADL: each extra counterparty, 100 positions", 1, "", key="adl_per_counterparty@100"),
    ]
    figures = [
        Figure("compile_seconds", "compile every contract from scratch", 18.1, "s", "ape compile --force"),
        Figure("liquidations_per_block_packed", "liquidations per 30M-gas block, best batched form", 91, "liquidations", "ape run bench"),
    ]
    if ratio is not None:
        figures.append(Figure("replay_throughput_ratio", "OM: replay / raw Anvil throughput", ratio, "ratio", "backstop replay scenarios/om-2025.yaml"))
    return Results("ape run bench", "2026-11-25T16:00:00+00:00", {"cores": 2, "memory_gib": 23.5, "platform": "Linux", "python": "3.11"}, gas, figures)


def _by_key(results: Results) -> dict[str, dict]:
    return {t["key"]: t for t in results.record()["targets"]}


def test_record_has_every_field_and_validates() -> None:
    record = _results().record()
    assert set(record) == {"schema", "command", "date", "machine", "quick", "targets", "figures", "gas"}
    assert record["schema"] == RESULTS_SCHEMA
    assert [t["key"] for t in record["targets"]] == ["auction_liquidation", "standing_bid_liquidation", "liquidate_many", "adl_flat", "replay_throughput", "embedded_speedup"]
    assert validate_results(record) == []
    assert validate_results(json.loads(json.dumps(record))) == []


def test_targets_not_met() -> None:
    # the ADL market of 100 positions (gas 1) is neither the smallest nor the largest: it does not count
    t = _by_key(_results(adl=(100_000, 120_000)))
    assert (t["auction_liquidation"]["measured"], t["auction_liquidation"]["met"]) == (672_682, False)
    assert (t["standing_bid_liquidation"]["measured"], t["standing_bid_liquidation"]["met"]) == (329_483, False)
    assert (t["liquidate_many"]["measured"], t["liquidate_many"]["met"]) == (155_741, False)
    assert (t["adl_flat"]["measured"], t["adl_flat"]["met"]) == (1.2, False)
    assert "10,000 / 10 positions" in t["adl_flat"]["basis"]
    assert (t["replay_throughput"]["measured"], t["replay_throughput"]["met"]) == (0.086, False)
    assert _by_key(_results(adl=(100_000, 89_000)))["adl_flat"]["met"] is False  # too far below is not flat either


def _issue_10(results: Results) -> dict[str, dict]:
    """The targets of issues #10 and #19 (the embedded EVM's has its own test below)."""
    return {k: t for k, t in _by_key(results).items() if k != "embedded_speedup"}


def test_targets_met_including_the_bounds() -> None:
    t = _issue_10(_results(auction=200_000, packed=100_000, adl=(100_000, 110_000), ratio=0.5, many=40_000))
    assert len(t) == 5 and all(x["met"] is True for x in t.values()), t
    t = _issue_10(_results(auction=150_000, packed=61_000, adl=(100_000, 90_000), ratio=0.9, many=30_000))
    assert all(x["met"] is True for x in t.values()), t
    t = _issue_10(_results(auction=200_001, packed=100_001, adl=(100_000, 110_001), ratio=0.499, many=40_001))
    assert not any(x["met"] for x in t.values()), t


def test_a_figure_missing_from_the_run_is_not_measured() -> None:
    r = _results(ratio=None)
    r.gas = [g for g in r.gas if not g.key.startswith("adl") and g.key != "liquidation_auction_full"]
    t = _by_key(r)
    for key in ("auction_liquidation", "adl_flat", "replay_throughput", "embedded_speedup"):
        assert (t[key]["measured"], t[key]["met"]) == (None, None), key
    assert t["standing_bid_liquidation"]["met"] is False
    assert validate_results(r.record()) == []
    assert "not measured" in render_markdown(r.record())


def _embedded(speedup: float, differing: int) -> dict:
    r = _results()
    r.figures += [
        Figure("om_embedded_speedup", "OM time loop, Anvil / embedded EVM (same run)", speedup, "ratio", "backstop replay ...; backstop replay ... --network revm"),
        Figure("om_embedded_differences", "parts of the OM report that differ", differing, "parts", "backstop replay ..."),
    ]
    return _by_key(r)["embedded_speedup"]


def test_embedded_target_needs_the_speedup_and_equal_reports() -> None:
    assert _embedded(10.0, 0)["met"] is True  # the bound itself
    assert _embedded(9.99, 0)["met"] is False
    assert _embedded(25.0, 1)["met"] is False  # faster but answering differently meets nothing
    t = _by_key(_results())["embedded_speedup"]
    assert t["met"] is None and t["measured"] is None  # --quick: not measured


def test_step_cost_figures_per_size_and_backend() -> None:
    from backstop.bench.backends import StepCost, step_cost_figures  # noqa: PLC0415

    costs = [StepCost(1_000, "anvil", 31, 93, 1.054, 21.5, "a"), StepCost(1_000, "revm", 31, 93, 0.18, 10.5, "b"),
             StepCost(10_000, "anvil", 31, 93, 8.087, 127.2, "c")]
    by = {f.key: f for f in step_cost_figures(costs)}
    assert by["step_ms_anvil@1000"].value == 34.0 and by["step_ms_revm@1000"].value == 5.8
    assert by["step_speedup@1000"].value == round(34.0 / 5.806, 2) == 5.86
    assert by["step_ms_anvil@10000"].value == 260.9
    assert "step_speedup@10000" not in by and "step_ms_revm@10000" not in by  # nothing measured, nothing claimed
    assert StepCost(1, "revm", 0, 0, 1.0, 1.0, "x").ms_per_step == 0.0


def test_validator_finds_missing_fields_wrong_types_and_forged_targets() -> None:
    record = _results().record()
    broken = {k: v for k, v in record.items() if k != "machine"}
    assert validate_results(broken) == ["missing field 'machine'"]
    forged = copy.deepcopy(record)
    forged["targets"][0]["met"] = True
    assert validate_results(forged) == ["targets do not follow from the figures"]
    typed = copy.deepcopy(record)
    typed["gas"][0]["gas"] = "48798"
    del typed["figures"][0]["command"]
    assert validate_results(typed) == ["gas[0].gas is not <class 'int'>", "figures[0] has no 'command'"]
    dated = copy.deepcopy(record)
    dated["date"] = "yesterday"
    dated["schema"] = 1
    assert validate_results(dated) == [f"schema 1 is not {RESULTS_SCHEMA}", "date 'yesterday' is not ISO 8601"]


def test_markdown_shows_every_figure_target_and_the_provenance() -> None:
    record = _results().record()
    md = render_markdown(record)
    assert "`ape run bench`" in md and "2026-11-25T16:00:00+00:00" in md and "2 cores, 23.5 GiB" in md
    for g in record["gas"]:
        assert f"| {g['operation']} | {g['gas']:,} |" in md
    assert "| compile every contract from scratch | 18.1 | s |" in md
    assert "| liquidations per 30M-gas block, best batched form | 91 | liquidations |" in md
    assert "| OM: replay / raw Anvil throughput | 0.086 | ratio |" in md
    for t in record["targets"]:
        assert f"| {t['name']} | {t['rule']} |" in md
    assert md.count("**not met**") == 4 and "| met |" in md  # the ADL figures given are flat
    assert "load average" not in md
    record["machine"].update(load_avg_1m_start=2.15, load_avg_1m_end=3.4)
    assert "load average 2.15 at the start, 3.4 at the end" in render_markdown(record)


def test_write_results_writes_json_and_markdown_and_refuses_invalid(tmp_path: Path) -> None:
    out = write_results(_results(), tmp_path / "b" / "results.json")
    record = json.loads(out.read_text())
    assert validate_results(record) == []
    assert (tmp_path / "b" / "results.md").read_text() == render_markdown(record)
    bad = _results()
    bad.figures[0] = replace(bad.figures[0], value="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="figures"):
        write_results(bad, tmp_path / "c" / "results.json")
    assert not (tmp_path / "c").exists()


def test_machine_reports_cores_and_memory() -> None:
    m = machine()
    assert isinstance(m["cores"], int) and m["cores"] >= 1
    assert m["memory_gib"] is None or m["memory_gib"] > 0


def test_committed_results_validate_and_the_readme_shows_them() -> None:
    """benchmarks/results.json is a valid record of a full run; results.md and the README's tables come from it."""
    record = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert validate_results(record) == []
    assert not record["quick"]
    md = render_markdown(record)
    assert (ROOT / "benchmarks" / "results.md").read_text() == md
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    missing = [line for line in rows if line not in readme]
    assert not missing, f"README lacks {len(missing)} rows of benchmarks/results.md, e.g. {missing[:2]}"


def test_targets_depend_only_on_the_figures() -> None:
    r = _results()
    assert [t.met for t in compute_targets(r.gas, r.figures)] == [t["met"] for t in r.record()["targets"]]


# --------------------------------------------------------------------------- the gas snapshot (issue #19)


def test_gas_check_fails_above_one_percent_and_on_unnamed_operations() -> None:
    from backstop.bench.snapshot import compare

    snap = {"trade": 100_000, "poke": 75_000, "liquidate": 330_000}
    assert compare(snap, {"trade": 101_000, "poke": 75_000, "liquidate": 300_000}).ok  # +1.0% is allowed
    worse = compare(snap, {"trade": 101_001, "poke": 75_000, "liquidate": 330_000})
    assert not worse.ok and worse.regressions == [("trade", 100_000, 101_001)]
    assert "trade: 101,001 gas, +1.00% against the snapshot's 100,000" in worse.problems()[0]
    better = compare(snap, {"trade": 90_000, "poke": 75_000, "liquidate": 330_000})
    assert better.ok and better.improvements == [("trade", 100_000, 90_000)]
    renamed = compare(snap, {"trade": 100_000, "poke (3 sources)": 75_000, "liquidate": 330_000})
    assert not renamed.ok and renamed.new == [("poke (3 sources)", 75_000)] and renamed.missing == [("poke", 75_000)]


def test_the_committed_gas_snapshot_reads_and_bad_ones_are_named(tmp_path: Path) -> None:
    from backstop.bench.snapshot import read_snapshot, render, write_snapshot

    committed = read_snapshot(Path(__file__).resolve().parent.parent / "snapshots" / "gas.json")
    assert committed["liquidation through the auction (start + full take)"] > 0 and len(committed) >= 20
    path = write_snapshot({"a": 1, "b": 2}, "test", tmp_path / "gas.json")
    assert read_snapshot(path) == {"a": 1, "b": 2}
    assert "| b | 2 | 3 | +50.00% |" in render({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) and "| c |  | 4 | new |" in render({}, {"c": 4})
    with pytest.raises(ValueError, match="no gas snapshot"):
        read_snapshot(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"operations": {"a": "many"}}')
    with pytest.raises(ValueError, match="bad.json: not a gas snapshot"):
        read_snapshot(tmp_path / "bad.json")
