"""A small national cycle replayed end to end (``make replay`` runs all 1,869 counties): see tests/replay.py."""

from __future__ import annotations

import os

import pytest

from tests.conftest import SUITE_CAPS
from tests.replay import Replay

COUNTIES = int(os.environ.get("KXFLOW_REPLAY_COUNTIES", "36"))
SMALL = COUNTIES <= 36  # the run inside make test has a time cap; make replay's full run has none


@pytest.mark.pg_only
def test_a_call_replayed_end_to_end(world, start_worker, smtp_sink, capsys):
    replay = Replay(
        world, start_worker, smtp_sink, COUNTIES, cap_seconds=SUITE_CAPS["test_replay.py"] if SMALL else None
    )
    try:
        replay.run()
        replay.check()
    finally:
        with capsys.disabled():
            print("\n" + "\n".join(replay.fig.lines()))
    figures = replay.fig
    # the plan reaches every end it was written for
    assert {"draft", "withdrawn", "rejected", "designated"} <= set(figures.end_states)
    assert figures.emails_sent > 0 and figures.worker_runs >= 4
