"""`ape run adl_queue ...`: the same as `backstop adl-queue` (see `backstop adl-queue --help`)."""

from backstop.cli.keeper import adl_queue as cli  # noqa: F401  (ape run picks up `cli`)
