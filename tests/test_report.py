"""Replay reports (backstop.report): files, determinism, Markdown content, empty and partial runs, validation.

Pure Python: no chain, no Ape fixtures. Run alone with
``PYTHONPATH=$PWD .venv/bin/python -m pytest tests/test_report.py -q -p no:ape``.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

from backstop.report import (
    SCHEMA_VERSION,
    Report,
    fmt_price,
    fmt_usd,
    fund_risk_words,
    hourly_rows,
    render_markdown,
    rolling_peak,
    schema_markdown,
    validate_report,
    write_report,
)
from backstop.report.charts import TimeAxis, crash_window, pyplot, usd_axis
from backstop.report.reconcile import reconcile
from backstop.report.schema import Throughput, Totals
from backstop.report.schema_docs import generated_block

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STEP = 300  # [seconds]
STEPS = 120  # 10 hours
MARKETS = {"OM-USD": 6.0, "ETH-USD": 1600.0}
START = datetime(2025, 4, 13, 18, 0, tzinfo=timezone.utc)
TRADER = "0x" + "ab" * 20
FUND = "0x" + "fd" * 20


def _series() -> list[dict]:
    series = []
    global_pool = 1_000_000.0
    pools = {m: 200_000.0 for m in MARKETS}
    peaks = dict(pools)
    for i in range(STEPS):
        t = i * STEP
        crash = max(0.0, min(1.0, (i - 40) / 30))  # OM falls 90% between steps 40 and 70
        markets = {}
        for name, p0 in MARKETS.items():
            drop = 0.9 * crash if name == "OM-USD" else 0.1 * crash
            mid = p0 * (1 - drop)
            if 50 <= i < 80:
                pools[name] = max(0.0, pools[name] - (4_000.0 if name == "OM-USD" else 500.0))
            peaks[name] = max(peaks[name], pools[name])
            threshold = 0.7 * peaks[name]
            flags = (1 if pools[name] <= threshold else 0) | (4 if global_pool <= 900_000 else 0)
            markets[name] = {
                "oracle": None if (name == "OM-USD" and i == 60) else mid,
                "venues": {"venue-a": mid * 1.001, "venue-b": mid * 0.999, "venue-c": mid * (0.97 if i == 55 else 1.0)},
                "sub_pool": pools[name],
                "peak_8h": peaks[name],
                "fund_risk": flags,
                "open_interest": 5_000_000.0 * (1 - drop),
                "liquidity_risk": 50 <= i < 60,
                "drawdown_threshold": threshold,
            }
        if 70 <= i < 90:
            global_pool -= 6_000.0
        series.append(
            {"t": t, "time": (START + timedelta(seconds=t)).isoformat(), "global_pool": global_pool, "markets": markets}
        )
    return series


def _liquidation(lid: int, t: int, filled_by: str, notional: float, shortfall: float = 0.0) -> dict:
    fills = []
    if filled_by in ("standing_bid", "mixed"):
        fills.append({"t": t, "keeper": "keeper-1", "qty": 100.0, "price": 0.6, "via": "standing_bid"})
    if filled_by in ("auction", "mixed"):
        fills.append({"t": t + 60, "keeper": "keeper-2", "qty": 50.0, "price": 0.55, "via": "auction"})
    return {
        "id": lid,
        "t": t,
        "market": "OM-USD" if lid % 2 else "ETH-USD",
        "trader": TRADER,
        "side": "long" if lid % 3 else "short",
        "size": 150.0,
        "notional": notional,
        "mark": 0.6123,
        "filled_by": filled_by,
        "fills": fills,
        "restarts": 1 if filled_by == "auction" else 0,
        "shortfall": shortfall,
        "penalty": notional * 0.01,
        "returned": 0.0,
    }


def _flow(pool: str, start: float, inflows: dict, outflows: dict, end: float) -> dict:
    return {"pool": pool, "start": start, "inflows": inflows, "outflows": outflows, "end": end, "end_on_chain": end, "difference": 0.0}


def synthetic_report() -> dict:
    """120 five-minute steps (10 hours), two markets, 11 liquidations of every kind, 3 ADL events."""
    kinds = ["standing_bid"] * 4 + ["auction"] * 3 + ["mixed"] * 2 + ["unfilled"] * 2
    liquidations = [
        _liquidation(i + 1, (45 + 3 * i) * STEP + 30, kind, 10_000.0 * (i + 1), 500.0 if kind == "unfilled" else 0.0)
        for i, kind in enumerate(kinds)
    ]
    adl = [
        {"t": 80 * STEP, "market": "OM-USD", "bankrupt": TRADER, "counterparty": f"short-{r}", "rank": r,
         "size": 1_000.0 * r, "price": 0.5, "profit_taken": 2_500.0 / r, "reason": "fund depleted"}
        for r in (1, 2, 3)
    ]
    return {
        "schema": 1,
        "scenario": {
            "name": "OM crash, 13-14 April 2025",
            "file": "scenarios/om-2025-04-13.yaml",
            "sha256": "f" * 64,
            "description": "OM fell about 90% in under two hours.",
            "sources": ["https://example.org/om-candles", "Binance OMUSDT 1m klines"],
            "synthetic": ["venue-c's quote at +4:35 (no data)", "trader book of 500 accounts"],
            "seed": 42,
        },
        "parameters": {"fund": {"drawdown_bps": 7000, "seed_usd": 200000}, "keepers": ["k1", "k2"], "step_s": STEP},
        "run": {"network": "ethereum:local:foundry", "started_at": "2025-06-01T10:00:00+00:00", "wall_seconds": 12.5,
                "steps": STEPS, "complete": True, "error": None},
        "series": _series(),
        "liquidations": liquidations,
        "adl": adl,
        "totals": {
            "liquidations": 11, "liquidated_notional": 1_234_567.891, "filled_by_standing_bids": 4,
            "filled_by_auction": 3, "partially_filled": 0, "unfilled": 2, "queued_at_end": 0, "restarts": 3, "penalties": 6_600.0, "keeper_incentives": 123.456,
            "shortfall": 171_876.544, "fund_used": 172_000.0, "bad_debt": 0.0, "negative_equity": 2_500.0, "fund_start": 1_400_000.0,
            "fund_end": 1_234_600.0, "peak_drawdown_pct": 42.5, "adl_notional": 3_000.0, "adl_filled": 1, "adl_victims": 3,
            "adl_profit_taken": 450.0, "profit_haircut_beyond_need": -0.001,
        },
        "fund_flows": [_flow("global", 1_000_000.0, {}, {"shortfalls_covered": 150_000.0}, 850_000.0),
                       _flow("ETH-USD", 200_000.0, {}, {}, 200_000.0),
                       _flow("OM-USD", 200_000.0, {"liquidation_penalties": 6_600.0},
                             {"shortfalls_covered": 21_876.544, "kick_incentives": 100.0, "restart_incentives": 23.456}, 184_600.0)],
        "published": [{"figure": "OM liquidations, all exchanges", "metric": "liquidated_notional", "low": 67e6, "high": 76e6,
                       "source": "Coinglass", "note": "every exchange, 12-24 h", "replayed": 1_234_567.891,
                       "gap": 1_234_567.891 - 67e6, "ratio": round(1_234_567.891 / 71.5e6, 6)}],
        "throughput": {"transactions": 12_345, "seconds": 10.0, "tx_per_s": 1_234.5, "raw_anvil_tx_per_s": 2_469.0,
                       "ratio": 0.5},
        "buffers": [{"t": 600, "market": "OM-USD", "drop_bps": 1200, "until_t": 1320}],
        "keepers": [{"name": "k1", "liquidations": 5, "takes": 7, "restarts": 1, "online_steps": 100, "capital": 1e5,
                     "address": "0x" + "0b" * 20, "incentives": 123.456, "bought_notional": 45_000.0, "pnl": -1_234.5, "capital_used": 31_250.0}],
        "mark_to_market": [
            {"kind": "trader", "positions": 3, "notional": 90_000.0, "unrealised_pnl": -4_000.0, "negative_equity": 2_500.0, "underwater": 1},
            {"kind": "bidder", "positions": 1, "notional": 10_000.0, "unrealised_pnl": 0.0, "negative_equity": 0.0, "underwater": 0},
        ],
    }


@pytest.fixture
def report() -> dict:
    return synthetic_report()


def _events() -> list[dict]:
    return [
        {"block": 10, "timestamp": 1744588800, "t": -60, "tx": "0x" + "01" * 32, "log_index": 0, "address": FUND,
         "contract": "InsuranceFund", "event": "Inflow", "args": {"pool": b"\x00" * 2, "amount": 10**12, "kind": 1}},
        {"block": 11, "timestamp": 1744588801, "t": -59, "tx": "0x" + "02" * 32, "log_index": 3, "address": "0x" + "cd" * 20,
         "contract": "Clearinghouse", "event": "ShortfallSettled", "args": {"market": "OM-USD", "amount": 5}},
    ]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _section(md: str, title: str) -> str:
    """The text of a `## title` section, up to the next `## ` heading."""
    start = md.index(f"## {title}\n")
    end = md.find("\n## ", start + 1)
    return md[start : end if end != -1 else len(md)]


def _table_rows(section: str) -> list[str]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return rows[2:]  # header and alignment row


# ------------------------------------------------------------------------------------------------ files


def test_fixture_is_valid(report):
    assert validate_report(report) == []


def test_write_report_writes_every_file(report, tmp_path):
    paths = write_report(report, tmp_path / "out", events=_events())
    expected = {"json": "report.json", "markdown": "report.md", "events": "events.csv", "prices": "prices.png",
                "fund": "fund.png", "liquidations": "liquidations.png", "adl": "adl.png", "market": "market.png"}
    assert {k: p.name for k, p in paths.items()} == expected
    for path in paths.values():
        assert path.parent == tmp_path / "out"
        assert path.stat().st_size > 0, path.name
    for key in ("prices", "fund", "liquidations", "adl", "market"):
        width, height = _png_size(paths[key])
        assert width >= 600 and height >= 300, (key, width, height)
        assert paths[key].stat().st_size > 10_000, key  # a drawn chart, not a blank image


def test_events_csv_is_absent_without_events(report, tmp_path):
    paths = write_report(report, tmp_path)
    assert "events" not in paths
    assert not (tmp_path / "events.csv").exists()


def test_events_csv_columns_and_args(report, tmp_path):
    paths = write_report(report, tmp_path, events=_events())
    text = paths["events"].read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["block", "timestamp", "t", "tx", "log_index", "address", "contract", "event", "args"]
    assert rows[1][:8] == ["10", "1744588800", "-60", "0x" + "01" * 32, "0", FUND, "InsuranceFund", "Inflow"]
    assert json.loads(rows[1][8]) == {"amount": 10**12, "kind": 1, "pool": "0x0000"}
    assert rows[2][7] == "ShortfallSettled"
    assert len(rows) == 3
    write_report(report, tmp_path / "again", events=_events())
    assert (tmp_path / "again" / "events.csv").read_bytes() == paths["events"].read_bytes()


def test_report_json_round_trips_and_is_byte_identical(report, tmp_path):
    a = write_report(report, tmp_path / "a")["json"]
    shuffled = dict(reversed(list(copy.deepcopy(report).items())))  # same dict, other key order
    b = write_report(shuffled, tmp_path / "b")["json"]
    assert json.loads(a.read_text()) == report
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text()
    assert text.endswith("}\n") and '\n  "adl": [' in text  # indent 2, sorted: adl first
    assert text.index('"adl"') < text.index('"liquidations"') < text.index('"totals"')


def test_write_report_refuses_nan_before_writing(report, tmp_path):
    report["totals"]["shortfall"] = math.nan
    assert any("totals.shortfall" in p and "finite" in p for p in validate_report(report))
    with pytest.raises(ValueError, match="strict JSON"):
        write_report(report, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------- Markdown


def test_markdown_header_sources_and_synthetic(report):
    md = render_markdown(report)
    assert md.startswith("# Backstop replay: OM crash, 13-14 April 2025\n")
    assert "- Binance OMUSDT 1m klines" in md
    synthetic = _section(md, "Synthetic parts")
    assert "- venue-c's quote at +4:35 (no data)" in synthetic
    assert "- trader book of 500 accounts" in synthetic
    assert "**Run status: complete.**" in md
    for png in ("prices.png", "fund.png", "liquidations.png", "adl.png", "market.png"):
        assert f"]({png})" in md


def test_markdown_no_synthetic_says_so(report):
    report["scenario"]["synthetic"] = []
    assert "None: the scenario declares no synthetic inputs." in _section(render_markdown(report), "Synthetic parts")


def test_markdown_summary_totals_formatted(report):
    summary = _section(render_markdown(report), "Summary")
    for row in (
        "| Liquidations | 11 | count |",
        "| Liquidated notional | $1,234,567.89 | USD |",
        "| Keeper incentives | $123.46 | USD |",
        "| Fund at t = 0 (seeds + tail-risk fees at opening) | $1,400,000.00 | USD |",
        "| Bad debt | $0.00 | USD |",
        "| Peak sub-pool drawdown from its 8h peak (the ADL trigger's measure) | 42.50% | % |",
        "| Liquidations filled (wholly or partly) by ADL | 1 | count |",
        "| ADL victims (counterparties deleveraged) | 3 | count |",
        "| Profit haircut beyond need | $0.00 | USD |",  # -0.001 rounds to zero, not "-$0.00"
        "| Transactions | 12,345 | count |",
        "| Throughput | 1,234.50 | tx/s |",
        "| Ratio to raw Anvil | 0.50 | x |",
    ):
        assert row in summary, row


def test_markdown_fund_by_hour_one_row_per_hour(report):
    section = _section(render_markdown(report), "Fund by hour")
    rows = _table_rows(section)
    hours = sorted({step["t"] // 3600 for step in report["series"]})
    assert len(hours) == 10
    assert len(rows) == len(hours)
    assert [row.split("|")[1].strip() for row in rows] == [str(h) for h in hours]
    header = section.splitlines()[[i for i, line in enumerate(section.splitlines()) if line.startswith("|")][0]]
    assert "OM-USD pool [USD]" in header and "ETH-USD fund risk" in header
    assert "drawdown from 8h peak" in section and "global depleted" in section
    assert "none" in rows[0]  # no flags in the first hour
    # hour 0: last step t=3300 still at the seed
    assert "$1,000,000.00" in rows[0] and "$200,000.00" in rows[0]


def test_hourly_rows_take_last_step_and_or_flags(report):
    rows = hourly_rows(report)
    assert len(rows) == 10
    last_of_hour_5 = [s for s in report["series"] if s["t"] // 3600 == 5][-1]
    assert rows[5]["t"] == last_of_hour_5["t"]
    assert rows[5]["markets"]["OM-USD"]["sub_pool"] == last_of_hour_5["markets"]["OM-USD"]["sub_pool"]
    # a flag raised at one step only still shows for its hour
    report["series"][1]["markets"]["ETH-USD"]["fund_risk"] = 2
    assert hourly_rows(report)[0]["flags"]["ETH-USD"] == 2


def test_markdown_liquidations(report):
    section = _section(render_markdown(report), "Liquidations")
    assert "| standing_bid | 4 |" in section
    assert "| auction | 3 |" in section
    assert "| mixed | 2 |" in section
    assert "| unfilled | 2 |" in section
    largest = section[section.index("### Largest") :]
    rows = _table_rows(largest)
    assert len(rows) == 11
    assert rows[0].startswith("| 11 |") and "$110,000.00" in rows[0]  # largest first
    assert "0xabab…abab" in rows[0]


def test_markdown_top_20_liquidations_only(report):
    base = report["liquidations"][0]
    report["liquidations"] = [dict(base, id=i, notional=float(i)) for i in range(1, 31)]
    largest = _section(render_markdown(report), "Liquidations").split("### Largest")[1]
    rows = _table_rows(largest)
    assert len(rows) == 20
    assert rows[0].startswith("| 30 |") and rows[-1].startswith("| 11 |")
    assert "10 smaller liquidations are in report.json." in largest


def test_markdown_adl_victims(report):
    section = _section(render_markdown(report), "ADL victims")
    assert "No ADL events." not in section
    victims = _table_rows(section.split("### ADL events")[0])
    assert len(victims) == 3
    assert victims[0].startswith("| short-1 | 1 | OM-USD |") and "$2,500.00" in victims[0]


def test_long_adl_tables_are_truncated_alike_with_the_rest_in_report_json(report):
    from backstop.report.markdown import MAX_ADL_ROWS
    n = MAX_ADL_ROWS + 7
    report["adl"] = [{**report["adl"][0], "counterparty": f"short-{i}", "profit_taken": float(n - i), "t": 80 * STEP + i}
                     for i in range(n)]
    section = _section(render_markdown(report), "ADL victims")
    victims_part, events_part = section.split("### ADL events")
    assert len(_table_rows(victims_part)) == MAX_ADL_ROWS and "7 more counterparties" in victims_part
    assert _table_rows(victims_part)[0].startswith("| short-0 |")  # the largest profit taken first
    assert len(_table_rows(events_part)) == MAX_ADL_ROWS and "7 more ADL events are in report.json" in events_part


def test_empty_adl_and_liquidations_render_none(report, tmp_path):
    report["adl"] = []
    report["liquidations"] = []
    md = render_markdown(report)
    assert "No ADL events." in _section(md, "ADL victims")
    liq = _section(md, "Liquidations")
    assert "none: no liquidations in this run." in liq
    assert "| unfilled | 0 | $0.00 |" in liq
    paths = write_report(report, tmp_path)
    assert _png_size(paths["adl"])[0] >= 600
    assert _png_size(paths["liquidations"])[0] >= 600


def test_missing_sections_and_gaps_never_crash(tmp_path):
    minimal = {"schema": 1, "scenario": {"name": "bare"}, "run": {"complete": False, "error": None},
               "series": [{"t": 0, "time": "2025-01-01T00:00:00Z", "global_pool": 1.0,
                           "markets": {"X-USD": {"oracle": None, "venues": {}}}}]}
    md = render_markdown(minimal)
    assert "No ADL events." in md and "none: no liquidations in this run." in md
    assert "## Schema problems" in md and "- adl: missing" in md
    paths = write_report(minimal, tmp_path)
    for key in ("prices", "fund", "liquidations", "adl"):
        _png_size(paths[key])
    empty = write_report({}, tmp_path / "empty")
    assert "## Fund by hour" in empty["markdown"].read_text()


def test_partial_report_says_so(report):
    report["run"].update(complete=False, error="RPC timeout at step 87 | node gone")
    report["series"] = report["series"][:87]
    md = render_markdown(report)
    assert "**Run status: complete.**" not in md
    assert md.splitlines()[2].startswith("**Partial report: the run did not complete.**")
    run = _section(md, "Run")
    assert "**Partial report**" in run
    assert "RPC timeout at step 87 \\| node gone" in run  # pipes escaped inside tables and code
    assert "last step +7:10:00" in run


# ------------------------------------------------------------------------------------------- validation


def test_validate_flags_missing_key(report):
    del report["totals"]["bad_debt"]
    del report["series"][3]["markets"]["OM-USD"]["peak_8h"]
    del report["throughput"]
    problems = validate_report(report)
    assert "totals.bad_debt: missing" in problems
    assert "series[3].markets.OM-USD.peak_8h: missing" in problems
    assert "throughput: missing" in problems
    assert len(problems) == 3


def test_validate_flags_wrong_types(report):
    report["run"]["steps"] = "120"
    report["run"]["complete"] = 1
    report["liquidations"][0]["filled_by"] = "magic"
    report["liquidations"][0]["fills"][0]["qty"] = True
    report["series"][0]["time"] = "yesterday"
    report["series"][0]["markets"]["OM-USD"]["fund_risk"] = 9
    report["adl"] = {}
    problems = validate_report(report)
    assert "run.steps: expected an integer, got str" in problems
    assert "run.complete: expected true or false, got int" in problems
    assert "liquidations[0].filled_by: expected one of standing_bid, auction, adl, mixed, partial, unfilled, got 'magic'" in problems
    assert "liquidations[0].fills[0].qty: expected a number, got bool" in problems
    assert "series[0].time: 'yesterday' is not an ISO 8601 time" in problems
    assert "series[0].markets.OM-USD.fund_risk: unknown bits in 9" in problems
    assert "adl: expected a list, got dict" in problems
    assert len(problems) == 7


def test_validate_accepts_null_oracle_and_error_but_not_other_nulls(report):
    report["series"][0]["markets"]["OM-USD"]["oracle"] = None
    report["run"]["error"] = None
    assert validate_report(report) == []
    report["series"][0]["markets"]["OM-USD"]["sub_pool"] = None
    assert validate_report(report) == ["series[0].markets.OM-USD.sub_pool: expected a number, got null"]


def test_validate_schema_version_and_non_dict():
    assert validate_report([]) == ["report: expected an object, got list"]
    problems = validate_report({"schema": 2})
    assert "schema: version 2 is not 1" in problems


# -------------------------------------------------------------------------------------------- helpers


def test_formatters():
    assert fmt_usd(1234.5) == "$1,234.50"
    assert fmt_usd(-12) == "-$12.00"
    assert fmt_usd(None) == "n/a"
    assert fmt_price(0.41234567) == "0.412346"
    assert fmt_price(1600) == "1,600.0000"
    assert fund_risk_words(0) == "none"
    assert fund_risk_words(7) == "drawdown from 8h peak, fast drop, global depleted"
    assert fund_risk_words(8) == "unknown bits 8"


def test_rolling_peak_forgets_after_8_hours():
    ts = [0, 3600, 8 * 3600, 8 * 3600 + 1]
    assert rolling_peak(ts, [10.0, 5.0, 4.0, 3.0]) == [10.0, 10.0, 10.0, 5.0]
    assert rolling_peak([0, 60], [None, 2.0]) == [None, 2.0]


# ---------------------------------------------------------------------------------- the typed schema

SCHEMA_DOC = Path(__file__).resolve().parent.parent / "docs" / "report-schema.md"


def _models(model: type = Report, seen: tuple = ()) -> list[type]:
    """Report and every model below it."""
    out = [model]
    for info in model.model_fields.values():
        for sub in _nested(info.annotation):
            if sub not in seen and sub not in out:
                out += [m for m in _models(sub, (*seen, *out)) if m not in out]
    return out


def _nested(tp) -> list[type]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in get_args(tp) for m in _nested(arg)]


def test_docs_schema_tables_are_generated_from_the_models():
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    generated = schema_markdown()
    assert generated_block(text) == generated, "docs/report-schema.md is stale: run python -m backstop.report docs/report-schema.md"
    for model in _models():
        for name, info in model.model_fields.items():
            assert f"| `{info.alias or name}` |" in generated, (model.__name__, name)


def test_every_field_has_a_one_line_description():
    models = _models()
    assert {m.__name__ for m in models} >= {"Report", "ScenarioInfo", "RunInfo", "Step", "MarketStep", "Liquidation",
                                             "Fill", "AdlEvent", "Buffer", "KeeperRow", "Totals", "Throughput"}
    for model in models:
        assert model.__doc__, model.__name__
        for name, info in model.model_fields.items():
            assert info.description and "\n" not in info.description, (model.__name__, name)


def test_report_model_dump_gives_the_same_json(report):
    dumped = Report.model_validate(report).model_dump()
    assert json.dumps(dumped, sort_keys=True) == json.dumps(report, sort_keys=True)  # ints stay ints, nothing added
    assert list(dumped) == ["schema", "scenario", "parameters", "run", "series", "liquidations", "adl", "buffers",
                            "keepers", "mark_to_market", "fund_flows", "published", "totals", "throughput"]
    assert report["schema"] == SCHEMA_VERSION


def test_report_model_keeps_ints_in_float_fields_and_omits_unset_optional_fields(report):
    report["totals"]["adl_notional"] = 0  # what the replay writes when there is no ADL
    report["liquidations"][0]["released_t"] = 99
    report["run"]["resumed"] = {"error": "node gone", "steps": 3, "started_at": "2025-06-01T09:00:00+00:00", "restarted_from_t": 0}
    model = Report.model_validate(report)
    dumped = model.model_dump()
    assert type(dumped["totals"]["adl_notional"]) is int
    assert dumped["liquidations"][0]["released_t"] == 99 and "released_t" not in dumped["liquidations"][1]
    assert dumped["run"]["resumed"]["steps"] == 3 and "setup" not in dumped["run"]
    assert json.dumps(dumped, sort_keys=True) == json.dumps(report, sort_keys=True)


def test_validate_checks_optional_fields_when_present(report):
    report["liquidations"][0]["released_t"] = "soon"
    report["run"]["resumed"] = {"error": None, "steps": 3, "started_at": "later", "restarted_from_t": 0}
    report["run"]["failed_transactions"] = {"take: stale": 1.5}
    assert validate_report(report) == [
        "run.failed_transactions.take: stale: expected an integer, got float",
        "run.resumed.started_at: 'later' is not an ISO 8601 time",
        "liquidations[0].released_t: expected an integer, got str",
    ]


def test_validate_unknown_keys_json_parameters_and_non_string_keys(report):
    report["extra_b"] = 1
    report["extra_a"] = 2
    report["parameters"]["bad"] = [math.nan, (1, 2), {1: 2}]
    report["series"][0]["markets"]["OM-USD"]["venues"] = {1: 2.0}
    report["series"][1]["markets"]["OM-USD"]["extra"] = "kept"  # below the top level, other keys are allowed
    assert validate_report(report) == [
        "parameters.bad[0]: expected a finite number, got nan",
        "parameters.bad[1]: tuple cannot be written to JSON",
        "parameters.bad[2]: key 1 is not a string",
        "series[0].markets.OM-USD.venues: key 1 is not a string",
        "report: unknown top-level keys extra_a, extra_b",
    ]


def test_summary_rows_are_the_models_fields(report):
    summary = _table_rows(_section(render_markdown(report), "Summary"))
    assert len(summary) == len(Totals.model_fields) + len(Throughput.model_fields) + 2  # + the throughput table's header


def test_markdown_fund_flows_table_adds_up_per_pool(report):
    section = _section(render_markdown(report), "Fund flows")
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in _table_rows(section)}
    assert rows["start: seeds at deployment"] == ["$1,000,000.00", "$200,000.00", "$200,000.00", "$1,400,000.00"]
    assert rows["+ liquidation penalties"] == ["$0.00", "$0.00", "$6,600.00", "$6,600.00"]
    assert rows["− keeper incentives: restarting stale auctions"][-1] == "$23.46"
    assert rows["= end"] == ["$850,000.00", "$200,000.00", "$184,600.00", "$1,234,600.00"]
    assert rows["difference"] == ["$0.00"] * 4
    assert "+ donations" not in rows  # a kind nothing flowed through is left out


def test_reconcile_passes_a_consistent_report_and_names_each_figure_that_is_off(report):
    assert reconcile(report) == []
    report["fund_flows"][2]["outflows"]["kick_incentives"] += 0.01  # one cent the table does not explain
    report["fund_flows"][0]["end_on_chain"] = 849_999.0  # the chain disagrees with the flows
    report["totals"]["fund_start"] = 1_500_000.0
    problems = reconcile(report)
    assert any(p.startswith("fund_flows[OM-USD]: start + inflows − outflows") and "off by -0.010000" in p for p in problems), problems
    assert any(p.startswith("fund_flows[global]: end on chain") for p in problems)
    assert any(p.startswith("totals.fund_start") for p in problems)
    assert any(p.startswith("totals.fund_used") for p in problems)  # the extra cent is not in fund_used
    assert any(p.startswith("totals.keeper_incentives") for p in problems)
    assert len(problems) == 5, problems


def test_reconcile_checks_the_shortfall_split():
    report = synthetic_report()
    report["totals"]["bad_debt"] = 10.0  # bad debt the shortfall does not contain
    assert [p.split(":")[0] for p in reconcile(report)] == ["totals.shortfall"]


def test_markdown_sets_the_replay_beside_the_published_figures(report):
    section = _section(render_markdown(report), "Replay against published figures")
    [row] = _table_rows(section)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[:6] == ["OM liquidations, all exchanges", "`liquidated_notional`", "$67,000,000.00 – $76,000,000.00",
                         "$1,234,567.89", "-$65,765,432.11", "1.73%"]
    report["published"] = []
    assert "cites no published figure" in _section(render_markdown(report), "Replay against published figures")


def test_markdown_markets_by_hour_counts_each_hours_liquidations(report):
    section = _section(render_markdown(report), "Markets by hour")
    rows = _table_rows(section)
    assert len(rows) == 10
    per_hour = {}
    for liq in report["liquidations"]:
        if liq["market"] == "OM-USD":
            per_hour[liq["t"] // 3600] = per_hour.get(liq["t"] // 3600, 0) + 1
    header = [c.strip() for c in section.splitlines()[4].split("|")[1:-1]]
    col = header.index("OM-USD liquidations")
    counts = {int(r.split("|")[1]): int(r.split("|")[1:-1][col].strip()) for r in rows}
    assert counts == {h: per_hour.get(h, 0) for h in range(10)} and sum(counts.values()) > 0
    assert "time (UTC)" in header and rows[0].split("|")[2].strip().endswith("Z")


def test_markdown_keepers_and_auction_fill_distribution(report):
    md = render_markdown(report)
    [row] = _table_rows(_section(md, "Keepers"))
    assert [c.strip() for c in row.split("|")[1:-1]] == ["k1", "5", "7", "1", "100", "$100,000.00", "$31,250.00", "$123.46", "$45,000.00", "-$1,234.50"]
    fills = _section(md, "Auction fills")
    takes = [f for liq in report["liquidations"] for f in liq["fills"] if f["via"] == "auction"]
    assert f"{len(takes)} auction takes" in fills
    assert "| discount [%] |" in fills and "| time to fill |" in fills


def test_crash_window_brackets_the_fall_in_log_terms():
    ts = list(range(0, 36_000, 600))
    prices = [6.0 if t < 10_800 else max(0.5, 6.0 * 0.5 ** ((t - 10_800) / 1_800)) for t in ts]  # halves every 30 min
    start, end = crash_window(ts, prices)
    assert 10_800 - 3_000 < start < 10_800 and 16_200 < end < 20_000  # around the fall from 3:00 to ~6:35
    assert crash_window(ts, [1.0] * len(ts)) is None and crash_window([0, 1], [2.0, 1.0]) is None


def test_charts_time_axis_is_the_scenarios_utc_time(report):
    axis = TimeAxis(report["series"])
    assert axis.origin == START
    one_hour = axis.x([0, 3600])
    assert one_hour[1] - one_hour[0] == pytest.approx(1 / 24)
    assert TimeAxis([{"t": 0, "time": "not a time"}]).x([3600]) == [1.0]  # hours when the series has no date


def test_usd_axis_labels_a_tiny_range_with_its_digits_not_zero():
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 0.0001])
    ax.set_ylim(0, 0.0001)
    usd_axis(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    assert len(set(labels)) == len(labels) > 2 and "$0.0001" in labels[-1], labels


def test_a_replay_ending_in_adl_says_why(report):
    assert "## Why ADL" not in render_markdown(report)  # 3 of 11 liquidations touched by ADL: no explanation needed
    for liq in report["liquidations"]:
        liq["fills"] = [{"t": liq["t"] + 60, "keeper": "short-1", "qty": 1.0, "price": 0.5, "via": "adl"}]
    report["adl"][0]["reason"] = "liquidity_risk"
    report["run"]["failed_transactions"] = {"take: AuctionStale": 40, "open: MarginBelowInitial": 2}
    section = _section(render_markdown(report), "Why ADL closed most liquidations")
    assert "11 of 11 liquidations" in section and "`liquidity_risk` ×1" in section and "`fund depleted` ×2" in section
    assert "`take: AuctionStale` ×40" in section and "open: MarginBelowInitial" not in section
    assert "auction of the market went stale" in section and "check-step" in section
    report["keepers"][0]["takes"] = 0
    for liq in report["liquidations"]:
        liq["fills"] = []
    assert "## Why no keeper took an auction" in render_markdown(report)
