"""The benchmark commands run end to end and print their figures (no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def bench(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "gateway.cli", "bench", "--json", *args],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_bench_against_fixgate_and_the_bare_baseline():
    result = bench("--orders", "200", "--sessions", "2", "--baseline")
    for side in ("fixgate", "baseline"):
        assert result[side]["acked"] == 200 and result[side]["rejected"] == 0
        assert result[side]["p50_ms"] > 0
    assert result["ratio"] > 0


def test_kill_switch_bench_cancels_every_working_order():
    result = bench("--kill-switch", "60", "--sessions", "2")
    assert result["kill_switch"]["canceled"] == 60
    assert result["kill_switch"]["all_canceled_at_venue"] is True
