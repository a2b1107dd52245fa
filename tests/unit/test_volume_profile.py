"""VWAP volume profiles: the default, the builder on real 1-minute bars, the file format,
the `[execution]` config table and the `fixgate profile build` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.cli import main
from gateway.config import ConfigError, parse_config
from gateway.profiles import build_profiles, load_profiles, read_bars, symbol_of
from oms.execution.profile import (
    ProfileError,
    VolumeProfile,
    build,
    dumps,
    loads,
    profile_for,
    u_shaped,
)

INTRADAY = Path(__file__).resolve().parents[3] / "shared" / "data" / "intraday"
NY = ZoneInfo("America/New_York")
needs_data = pytest.mark.skipif(not INTRADAY.is_dir(), reason="no intraday data in ../shared")


def test_the_default_is_u_shaped_and_sums_to_one():
    p = u_shaped()
    assert len(p.fractions) == 78 and p.bin_minutes == 5
    assert sum(p.fractions) == pytest.approx(1)
    mid = p.fractions[39]
    assert p.fractions[0] > 2 * mid and p.fractions[-1] > p.fractions[0]
    assert p.cumulative(0) == 0 and p.cumulative(390) == 1 and p.cumulative(-5) == 0
    assert p.share(0, 195) == pytest.approx(0.5, abs=0.05)  # symmetric but for the close
    assert profile_for({}, "AAPL").fractions == p.fractions


def test_cumulative_interpolates_inside_a_bin_and_follows_the_session_clock():
    p = VolumeProfile("X", (0.5, 0.25, 0.25), open=datetime(2021, 1, 4, 9, 30).time(),
                      close=datetime(2021, 1, 4, 9, 45).time())
    assert p.bin_minutes == 5
    assert p.cumulative(2.5) == pytest.approx(0.25)
    assert p.cumulative(7.5) == pytest.approx(0.625)
    assert p.share(5, 15) == pytest.approx(0.5)
    # 14:35 UTC on a January day is 09:35 in New York: 5 minutes after the open.
    assert p.minutes_after_open(datetime(2021, 1, 4, 14, 35, tzinfo=UTC)) == 5


def test_build_pools_full_days_equally_and_skips_partial_ones():
    bars = []
    day1 = datetime(2021, 1, 4, 9, 30, tzinfo=NY)
    day2 = datetime(2021, 1, 5, 9, 30, tzinfo=NY)
    for m in range(390):
        # Day 1: all volume in the first hour; day 2, ten times the volume, flat.
        bars.append((day1 + timedelta(minutes=m), 100.0 if m < 60 else 0.0))
        bars.append((day2 + timedelta(minutes=m), 1000.0))
    bars.append((day1 - timedelta(minutes=30), 1e9))  # pre-market: ignored
    half = datetime(2021, 1, 6, 9, 30, tzinfo=NY)
    bars += [(half + timedelta(minutes=m), 5.0) for m in range(120)]  # a partial day: skipped
    p = build("X", bars, bin_minutes=30)
    assert p.days == 2 and len(p.fractions) == 13
    # Each day counts once: (1/2 + 1/13) / 2 in each of the first two bins.
    assert p.fractions[0] == pytest.approx((0.5 + 1 / 13) / 2)
    assert p.fractions[5] == pytest.approx((1 / 13) / 2)
    with pytest.raises(ProfileError, match="no full regular-session day"):
        build("X", bars[-120:])
    with pytest.raises(ProfileError, match="must divide the 390-minute session"):
        build("X", bars, bin_minutes=7)


def test_the_file_format_round_trips_and_bad_files_are_named():
    p = u_shaped(symbol="AAPL")
    again = loads(dumps({"AAPL": p}))["AAPL"]
    assert again.fractions == pytest.approx(p.fractions) and again.symbol == "AAPL"
    with pytest.raises(ProfileError, match="not a volume profile file"):
        loads('{"profiles": {}}', "x.json")
    with pytest.raises(ProfileError, match=r"x\.json: not JSON"):
        loads("{", "x.json")
    with pytest.raises(ProfileError, match=r"x\.json, AAPL: fractions must be a list of numbers"):
        loads(json.dumps({"format": "fixgate.volume_profile/1",
                          "profiles": {"AAPL": {"fractions": "flat"}}}), "x.json")
    with pytest.raises(ProfileError, match="unknown timezone"):
        loads(json.dumps({"format": "fixgate.volume_profile/1",
                          "profiles": {"AAPL": {"fractions": [1], "timezone": "Mars/Base"}}}))


def test_execution_config_loads_profiles_and_refuses_what_it_cannot(tmp_path):
    good = tmp_path / "p.json"
    good.write_text(dumps({"AAPL": u_shaped(symbol="AAPL")}))
    cfg = parse_config(f'[execution]\nvwap_profiles = ["{good}"]\n')
    assert cfg.execution.vwap_profiles == (good,) and set(cfg.execution.profiles) == {"AAPL"}
    assert parse_config("").execution.profiles == {}  # no data needed to run
    with pytest.raises(ConfigError, match=r"\[execution\]: unknown key\(s\) profiles"):
        parse_config('[execution]\nprofiles = []\n')
    with pytest.raises(ConfigError, match=r"vwap_profiles: no such file '/nope\.json'"):
        parse_config('[execution]\nvwap_profiles = ["/nope.json"]\n')
    with pytest.raises(ConfigError, match="vwap_profiles must be a list of strings"):
        parse_config('[execution]\nvwap_profiles = "p.json"\n')
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(ConfigError, match="not a volume profile file"):
        parse_config(f'[execution]\nvwap_profiles = ["{bad}"]\n')


def test_symbols_come_from_file_names():
    assert symbol_of(Path("AAPL_1min_2019-02_eqker.csv")) == "AAPL"
    assert symbol_of(Path("lumibot_AMZN_MINUTE.csv")) == "AMZN"
    with pytest.raises(ProfileError, match="no symbol in the file name"):
        symbol_of(Path("bars.csv"))


@needs_data
def test_bar_end_files_are_recognised_and_real_spy_volume_is_u_shaped():
    _, eqker_end = read_bars(INTRADAY / "SPY_1min_2019-02_eqker.csv")
    _, pratik_end = read_bars(INTRADAY / "SPY_1min_2025-07_pratikdkale.csv")
    assert eqker_end and not pratik_end
    spy = build_profiles([INTRADAY / "SPY_1min_2025-07_pratikdkale.csv",
                          INTRADAY / "SPY_1min_2019-02_eqker.csv"])["SPY"]
    assert spy.days == 21 + 5
    f = spy.fractions
    midday = min(f[30:50])
    # The shape every equity trader knows: the open and, above all, the close trade most.
    assert f[0] > 2 * midday and f[-1] > 4 * midday and f[-1] == max(f)
    assert sum(f) == pytest.approx(1)


@needs_data
def test_the_profile_command_builds_one_profile_per_symbol(tmp_path, capsys):
    out = tmp_path / "profiles.json"
    files = [str(INTRADAY / n) for n in ("AAPL_1min_2019-02_eqker.csv",
                                         "SPY_1min_2025-07_pratikdkale.csv")]
    assert main(["profile", "build", "--csv", *files, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "AAPL: 5 day(s), 78 bins of 5 min" in printed and "SPY: 21 day(s)" in printed
    profiles = load_profiles([out])
    assert set(profiles) == {"AAPL", "SPY"}
    assert main(["profile", "build", "--csv", str(tmp_path / "NONE.csv"), "--out",
                 str(out)]) == 2
    assert "cannot read" in capsys.readouterr().err
