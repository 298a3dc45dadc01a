"""The replay engine: a crash scenario played against a freshly deployed Backstop on a live chain.

- ``runner``: the whole life cycle (`run_replay`, `resume_replay`): node, deployment, loop, report folder.
- ``engine``: the loop (`Replay`): steps of an oracle block and an action block.
- ``population``: the set-up: traders, market makers, keepers, standing bids.
- ``actors``: the keepers' decisions, ADL through the one executor (backstop.keeper.adl).
- ``mirror``: blocks mined, receipts and events into the replay state.
- ``state``: the one replay state every part shares.
- ``builder``: report.json's content from that state.
"""

from backstop.replay.engine import Replay  # noqa: F401
from backstop.replay.runner import NothingToResume, ReplayFailed, deploy_scenario, resume_replay, run_replay  # noqa: F401
