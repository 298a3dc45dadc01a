"""The lab: a typed facade for driving a deployment from a test or a notebook (``ape test``, ``ape console``).

- ``session``: `Lab` — deploy or wrap a System; fund accounts, seed pools, move prices, open positions with
  EIP-712 orders, liquidate, take, plan and execute ADL; `b32` pads names to bytes32.
- ``ledger``: `LedgerSnapshot` — what every contract holds and owes — and the USDC conservation laws it checks.
- ``adl``: the reference ADL plan (backstop.model.adl) of a liquidation and an execution's decoded record.
- ``errors``: `LabError` and `ConservationError` (BackstopError subclasses).

    lab = Lab.deploy([MarketSpec("OM-USD", "6")], global_seed=300)
    lab.fund(alice, 5_000); lab.fund(bob, 5_000)
    lab.open("OM-USD", long=alice, short=bob, size=5_000, leverage=10)
    lab.set_price("OM-USD", 5)
    sale = lab.liquidate("OM-USD", alice, keeper=carol)
    adl = lab.execute_adl(sale, carol, mint_bond=True)
    lab.check_conservation()
"""

from backstop.lab.adl import AdlExecution, AdlNotTriggered, AdlPlan
from backstop.lab.errors import ConservationError, LabError
from backstop.lab.ledger import CashFlows, Law, LedgerReader, LedgerSnapshot, PositionLine
from backstop.lab.session import Lab, b32

__all__ = [
    "AdlExecution",
    "AdlNotTriggered",
    "AdlPlan",
    "CashFlows",
    "ConservationError",
    "Lab",
    "LabError",
    "Law",
    "LedgerReader",
    "LedgerSnapshot",
    "PositionLine",
    "b32",
]
