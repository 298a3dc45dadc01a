"""`ape run gas ...`: the same as `backstop gas` (see `backstop gas --help`)."""

from backstop.cli.bench import gas as cli  # noqa: F401  (ape run picks up `cli`)
