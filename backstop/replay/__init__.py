"""The replay engine: a crash scenario played against a freshly deployed Backstop on a live chain."""

from backstop.replay.engine import NothingToResume, Replay, ReplayFailed, resume_replay, run_replay  # noqa: F401
