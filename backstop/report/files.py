"""The files of a report folder: report.json (strict, deterministic JSON), report.md, events.csv and the charts."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backstop.report.access import as_dict
from backstop.report.charts import CHART_FILES, draw_charts
from backstop.report.markdown import render_markdown
from backstop.report.schema import ReportError

__all__ = ["EVENT_COLUMNS", "events_csv", "report_json", "write_report"]

EVENT_COLUMNS = ("block", "timestamp", "t", "tx", "log_index", "address", "contract", "event", "args")


def report_json(report: Mapping[str, Any]) -> str:
    """Deterministic JSON: sorted keys, indent 2, strict (no NaN), ending in a newline.

    Raises ReportError (a ValueError) when the report holds what strict JSON cannot (NaN, infinities, objects)."""
    try:
        return json.dumps(report, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    except (ValueError, TypeError) as exc:
        raise ReportError(f"report cannot be written as strict JSON ({exc}); validate_report lists where") from exc


def _jsonable(value: Any) -> Any:
    """Event args as plain JSON: bytes as 0x-hex, Decimal and other objects as their str."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value)


def events_csv(events: Sequence[Mapping[str, Any]]) -> str:
    """block, timestamp (the block's, unix seconds), t (scenario seconds: negative before the scenario's t = 0,
    during deployment and set-up), tx, log_index, address, contract (the emitter's contract name), event, args
    (compact JSON, sorted keys); rows in the given order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for ev in events:
        ev = as_dict(ev)
        cells = [_jsonable(ev.get(col, "")) for col in EVENT_COLUMNS[:-1]]
        args = json.dumps(_jsonable(ev.get("args", {})), sort_keys=True, separators=(",", ":"))
        writer.writerow(["" if c is None else c for c in cells] + [args])
    return buf.getvalue()


def write_report(report: dict, out_dir: Path, events: list[dict] | None = None) -> dict[str, Path]:
    """Writes report.json, report.md, events.csv (when events are given) and the five PNG charts.

    Returns {"json", "markdown", "events"?, "prices", "fund", "liquidations", "adl", "market"} -> path. Raises
    ReportError (a ValueError), before writing anything, when the report holds values strict JSON cannot (NaN, objects).
    """
    out_dir = Path(out_dir)
    text = report_json(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"json": out_dir / "report.json", "markdown": out_dir / "report.md"}
    paths["json"].write_text(text, encoding="utf-8")
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    if events is not None:
        paths["events"] = out_dir / "events.csv"
        paths["events"].write_text(events_csv(events), encoding="utf-8")
    for key, name in CHART_FILES.items():
        paths[key] = out_dir / name
    draw_charts(report, paths)
    return paths
