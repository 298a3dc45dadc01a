"""Keepers with ``batch: true`` send the liquidations they start at one second in one market as one
``LiquidationAuction.liquidateMany`` (one oracle reading, one transaction) instead of one ``liquidate`` each.

The decisions stay the keepers' own, one per position (backstop.replay.actors): this only regroups how they
are sent. A trader the batch skips (``LiquidationSkipped``: no longer liquidatable when the block ran, already
in liquidation) leaves its pending mark, as a reverted ``liquidate`` does (backstop.replay.mirror). A batch holds
at most BATCH_LIMIT liquidations, and no more than one block of the scenario's `chain` holds (`batch_size`).
"""

from __future__ import annotations

from collections.abc import Callable

from backstop.chain.blockspace import FIRST_GUESS
from backstop.replay.intents import Intent
from backstop.replay.state import KeeperState, ReplayContext

__all__ = ["BATCH_LIMIT", "batch_liquidations", "batch_size"]

BATCH_LIMIT = 40  # liquidations per liquidateMany at most: well inside a 30M block through auctions (~450k each)
BATCH_GAS = 25_000_000  # [gas] limit of a liquidateMany transaction (gas is free on the replay's own chains)


def batch_liquidations(ctx: ReplayContext, intents: list[Intent], cascade: Callable[[tuple[str, str], int], None], t: int) -> list[Intent]:
    """`intents` with every batching keeper's liquidations of one market merged into liquidateMany intents (at
    the place of the group's first), in chunks of BATCH_LIMIT; `cascade(key, t)` records a liquidation's cascade
    generation, as a single liquidation's sender does."""
    def group(intent: Intent) -> tuple[str, str] | None:
        k = intent.keeper
        return (k.name, intent.key[1][0]) if intent.key[0] == "liquidate" and k is not None and k.spec.batch else None

    members: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (keeper, market) -> its positions, in order
    for intent in intents:
        g = group(intent)
        if g is not None:
            members.setdefault(g, []).append(intent.key[1])
    out: list[Intent] = []
    for intent in intents:
        g = group(intent)
        if g is None:
            out.append(intent)
        elif intent.key[1] == members[g][0]:  # the group's first place
            keys = tuple(members[g])
            out.append(Intent(("liquidateMany", intent.keeper.name, keys), intent.keeper, _sender(ctx, intent.keeper, keys, cascade, t)))
    return out


def batch_size(ctx: ReplayContext) -> int:
    """Liquidations per liquidateMany: BATCH_LIMIT, or fewer when the chain's blocks (the scenario's `chain`, see
    backstop.chain.blockspace) hold fewer at the gas a batched liquidation last used: a batch fits one block."""
    space = ctx.chain.space
    if space is None:
        return BATCH_LIMIT
    per = space.learned.get("liquidateMany", FIRST_GUESS["liquidateMany"])
    return max(1, min(BATCH_LIMIT, space.gas_limit // per))


def _sender(ctx: ReplayContext, k: KeeperState, keys: tuple[tuple[str, str], ...], cascade: Callable[[tuple[str, str], int], None], t: int) -> Callable[[], None]:
    def send() -> None:
        m = keys[0][0]
        auction = ctx.c["auction"]
        size = batch_size(ctx)
        for start in range(0, len(keys), size):
            chunk = keys[start : start + size]
            for key in chunk:
                cascade(key, t)
            data = ctx.chain.encode(auction, "liquidateMany", [ctx.mids[m], [trader for _, trader in chunk]])
            ctx.chain.send(k.wallet, auction.address, data, f"liquidateMany:{k.name}", gas=BATCH_GAS, items=len(chunk))
            ctx.state.pending_liquidation.update(chunk)
            k.liquidations += len(chunk)

    return send
