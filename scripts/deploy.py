"""`ape run deploy ...`: the same as `backstop deploy` (see `backstop deploy --help`)."""

from backstop.cli.deploy import deploy as cli  # noqa: F401  (ape run picks up `cli`)
