"""`ape run size_fund ...`: the same as `backstop size-fund` (see `backstop size-fund --help`)."""

from backstop.cli.studies import size_fund as cli  # noqa: F401  (ape run picks up `cli`)
