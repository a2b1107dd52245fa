"""Every table of the config refuses what it does not know, and checks what it does."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config, parse_config
from gateway.venues import build_venue
from oms.universe import default_universe

ROOT = Path(__file__).resolve().parents[2]
SIM = '[[venues]]\nname = "SIM"\nkind = "sim"\n'


def test_venue_options_are_checked_and_reach_the_venue():
    cfg = parse_config(SIM + "seed = 11\nliquidity = false\ntick_interval = 0.5\n")
    venue = cfg.venues[0]
    assert (venue.name, venue.kind) == ("SIM", "sim")
    assert venue.options == {"seed": 11, "liquidity": False, "tick_interval": 0.5}
    built = build_venue(venue, default_universe())
    assert built.name == "SIM"
    example = load_config(ROOT / "examples" / "fixgate.toml").venues[0]
    assert example.options == {"seed": 7, "liquidity": True, "tick_interval": 0.05}


def test_market_structure_keys_reach_the_sim_venue():
    cfg = parse_config(SIM + "liquidity_scale = 2.5\nmaker_fee_bps = -0.2\ntaker_fee_bps = 0.3\n"
                       "latency_ms = 1.5\nmessages_per_second = 200\n")
    built = build_venue(cfg.venues[0], default_universe())
    assert (built.maker_fee_bps, built.taker_fee_bps) == (Decimal("-0.2"), Decimal("0.3"))
    assert (built.latency_ms, built.messages_per_second) == (1.5, 200)
    # The scale sizes the seeded book: 2.5 times the depth of an unscaled venue.
    plain = build_venue(parse_config(SIM).venues[0], default_universe())
    deep, thin = built.depth("AAPL", 5), plain.depth("AAPL", 5)
    assert sum(q for _, q in deep.bids) == Decimal("2.5") * sum(q for _, q in thin.bids)


def test_the_demo_config_runs_two_sim_venues():
    venues = load_config(None).venues
    assert [(v.name, v.kind) for v in venues] == [("SIM-A", "sim"), ("SIM-B", "sim")]
    # Own seeds: two independent books, not one book twice.
    assert venues[0].options["seed"] != venues[1].options["seed"]


@pytest.mark.parametrize("text,message", [
    # Keys a venue table does not know (#11): named, with the table and what it takes.
    (SIM + "fees = 0.1\n", "[venues[0]]: unknown key(s) fees for a sim venue (SIM); "
     "known: kind, latency_ms, liquidity, liquidity_scale, maker_fee_bps, messages_per_second, "
     "name, seed, taker_fee_bps, tick_interval"),
    (SIM + "latency = 5\nfees = 1\n", "[venues[0]]: unknown key(s) fees, latency for"),
    # The market-structure keys of a sim venue: type and range, named.
    (SIM + "liquidity_scale = 0\n", "[venues[0]] liquidity_scale must be a positive number"),
    (SIM + 'liquidity_scale = "big"\n', "liquidity_scale must be a number, got a string"),
    (SIM + "liquidity_scale = 5000\n", "liquidity_scale must be at most 1000, got 5000"),
    (SIM + "maker_fee_bps = 150\n",
     "[venues[0]] maker_fee_bps must be between -100 and 100, got 150"),
    (SIM + 'taker_fee_bps = "0.3"\n', "taker_fee_bps must be a number, got a string"),
    (SIM + "taker_fee_bps = nan\n", "taker_fee_bps must be between -100 and 100, got nan"),
    (SIM + "latency_ms = -1\n", "[venues[0]] latency_ms must be between 0 and 60000, got -1"),
    (SIM + "latency_ms = true\n", "latency_ms must be a number, got a boolean"),
    (SIM + "messages_per_second = 0\n",
     "[venues[0]] messages_per_second must be at least 1, got 0"),
    (SIM + "messages_per_second = 2.5\n", "messages_per_second must be an integer, got a number"),
    ('[[venues]]\nname = "X"\nkind = "alpaca"\n',
     "[venues[0]] kind 'alpaca' is not supported; supported kinds: sim, fix"),
    (SIM + 'seed = "seven"\n', "[venues[0]] seed must be an integer, got a string"),
    (SIM + "seed = 1.5\n", "[venues[0]] seed must be an integer, got a number"),
    (SIM + 'liquidity = "yes"\n', "[venues[0]] liquidity must be true or false, got a string"),
    (SIM + "liquidity = 1\n", "[venues[0]] liquidity must be true or false, got an integer"),
    (SIM + "tick_interval = 0\n", "[venues[0]] tick_interval must be a positive number, got 0"),
    (SIM + "tick_interval = -1.0\n", "tick_interval must be a positive number, got -1.0"),
    (SIM + "tick_interval = nan\n", "tick_interval must be a positive number, got nan"),
    (SIM + 'tick_interval = "fast"\n', "tick_interval must be a number, got a string"),
    ('[[venues]]\nname = "SIM"\n', "[venues[0]]: name and kind are required"),
    ('[[venues]]\nname = 5\nkind = "sim"\n', "[venues[0]] name must be a string"),
    (SIM + SIM, "[[venues]]: name values must be unique"),
    ('venues = []\n', "[[venues]]: at least one venue is required"),
    ('[venues]\nname = "SIM"\nkind = "sim"\n', "[[venues]] must be an array of tables"),
    # The other tables.
    ('server = 5\n', "[server] must be a table, got an integer"),
    ('[server]\nlog_format = "xml"\n', "[server] log_format must be one of console, json"),
    ('[server]\ndata_dir = 3\n', "[server] data_dir must be a string, got an integer"),
    ('[database]\nurl = ["a"]\n', "[database] url must be a string, got an array"),
    ('[fix]\nport = "9878"\n', "[fix] port must be an integer, got a string"),
    ('[fix]\nport = 70000\n', "[fix] port must be between 0 and 65535, got 70000"),
    ('[fix.settings]\nHeartBtInt = [30]\n', "[fix.settings] HeartBtInt must be a string"),
    ('[[fix.clients]]\ncomp_id = "A"\nacount = "X"\n',
     "[fix.clients[0]]: unknown key(s) acount"),
    ('[[fix.clients]]\nbegin_string = "FIX.4.4"\n', "[fix.clients[0]]: comp_id is required"),
    ('[[fix.clients]]\ncomp_id = "A"\naccount = "A\\u0000"\n',
     "[fix.clients[0]] account contains a NUL byte at position 1"),
    ('[fix]\nclients = "CLIENT1"\n', "[[fix.clients]] must be an array of tables"),
    ('[api]\ntoken_ttl_s = 0\n', "[api] token_ttl_s must be at least 1, got 0"),
    ('[api]\ntoken_ttl_s = true\n', "[api] token_ttl_s must be an integer, got a boolean"),
    ('[[api.users]]\nname = "a"\npassword = "b"\nrole = ["admin"]\n',
     "[api.users[0]]: unknown key(s) role"),
    ('[[api.users]]\nname = "a"\npassword = "b"\nroles = "admin"\n',
     "[api.users[0]] roles must be a list of strings, got a string"),
    ('[[api.users]]\nname = "a"\npassword = "b"\nroles = ["root"]\n',
     "[api.users[0]] roles: unknown role(s) root; known: admin, risk, compliance, viewer"),
    ('[[api.users]]\nname = "a"\npassword = "b"\n[[api.users]]\nname = "a"\npassword = "c"\n',
     "[api.users]: name values must be unique"),
    ('[limits]\nmax_open_orders = "1e99999999999"\n',
     "[limits]: max_open_orders must be at most 1,000,000,000,000,000, got '1e99999999999'"),
    ('[limits]\nequity = "1e-99999"\n', "[limits]: equity has more than 9 decimal places"),
    ('[compliance.owner_groups]\nFUND1 = "ACC1"\n',
     "[compliance.owner_groups] FUND1 must be a list of account names, got a string"),
    ('[compliance.owner_groups]\nFUND1 = ["ACC1", 2]\n',
     "[compliance.owner_groups] FUND1 must be a list of account names, got an array"),
    ('[compliance.owner_groups]\nF1 = ["ACC1"]\nF2 = ["ACC1"]\n',
     "[compliance.owner_groups] account ACC1 is in two groups: F1 and F2"),
    ('[compliance]\nowner_groups = ["ACC1"]\n', "[compliance.owner_groups] must be a table"),
    ('[compliance]\nduplicate_window_s = "1s"\n', "[compliance] duplicate_window_s must be a"),
    ('[compliance]\nduplicate_window_s = -1\n', "duplicate_window_s must be a non-negative"),
    ('[compliance.trading_hours]\nstart = "09:30"\nzone = "UTC"\n',
     "[compliance.trading_hours]: unknown key(s) zone"),
    ('[compliance.trading_hours]\ntimezone = 5\n', "timezone must be a string, got an integer"),
    ('[[instruments]]\nsymbol = "X"\nreference_price = 1\nlot = 5\n',
     "[instruments[0]]: unknown key(s) lot"),
    ('[[instruments]]\nsymbol = 7\nreference_price = 1\n',
     "[instruments[0]] symbol must be a string"),
    ('[[instruments]]\nsymbol = "X"\nreference_price = true\n',
     "[instruments[0]]: prices and sizes must be numbers, got reference_price = True"),
    ('[[instruments]]\nsymbol = "X"\nreference_price = inf\n', "must be positive"),
    ('instruments = {symbol = "X"}\n', "[[instruments]] must be an array of tables"),
])
def test_a_key_or_value_a_table_does_not_take_is_refused_by_name(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text)


def test_toml_local_times_are_trading_hours_too():
    cfg = parse_config("[compliance.trading_hours]\nstart = 09:30:00\nend = 16:00:00\n")
    assert str(cfg.trading.open) == "09:30:00" and cfg.trading.timezone == "America/New_York"
    assert str(cfg.trading.close) == "16:00:00"
