"""`backstop`, the one command line (also reachable command by command as `ape run <script>`, see scripts/).

    backstop replay SCENARIO [--out DIR] [--network anvil|revm|hardhat|URL] [--set KEY=VALUE ...] [--variant NAME]
    backstop replay --resume DIR [--network ...]      (finish a replay that left a partial report in DIR)
    backstop compare SCENARIO [--vary KEY=V1,V2 ...] [--variant NAME ...] [--builtin NAME ...] [--out DIR] [--jobs N] [--network anvil|revm]
    backstop size-fund SCENARIO [--out DIR] [--tolerance F] [--safety F] [--jobs N] [--fund-triggers-only] [--network anvil|revm]
    backstop deploy [--network anvil|hardhat|URL] [--market NAME:PRICE ...] [--usdc ADDRESS] [--out FILE]
    backstop keeper --deployment FILE [--network ...] [--account ALIAS] [--latency S] [--rounds N] ...
    backstop adl-queue --deployment FILE --market NAME [--network ...] [--limit N]
    backstop bench [--quick] [--adl-sizes N,...] [--bid-sizes N,...] [--out FILE]
    backstop gas [--update] [--snapshot FILE]

Layout: ``errors`` (BackstopCommand: a BackstopError becomes ``backstop: <message>`` and its exit code, in one
place), ``connect`` (--network, the Ape connection, accounts, deployment files), ``options`` (shared option
values), and one module per command family: ``replay``, ``studies`` (compare, size-fund), ``deploy``,
``keeper`` (keeper, adl-queue), ``bench`` (bench, gas). Command modules import Ape and the engine only when a command runs,
so ``--help`` stays fast. Run the commands from the project folder (Ape reads ape-config.yaml and the compiled
contracts there).
"""

from __future__ import annotations

import click

from backstop.cli import bench, deploy, keeper, replay, studies

__all__ = ["main"]


@click.group()
def main() -> None:
    """Backstop: replay crashes against an on-chain insurance fund, liquidation auction and ADL queue; deploy it,
    run its keeper, read its ADL queue, and measure it."""


main.add_command(replay.replay)
main.add_command(studies.compare)
main.add_command(studies.size_fund)
main.add_command(deploy.deploy)
main.add_command(keeper.keeper)
main.add_command(keeper.adl_queue)
main.add_command(bench.bench)
main.add_command(bench.gas)
