"""Contract ABIs as JSON lists, from Ape's contract types."""

from __future__ import annotations

from typing import Any


def abi_of(contract: Any) -> list[dict[str, Any]]:
    """The JSON ABI of an Ape contract instance (or container): what web3 and backstop.chain.fastchain take."""
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in contract.contract_type.abi]
