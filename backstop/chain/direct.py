"""Deploy and call contracts through backstop.chain.fastchain, with the calls `deploy_system` makes on Ape.

`deploy_system` is written against Ape: ``deployer.deploy(project.X, *args)`` and ``contract.fn(*args,
sender=deployer)``. On a chain Ape cannot connect to (the embedded EVM of backstop.chain.revm) a
`DirectDeployer` stands in for the Ape account and `DirectContract` for the contract instance: each
transaction is signed here, mined in a block of its own (as Ape does on an automining node) and checked, and
a view is an eth_call. The contract types (ABI and bytecode) are still Ape's compiled artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backstop.chain.abi import abi_of
from backstop.chain.fastchain import FastChain, Wallet, web3_contract
from backstop.chain.reverts import abi_type
from backstop.errors import BackstopError

__all__ = ["DeployFailed", "DirectContract", "DirectDeployer"]


class DeployFailed(BackstopError, RuntimeError):
    """A deployment transaction reverted (its reason decoded by name)."""


@dataclass
class DirectDeployer:
    """The account that deploys and administers, as `deploy_system` uses an Ape account."""

    chain: FastChain
    wallet: Wallet
    network: str = "embedded:revm"

    @property
    def address(self) -> str:
        return self.wallet.address

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def deploy(self, container: Any, *args: Any) -> "DirectContract":
        """Deploys the compiled contract `container` (an Ape ContractContainer) with constructor `args`."""
        contract_type = container.contract_type
        abi = abi_of(container)
        constructor = next((i for i in abi if i.get("type") == "constructor"), {"inputs": []})
        types = [abi_type(i) for i in constructor["inputs"]]
        code = bytes.fromhex(contract_type.deployment_bytecode.bytecode.removeprefix("0x"))
        data = code + self.chain.w3.codec.encode(types, [_arg(a) for a in args])
        self.chain.send(self.wallet, "0x", data, f"deploy {contract_type.name}", gas=_DEPLOY_GAS)
        (_sent, receipt), = self.chain.mine()
        if receipt["status"] != 1 or not receipt.get("contractAddress"):
            raise DeployFailed(f"deploying {contract_type.name} failed: {self.chain.revert_reason(receipt['transactionHash'])}")
        return DirectContract(self, web3_contract(self.chain.w3, receipt["contractAddress"], abi), contract_type)

    def transact(self, contract: "DirectContract", fn: str, args: tuple[Any, ...]) -> Any:
        self.chain.call_fn(self.wallet, contract.web3, fn, *[_arg(a) for a in args], label=fn)
        (sent, receipt), = self.chain.mine()
        if receipt["status"] != 1:
            raise DeployFailed(f"{contract.name}.{fn} failed: {self.chain.revert_reason(sent.tx_hash)}")
        return receipt


class DirectContract:
    """A deployed contract whose functions are called as attributes, as on an Ape ContractInstance: a view
    returns its value, anything else sends a transaction from the deployer (``sender=`` must be it)."""

    def __init__(self, deployer: DirectDeployer, web3: Any, contract_type: Any) -> None:
        self.deployer, self.web3, self.contract_type = deployer, web3, contract_type
        self.address: str = web3.address
        self.name: str = contract_type.name
        self._kinds = {i["name"]: i.get("stateMutability") for i in web3.abi if i.get("type") == "function"}

    def __str__(self) -> str:
        return self.address

    def __getattr__(self, fn: str) -> Any:
        if fn.startswith("_") or fn not in self.__dict__.get("_kinds", {}):
            raise AttributeError(f"{self.__dict__.get('name', 'contract')} has no function {fn!r}")

        def call(*args: Any, sender: Any = None) -> Any:
            if self._kinds[fn] in ("view", "pure"):
                value, = self.deployer.chain.view([(self.web3, fn, [_arg(a) for a in args])])
                return value
            if sender is not None and _arg(sender).lower() != self.deployer.address.lower():
                raise ValueError(f"{self.name}.{fn}: the direct deployer sends only from {self.deployer.address}")
            return self.deployer.transact(self, fn, args)

        return call


_DEPLOY_GAS = 29_000_000  # a creation's gas limit: under the block's 30M, above any of the contracts' needs


def _arg(value: Any) -> Any:
    """A call argument as web3's codec takes it: contracts and accounts as their address."""
    if isinstance(value, (DirectContract, DirectDeployer)):
        return value.address
    if isinstance(value, list):
        return [_arg(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_arg(v) for v in value)
    return value
