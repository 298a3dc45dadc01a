"""`backstop deploy`: deploy Backstop's contracts to a network and write the deployment file."""

from __future__ import annotations

from pathlib import Path

import click

from backstop.cli.connect import NETWORKS, DeploymentError, connected, load_account, network_option
from backstop.cli.errors import BackstopCommand, require_writable_dir, require_writable_file

MARKET_SEED = 100_000  # [USDC] seeded into each market's sub-pool (mock USDC only)


def _markets(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    """--market NAME:PRICE values as (name, price) pairs: a positive price, no name twice."""
    out: list[tuple[str, str]] = []
    for value in values:
        name, _, price = value.partition(":")
        try:
            if not name or float(price) <= 0:
                raise ValueError
        except ValueError:
            raise click.BadParameter(f"expected NAME:PRICE with a positive price, e.g. OM-USD:6, got {value!r}") from None
        if name in (n for n, _ in out):
            raise click.BadParameter(f"market {name} is given twice")
        out.append((name, price))
    return out


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from eth_utils import is_address  # noqa: PLC0415

    if value is not None and not is_address(value):
        raise click.BadParameter(f"{value!r} is not an address (0x and 40 hex digits)")
    return value


@click.command(cls=BackstopCommand)
@network_option
@click.option("--usdc", "usdc_address", default=None, metavar="ADDRESS", callback=_address,
              help="Address of an existing 6-decimal USDC on that network (default: deploy the test-only MockUSDC). "
                   "With a real USDC nothing is seeded.")
@click.option("--account", "account_alias", default=None, metavar="ALIAS",
              help="Ape account alias to deploy with; it holds every admin role (default: Ape's first test account).")
@click.option("--market", "markets", multiple=True, default=("OM-USD:6", "ETH-USD:2000"), show_default=True, callback=_markets,
              metavar="NAME:PRICE",
              help=f"A market to list and its starting price [USD per base unit], repeatable; each market's sub-pool "
                   f"is seeded with {MARKET_SEED:,} USDC (mock USDC only).")
@click.option("--global-seed", default=1_000_000, show_default=True, type=click.IntRange(min=0),
              help="USDC [whole dollars] seeded into the fund's global pool (mock USDC only).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Deployment file to write (default: deployments/local-<chain id>.json).")
def deploy(network: str | None, usdc_address: str | None, account_alias: str | None, markets: list[tuple[str, str]], global_seed: int, out: Path | None) -> None:
    """Deploy Backstop to a network and write the deployment file.

    Deploys the oracle (one mock price source per venue), insurance fund, clearinghouse, liquidation auction,
    standing-bid book and ADL queue; lists the markets, seeds the fund, prints each address and writes them with
    the parameters to a JSON file that `backstop keeper` and `backstop adl-queue` read. Without --network the
    chain lives only as long as the command: give the URL of a node you run to keep it.
    """
    from backstop.chain.deploy import MarketSpec, attach_usdc, deploy_system  # noqa: PLC0415

    if out is not None:
        require_writable_file(out, "deployment file")
    else:
        require_writable_dir(Path("deployments"), "deployments folder")
    seed = 0 if usdc_address else MARKET_SEED  # a real USDC: seeding would need the deployer's own funds
    specs = [MarketSpec(name, price, fund_seed=seed) for name, price in markets]
    with connected(network) as provider:
        deployer = load_account(account_alias, 0)
        if usdc_address:
            try:
                attach_usdc(usdc_address)
            except ValueError as exc:
                raise DeploymentError(str(exc)) from None
            global_seed = 0
        system = deploy_system(deployer, specs, global_seed=global_seed, usdc_address=usdc_address)
        result = system.deployment
        path = result.write(out or Path("deployments") / f"local-{result.chain_id}.json")
        click.echo(f"network:  {result.network} (chain id {result.chain_id})")
        uri = getattr(provider, "http_uri", None)
        if uri:
            click.echo(f"rpc:      {uri}" + (" (until this command ends)" if network is None or network in NETWORKS else ""))
        for name, address in result.contracts.items():
            click.echo(f"{name + ':':<28} {address}")
        click.echo(f"written:  {path}")
        click.echo(_next_steps(network, path, [name for name, _ in markets]))


def _next_steps(network: str | None, path: Path, markets: list[str]) -> str:
    """What to do with the deployment: on a chain this command started, that it is gone when the command ends
    and how to keep one; on a node the user runs, the commands that read and keep it."""
    if network is None or network in NETWORKS:
        return (
            f"note: this chain ({network or 'anvil'}, started by this command) stops when the command ends, and the "
            f"contracts with it: {path} is only a record.\n"
            "to keep a deployment, run a node yourself and deploy to it:\n"
            "  anvil --port 8545 &\n"
            "  backstop deploy --network http://127.0.0.1:8545\n"
            f"  backstop keeper --deployment {path} --network http://127.0.0.1:8545"
        )
    return (
        "next:\n"
        f"  backstop keeper --deployment {path} --network {network}\n"
        f"  backstop adl-queue --deployment {path} --network {network} --market {markets[0]}"
    )
