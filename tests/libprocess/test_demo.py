"""The runtime's demo (today's `tools/run-local`) works end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_exchanges_messages_and_reports_exit() -> None:
    """This test ensures that the demo's two OS processes exchange pings and pongs, print
    their metrics URLs, and that the link reports the child's exit."""
    result = subprocess.run([sys.executable, "-m", "libprocess.demo", "--count", "2",
                             "--interval", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "pong 1 from ponger@" in out and "pong 2 from ponger@" in out
    assert out.count("/metrics/snapshot") == 2
    assert "the link reported exited(ponger@" in out
