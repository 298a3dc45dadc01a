"""What the chain-facing commands (deploy, keeper, adl-queue, bench) share: the --network option, an Ape
connection that fails as one line, the signing account, and a deployment file checked against the chain."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from backstop.cli.errors import require_file
from backstop.errors import BackstopError

NETWORKS = {"anvil": "ethereum:local:foundry", "hardhat": "ethereum:local:hardhat"}  # the rest goes to Ape as given
NETWORK_HELP = (
    "Where to connect: 'anvil' (the default: a fresh local Anvil that ape-foundry starts on a free port and stops "
    "when the command ends), 'hardhat' (a Hardhat node, the same way), an RPC URL such as http://127.0.0.1:8545 "
    "(a node you run, which outlives the command), or an Ape network choice such as ethereum:sepolia:alchemy."
)
PROBE_TIMEOUT = 5.0  # [s] to answer eth_chainId before a URL counts as unreachable

network_option = click.option("--network", default=None, metavar="NETWORK", help=NETWORK_HELP)


class NetworkUnreachable(BackstopError):
    """The network given with --network is unknown to Ape or its node does not answer."""


class AccountError(BackstopError):
    """The Ape account given with --account does not exist."""


class DeploymentError(BackstopError):
    """A deployment file that cannot be read, or whose contracts are not on the connected chain."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raises NetworkUnreachable unless a JSON-RPC node answers eth_chainId at `url` (HTTP) within `timeout` s."""
    import requests  # noqa: PLC0415

    try:
        answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=timeout)
        answer.raise_for_status()
        answer.json()["result"]
    except requests.Timeout:  # before ConnectionError: a connect timeout is both
        raise NetworkUnreachable(f"cannot connect to network {url!r}: no answer within {timeout:.0f} s") from None
    except requests.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else "no connection"
        raise NetworkUnreachable(f"cannot connect to network {url!r}: {reason} (is a node running there?)") from None
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise NetworkUnreachable(f"cannot connect to network {url!r}: not a JSON-RPC node ({_one_line(exc)})") from None


@contextmanager
def connected(network: str | None) -> Iterator[Any]:
    """Connects Ape to `network` (see NETWORK_HELP; None: Ape's default, ape-config.yaml's local Anvil) for the
    duration of the block and yields the provider. An unknown network or a node that does not answer raises
    NetworkUnreachable, before the block runs. Ape's INFO lines (the node's start and stop, one per
    transaction) are silenced: each command prints what it did."""
    from ape import networks  # noqa: PLC0415
    from ape.logging import logger  # noqa: PLC0415

    logger.set_level("ERROR")
    choice = NETWORKS.get(network, network) if network else None
    if choice and choice.startswith(("http://", "https://")):
        probe(choice)
    with ExitStack() as stack:
        try:
            provider = stack.enter_context(networks.parse_network_choice(choice))
        except Exception as exc:  # noqa: BLE001 - Ape raises many kinds for a network it cannot reach
            raise NetworkUnreachable(f"cannot connect to network {network or choice or 'anvil'!r}: {_one_line(exc)}") from exc
        yield provider


def http_uri(provider: Any) -> str:
    """The provider's HTTP RPC address (what backstop.chain.fastchain talks to); NetworkUnreachable if it has none."""
    uri = getattr(provider, "http_uri", None)
    if not uri:
        raise NetworkUnreachable(f"the connected network ({provider.network.choice}) has no HTTP RPC address; give --network URL")
    return uri


def load_account(alias: str | None, test_index: int) -> Any:
    """The Ape account `alias` (it may ask for its passphrase), or test account `test_index` when alias is None."""
    from ape import accounts  # noqa: PLC0415

    if alias is None:
        return accounts.test_accounts[test_index]
    try:
        return accounts.load(alias)
    except (KeyError, ValueError):
        raise AccountError(f"no Ape account with alias {alias!r} (`ape accounts list` lists them)") from None


def read_deployment(path: Path) -> Any:
    """The backstop.chain.deploy.Deployment recorded in `path`; MissingFile or DeploymentError when it has none."""
    require_file(path, "deployment file")
    from backstop.chain.deploy import Deployment  # noqa: PLC0415

    try:
        deployment = Deployment.read(path)
        markets = [m["name"] for m in deployment.parameters["markets"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise DeploymentError(f"{path} is not a deployment file written by `backstop deploy` ({_one_line(exc)})") from None
    if not markets:
        raise DeploymentError(f"{path} lists no markets")
    return deployment


def check_deployed(provider: Any, deployment: Any, path: Path, names: tuple[str, ...]) -> None:
    """DeploymentError unless each contract in `names` is in the deployment and has code on the connected chain."""
    for name in names:
        address = deployment.contracts.get(name)
        if address is None:
            raise DeploymentError(f"{path} has no {name}; redeploy with this version of Backstop")
        if not provider.get_code(address):
            raise DeploymentError(f"no {name} at {address} on the connected chain (chain id {provider.chain_id}): {_where(deployment, path)}")


def _where(deployment: Any, path: Path) -> str:
    """Where the deployment in `path` went, and what to do now that its contracts are not on the chain."""
    if deployment.network in NETWORKS.values():  # a chain Ape started for `backstop deploy` and stopped after it
        return (f"{path} was deployed on a chain that `backstop deploy` started and stopped ({deployment.network}), and its "
                "contracts went with it; deploy to a node you run (backstop deploy --network http://127.0.0.1:8545) and use that")
    return (f"{path} was deployed on {deployment.network} (chain id {deployment.chain_id}); give that node's address with "
            "--network URL, or redeploy if the node was restarted since (a restarted Anvil or Hardhat node starts empty)")
