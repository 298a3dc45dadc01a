"""What the benchmarks share to drive an Ape-deployed system from web3: each contract's web3 twin and each Ape
test account's eth-account twin (the benchmarks send their batched transactions through backstop.chain.fastchain,
not through Ape, which would take minutes for thousands of them)."""

from __future__ import annotations

from typing import Any

from backstop.chain.abi import abi_of


def twin(w3: Any, contract: Any) -> Any:
    """The web3 contract at the address of `contract` (an Ape ContractInstance), with its ABI, on `w3`."""
    from backstop.chain.fastchain import web3_contract  # noqa: PLC0415

    return web3_contract(w3, str(contract.address), abi_of(contract))


def local_account(account: Any) -> Any:
    """The eth-account LocalAccount of `account` (an Ape account that exposes its private key, e.g. a test account)."""
    from eth_account import Account  # noqa: PLC0415

    return Account.from_key(account.private_key)
