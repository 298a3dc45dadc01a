"""Keepers in continuous time: when, between two points of the replay's grid, a keeper would act.

The grid (the scenario's `step`) only samples the report's series and moves the on-chain price sources on a
schedule; it does not decide when keepers act. Between grid points the engine asks `KeeperClock.next_action`
for the first whole second at which some online keeper's rule holds, given the scenario's price path (linear
between its points, as the venues' answers are) and the replay state as the chain last left it: a position
crossing its maintenance margin (the keeper acts its `latency` after the crossing), an auction's price reaching
a keeper's discount, an auction going stale, a queued liquidation becoming releasable, a bond's challenge
window closing, a capital withdrawal falling due. The engine then mines that second's price block and the
keepers' actions one second later, and asks again from there.

The search samples the interval every `PROBE` seconds and bisects to the second inside the first probe
interval where an action appears; the state does not change between blocks, and the rules are monotone in time
for a frozen state (prices of a running auction only fall, ages only grow, latencies only pass), so the
bisection finds the first second unless the price path crosses a threshold and back within one probe interval.
A position's crossing time is found the same way, on its own rule. Marks come from the reference oracle
(backstop.model.oracle) over fresh answers; the keepers then act on the marks the chain returns in that block.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from backstop.model import oracle as oracle_model
from backstop.replay.market import reference_mark
from backstop.replay.state import ReplayContext

PROBE = 30  # [seconds] how often the search samples an interval before bisecting
MARKS_KEPT = 4_096  # seconds of marks kept at most (a quiet hour's search asks for far fewer)


class KeeperClock:
    """Finds the next second at which a keeper acts. `decide(t, action_ts, marks)` returns the keys of the
    actions the keepers would take at scenario second `t` (see KeeperActors.intent_keys)."""

    def __init__(self, ctx: ReplayContext, decide: Callable[[int, dict[str, int | None]], set[Any]]) -> None:
        self.ctx = ctx
        self.decide = decide
        self.futile: set[Any] = set()  # actions sent at the last tick that changed nothing
        self.futile_version = -1  # the mirror's event count when they were found futile
        self.woken: set[Any] = set()  # the actions found at the second `next_action` returned last
        self._marks: dict[int, dict[str, int | None]] = {}  # second -> marks, at the markets' `_marks_version`
        self._marks_version = -1
        self.configs = {
            m: oracle_model.OracleConfig(s.oracle.max_age, s.oracle.max_deviation_bps, s.oracle.min_sources)
            for m, s in ctx.specs.items()
        }

    def marks(self, t: int) -> dict[str, int | None]:
        """Each market's oracle price [wad] at scenario second `t` by the reference model (None: no price).
        Kept per second until the markets' impulses change (the search for the next action asks again)."""
        version = self.ctx.market.version
        if version != self._marks_version or len(self._marks) > MARKS_KEPT:
            self._marks.clear()
            self._marks_version = version
        cached = self._marks.get(t)
        if cached is None:
            cached = self._marks[t] = self._reference_marks(t)
        return dict(cached)

    def _reference_marks(self, t: int) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        now = self.ctx.t0 + t
        for m, spec in self.ctx.specs.items():
            feeds = [self.ctx.market.feed(m, v, t) for v in spec.venues]
            out[m] = reference_mark([p for p, _ in feeds], now, self.configs[m], spec.source_decimals, [a for _, a in feeds])
        return out

    def found_futile(self, keys: Iterable[Any], version: int) -> None:
        """The actions `keys` were sent and the chain answered with no event: do not wake for them again until
        something changes (the mirror's event count moves past `version`)."""
        self.futile = set(keys)
        self.futile_version = version

    def _wants(self, t: int, version: int) -> bool:
        keys = self.decide(t, self.marks(t))
        if version == self.futile_version:
            keys -= self.futile
        self.woken = keys
        return bool(keys)

    def next_action(self, start: int, end: int, version: int, observe: Callable[[int, int], None]) -> int | None:
        """The first scenario second in [start, end] at which a keeper acts, or None. `observe(a, b)` records
        the positions that became liquidatable in (a, b] with their crossing times."""
        if start > end:
            return None
        lo = start - 1
        probe = start
        while True:
            observe(lo, probe)
            if self._wants(probe, version):
                hi = first_true(lo, probe, lambda t: self._wants(t, version))
                self._wants(hi, version)  # leaves `woken` as found at `hi`
                return hi
            if probe >= end:
                return None
            lo, probe = probe, min(end, probe + PROBE)


def first_true(lo: int, hi: int, holds: Callable[[int], bool]) -> int:
    """The smallest t in (lo, hi] with holds(t), given holds(hi) and (assumed) not holds(lo)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi
