"""Deploy Backstop's contracts through Ape to whatever network Ape is connected to (Anvil, Hardhat, any RPC).

Scripts call these functions; they never hold deployment logic themselves. Every deployment is written to a
JSON file (addresses, parameters, chain id) that the keeper bots, the replay engine and `cast` users read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ape import chain, project
from ape.api import AccountAPI
from ape.contracts import ContractInstance


@dataclass
class Deployment:
    """What was deployed where: the record written to deployments/<network>.json."""

    network: str
    chain_id: int
    deployer: str
    contracts: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    usdc_is_mock: bool = True

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> "Deployment":
        return cls(**json.loads(Path(path).read_text()))


def deploy_mock_usdc(deployer: AccountAPI) -> ContractInstance:
    """Deploy the 6-decimal mock USDC (tests and local replays only); `deployer` holds its minter role."""
    return deployer.deploy(project.MockUSDC, deployer)


def attach_usdc(address: str) -> ContractInstance:
    """Use an existing USDC: checks that the contract at `address` has 6 decimals."""
    if not chain.provider.get_code(address):
        raise ValueError(f"no contract at USDC address {address} on chain {chain.chain_id}")
    token = project.MockUSDC.at(address)  # any ERC-20 ABI works for decimals()
    decimals = token.decimals()
    if decimals != 6:
        raise ValueError(f"USDC at {address} has {decimals} decimals; Backstop expects 6")
    return token


def deploy(deployer: AccountAPI, usdc_address: str | None = None) -> Deployment:
    """Deploy Backstop with `deployer`; with `usdc_address`, reuse that USDC instead of a mock."""
    usdc = attach_usdc(usdc_address) if usdc_address else deploy_mock_usdc(deployer)
    network = chain.provider.network
    return Deployment(
        network=f"{network.ecosystem.name}:{network.name}:{chain.provider.name}",
        chain_id=chain.chain_id,
        deployer=str(deployer.address),
        contracts={"USDC": str(usdc.address)},
        usdc_is_mock=usdc_address is None,
    )
