"""Backstop: open, on-chain settlement of crash losses for leveraged crypto markets.

Public API (grows with each layer):
- ``backstop.units``: USDC/wad/bps conversions shared by every module.
- ``backstop.model``: pure-Python reference models of the contracts' math, used as test oracles.
- ``backstop.chain.deploy``: deploy the contracts to Anvil, Hardhat or any RPC.
"""

__version__ = "0.1.0"
