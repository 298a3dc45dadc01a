"""`ape run keeper ...`: the same as `backstop keeper` (see `backstop keeper --help`)."""

from backstop.cli.keeper import keeper as cli  # noqa: F401  (ape run picks up `cli`)
