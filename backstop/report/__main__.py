"""``python -m backstop.report [PAGE]``: prints the report schema's field tables, or rewrites them in PAGE
(docs/report-schema.md) between its generated-tables markers."""

import sys
from pathlib import Path

from backstop.report.schema_docs import schema_markdown, write_schema_doc

if len(sys.argv) > 1:
    write_schema_doc(Path(sys.argv[1]))
else:
    print(schema_markdown(), end="")
