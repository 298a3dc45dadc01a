"""The chain side: what is deployed where and how the tooling talks to a node.

- ``specs``: what to deploy (MarketSpec and friends; plain data, no Ape).
- ``deploy``: deploy and wire the contracts through Ape; the Deployment record.
- ``fastchain``: the hot path to a node (batched JSON-RPC, signed transactions, decoded events).
- ``node``: a local Anvil started and stopped around a replay.
- ``orders``: EIP-712 orders, built and signed.
"""
