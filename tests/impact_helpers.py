"""What of a report the equality tests compare: backstop.report.digest, re-exported for the tests."""

from backstop.report.digest import COMPARED, digest_differences, report_digest

__all__ = ["COMPARED", "digest_differences", "report_digest"]
