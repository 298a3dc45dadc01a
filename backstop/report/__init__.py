"""Replay reports: report.json's schema, the Markdown, the charts and the files of a report folder.

- ``schema``: the typed report (pydantic models, ``SCHEMA_VERSION``), ``validate_report``; ``schema_docs``: ``schema_markdown``;
- ``format``: numbers, amounts, prices and times as text, Markdown tables;
- ``series``: views of the time series (markets, the 8-hour peak, the fund by hour);
- ``markdown``: ``render_markdown``, report.md;
- ``charts``: the report's charts and the chart helpers the studies use;
- ``files``: ``write_report`` (the folder), ``report_json``, ``events_csv``;
- ``reconcile``: ``reconcile``, the sums a reader would check by hand (fund flows against the chain and the totals).
"""

from backstop.report.files import events_csv, report_json, write_report
from backstop.report.format import fmt_count, fmt_pct, fmt_price, fmt_usd, fund_risk_words, table
from backstop.report.markdown import render_markdown
from backstop.report.reconcile import reconcile
from backstop.report.schema import SCHEMA_VERSION, Report, ReportError
from backstop.report.schema_docs import schema_markdown
from backstop.report.series import hourly_rows, market_names, rolling_peak
from backstop.report.validate import validate_report

__all__ = [
    "SCHEMA_VERSION",
    "Report",
    "ReportError",
    "events_csv",
    "fmt_count",
    "fmt_pct",
    "fmt_price",
    "fmt_usd",
    "fund_risk_words",
    "hourly_rows",
    "market_names",
    "write_report",
    "render_markdown",
    "reconcile",
    "report_json",
    "rolling_peak",
    "schema_markdown",
    "table",
    "validate_report",
]
