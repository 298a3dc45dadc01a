"""`ape run replay ...`: the same as `backstop replay` (see `backstop replay --help`)."""

from backstop.cli.replay import replay as cli  # noqa: F401  (ape run picks up `cli`)
