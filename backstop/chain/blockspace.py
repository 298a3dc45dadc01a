"""Block space: a chain's blocks hold a limited amount of gas, so in a crash transactions queue for them.

A replay's own node mines whatever it is given (its block gas limit is set far above any block here), so the
limit the scenario asks for (``chain.block_gas_limit``, one block every ``chain.block_time`` seconds) is kept
by `BlockSpace` in front of it: `FastChain.mine_and_view` hands the node only the pending transactions that
fit (`BlockSpace.fill`), in sending order, and the rest wait for the next block. A transaction's gas is
known only once it ran, so a block is packed by each transaction's expected gas: what the last receipt of its
kind used (per item for a batch: a `liquidateMany` of n liquidations is n items), or, before any, a figure from
`make gas` (`FIRST_GUESS`). A sender whose transaction waits has its later ones wait too (nonce order), and a
transaction expected to need more than a whole block gets a block of its own. Senders named `exempt` (the
scenario's world: price sources and their pokes) take no block space and never wait.

Each block's packing is kept (`BlockRecord`: expected and actual gas, how many waited) and each mined
transaction's wait [seconds] from the first block it was offered to: the report's ``settlement``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["FIRST_GUESS", "BlockRecord", "BlockSpace", "Waited", "summary"]

# [gas] per item, before a receipt of the kind was seen: rounded up from snapshots/gas.json (make gas)
FIRST_GUESS = {
    "liquidate": 450_000,
    "liquidateMany": 450_000,  # per liquidation: as if none were absorbed by standing bids
    "take": 360_000,
    "redo": 200_000,
    "release": 450_000,
    "adl": 450_000,  # one counterparty; each more ~125k
    "trade": 400_000,  # a trader's own open or close (label trade:<kind>)
}
DEFAULT_GUESS = 300_000  # [gas] a kind not listed above


class _Pending(Protocol):
    tx_hash: bytes
    label: str
    sender: str
    items: int
    offered_at: int | None


@dataclass
class BlockRecord:
    """One block the replay packed: its time [seconds], expected and actual gas [gas], what it held back."""

    timestamp: int
    expected_gas: int
    transactions: int
    waiting: int  # transactions left for a later block
    gas_used: int = 0


@dataclass
class Waited:
    """A mined transaction that waited for block space: its kind, items (liquidations in a batch) and wait [s]."""

    kind: str
    items: int
    seconds: int


@dataclass
class BlockSpace:
    """The block gas limit [gas] and block time [seconds] a replay's chain keeps; see the module docstring."""

    gas_limit: int
    block_time: int
    exempt: set[str] = field(default_factory=set)  # senders outside the limit (the scenario's world)
    learned: dict[str, int] = field(default_factory=dict)  # kind -> [gas] per item, from the last receipt
    blocks: list[BlockRecord] = field(default_factory=list)
    waited: list[Waited] = field(default_factory=list)
    mined: dict[str, int] = field(default_factory=dict)  # kind -> items mined (waited or not)

    @staticmethod
    def kind(label: str) -> str:
        return label.split(":")[0]

    def expected(self, sent: _Pending) -> int:
        """[gas] the transaction is expected to use."""
        kind = self.kind(sent.label)
        return self.learned.get(kind, FIRST_GUESS.get(kind, DEFAULT_GUESS)) * max(1, sent.items)

    def fill(self, pending: list[Any], timestamp: int) -> tuple[list[Any], list[Any]]:
        """Splits `pending` (in sending order) into what goes into the block at `timestamp` and what waits."""
        now: list[Any] = []
        later: list[Any] = []
        waiting: set[str] = set()
        used = 0
        for sent in pending:
            if sent.offered_at is None:
                sent.offered_at = timestamp
            if sent.sender in self.exempt:
                now.append(sent)
                continue
            gas = self.expected(sent)
            if sent.sender in waiting or (used > 0 and used + gas > self.gas_limit):
                later.append(sent)
                waiting.add(sent.sender)
                continue
            now.append(sent)
            used += gas
        self.blocks.append(BlockRecord(timestamp, used, len(now), len(later)))
        return now, later

    def record(self, sent: Any, receipt: dict[str, Any], block_ts: int) -> None:
        """Learns from a mined transaction's receipt and keeps its wait."""
        kind, items = self.kind(sent.label), max(1, sent.items)
        if sent.sender not in self.exempt:
            self.learned[kind] = -(-int(receipt["gasUsed"]) // items)
            if self.blocks and self.blocks[-1].timestamp == block_ts:
                self.blocks[-1].gas_used += int(receipt["gasUsed"])
        self.mined[kind] = self.mined.get(kind, 0) + items
        wait = block_ts - (sent.offered_at if sent.offered_at is not None else block_ts)
        if wait > 0:
            self.waited.append(Waited(kind, items, wait))


LIQUIDATION_KINDS = ("liquidate", "liquidateMany")
WAIT_BUCKETS = (2, 10, 30, 60, 300, 3600)  # [seconds] upper bounds of the report's wait rows (then: longer)


def summary(space: BlockSpace) -> dict[str, Any]:
    """The report's ``settlement`` section (backstop.report.schema.Settlement) from a replay's block space."""
    liq = [w for w in space.waited if w.kind in LIQUIDATION_KINDS]
    waited = sum(w.items for w in liq)
    rows = []
    low = 0
    for high in (*WAIT_BUCKETS, None):
        n = sum(w.items for w in liq if w.seconds > low and (high is None or w.seconds <= high))
        rows.append({"over_s": low, "up_to_s": high, "liquidations": n})
        low = high if high is not None else low
    return {
        "block_gas_limit": space.gas_limit,
        "block_time": space.block_time,
        "blocks": len(space.blocks),
        "full_blocks": sum(1 for b in space.blocks if b.waiting),
        "peak_block_gas": max((b.gas_used for b in space.blocks), default=0),
        "transactions_waited": len(space.waited),
        "liquidations": sum(space.mined.get(k, 0) for k in LIQUIDATION_KINDS),
        "liquidations_waited": waited,
        "longest_wait_s": max((w.seconds for w in liq), default=0),
        "mean_wait_s": round(sum(w.seconds * w.items for w in liq) / waited, 3) if waited else 0.0,
        "waits": rows,
    }
