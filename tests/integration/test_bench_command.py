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
        s = result[side]
        assert s["acked"] == 200 and s["rejected"] == 0
        assert 0 < s["p50_ms"] <= s["p99_ms"] <= s["max_ms"]
    ratio = result["fixgate"]["orders_per_s"] / result["baseline"]["orders_per_s"]
    assert result["ratio"] == pytest.approx(ratio, abs=0.01)


def test_replay_bench_restarts_on_the_journal_it_wrote():
    result = bench("--replay", "3000")
    assert result["events"] >= 3000
    # About 3% of the synthetic orders are left working: they are back at the venue.
    assert 5 <= result["open_orders"] <= 60
    assert result["replay_s"] is not None and result["first_ack_s"] > 0


def test_flat_day_bench_measures_before_and_after_the_day():
    result = bench("--flat-day", "600", "--orders", "300", "--rate", "300")
    assert result["fresh"]["acked"] == 300 and result["after"]["acked"] == 300
    assert result["day"]["acked"] == 600
    assert result["orders_in_memory"] >= 300 + 600 + 300  # warm-up orders too
    assert result["p99_ratio"] == pytest.approx(
        result["after"]["p99_ms"] / result["fresh"]["p99_ms"], abs=0.01)


def test_kill_switch_bench_cancels_every_working_order():
    result = bench("--kill-switch", "60", "--sessions", "2")
    assert result["kill_switch"]["canceled"] == 60
    assert result["kill_switch"]["all_canceled_at_venue"] is True
