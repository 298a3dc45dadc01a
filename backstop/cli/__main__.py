"""`python -m backstop.cli ...`: the same as `backstop ...`."""

from backstop.cli import main

main()
