"""The JSON ABI of an Ape contract, for the web3 twins that the hot paths (backstop.chain.fastchain) talk to."""

from __future__ import annotations

from typing import Any


def abi_of(contract: Any) -> list[dict[str, Any]]:
    """The ABI of `contract` (an Ape ContractInstance, or anything with a ``contract_type``) as plain JSON: the
    list of dicts that ``web3.eth.contract(abi=...)`` takes, with Ape's field aliases and no empty fields."""
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in contract.contract_type.abi]
