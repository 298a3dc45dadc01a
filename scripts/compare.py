"""`ape run compare ...`: the same as `backstop compare` (see `backstop compare --help`)."""

from backstop.cli.studies import compare as cli  # noqa: F401  (ape run picks up `cli`)
