"""`ape run deploy [--network ...] [--usdc 0x...] [--out FILE]`: deploy Backstop and print the addresses.

With no --network, Ape starts a local Anvil (ape-foundry), deploys, and stops it when the script ends.
"""

from pathlib import Path

import click
from ape import accounts, networks
from ape.cli import ConnectedProviderCommand, network_option

from backstop.deploy import deploy


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--usdc", "usdc_address", default=None, help="Address of an existing 6-decimal USDC (default: deploy the test-only mock).")
@click.option("--account", "account_alias", default=None, help="Ape account alias to deploy with (default: the first test account).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Deployment file (default: deployments/<chain-id>.json).")
def cli(usdc_address, account_alias, out):
    deployer = accounts.load(account_alias) if account_alias else accounts.test_accounts[0]
    result = deploy(deployer, usdc_address=usdc_address)
    path = result.write(out or Path("deployments") / f"local-{result.chain_id}.json")
    click.echo(f"network:  {result.network} (chain id {result.chain_id})")
    click.echo(f"rpc:      {networks.provider.http_uri if hasattr(networks.provider, 'http_uri') else '?'}")
    for name, address in result.contracts.items():
        click.echo(f"{name + ':':<9} {address}")
    click.echo(f"written:  {path}")
