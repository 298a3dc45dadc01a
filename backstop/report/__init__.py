"""Replay reports: report.json's schema, the Markdown, the charts and the files of a report folder."""

from backstop.report.markdown import (  # noqa: F401
    fmt_price,
    fmt_usd,
    fund_risk_words,
    hourly_rows,
    render_markdown,
    rolling_peak,
    validate_report,
    write_report,
)
