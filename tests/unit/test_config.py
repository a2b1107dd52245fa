import re
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config, parse_config
from gateway.fix.settings import render
from gateway.passwords import hash_password, verify_password

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads_and_passes_quickfix_settings_through(tmp_path):
    cfg = load_config(ROOT / "examples" / "fixgate.toml")
    assert [c.comp_id for c in cfg.fix.clients] == ["CLIENT1", "CLIENT2"]
    text = render(cfg, tmp_path)
    assert "HeartBtInt=30" in text and "MaxLatency=120" in text
    session2 = text.split("[SESSION]")[2]
    assert "ResetOnLogon=Y" in session2 and "BeginString=FIX.4.2" in session2
    assert "FIX42.xml" in session2
    assert cfg.trading.describe() == "09:30-16:00 America/New_York (Mon, Tue, Wed, Thu, Fri)"


def test_demo_config_is_the_default():
    cfg = load_config(None)
    assert cfg.fix.port == 9878 and cfg.api.port == 8000
    assert cfg.venues[0].kind == "sim"


@pytest.mark.parametrize(
    "text,message",
    [
        ("[fix]\nprot = 1\n", "[fix]: unknown key(s) prot"),
        ("[[fix.clients]]\ncomp_id='A'\nbegin_string='FIX.9'\n", "begin_string 'FIX.9'"),
        ("[[fix.clients]]\ncomp_id='A'\n[[fix.clients]]\ncomp_id='A'\n", "unique"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_with_a_message(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text)


def test_password_hash_round_trip_and_plaintext():
    stored = hash_password("s3cret", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$")
    assert verify_password("s3cret", stored) and not verify_password("S3cret", stored)
    assert verify_password("plain", "plain") and not verify_password("x", "plain")


def test_compliance_limits_and_instruments_sections():
    cfg = parse_config("""
[limits]
max_position_qty = 5000
loss_action = "reduce"
messages_per_second = 50
[compliance]
sell_short_action = "remark"
self_match = "cancel-oldest"
duplicate_window_s = 2
[compliance.owner_groups]
FUND1 = ["ACC1", "ACC2"]
[compliance.trading_hours]
start = "09:30"
end = "16:00"
timezone = "America/New_York"
[[instruments]]
symbol = "XYZ"
sector = "Energy"
reference_price = "12.34"
""")
    assert cfg.limits.max_position_qty == 5000 and cfg.limits.loss_action == "reduce"
    assert cfg.limits.messages_per_second == 50
    assert cfg.compliance.owner_groups == {"ACC1": "FUND1", "ACC2": "FUND1"}
    assert str(cfg.trading.open) == "09:30:00" and cfg.trading.timezone == "America/New_York"
    assert cfg.instruments[0].symbol == "XYZ" and str(cfg.instruments[0].tick_size) == "0.01"


@pytest.mark.parametrize("text,message", [
    ("[limits]\nmax_order_qty = -5\n", "[limits]: max_order_qty must be a non-negative number"),
    ("[compliance]\nself_match = \"always\"\n", "self_match must be one of"),
    ("[compliance.trading_hours]\nstart = \"9h\"\nend = \"16:00\"\n", "must be HH:MM"),
    ("[compliance.trading_hours]\ntimezone = \"Mars/Base\"\n", "unknown timezone"),
    ("[[instruments]]\nsymbol = \"X\"\n", "symbol and reference_price are required"),
    ("[[instruments]]\nsymbol = \"X\"\nreference_price = \"-1\"\n", "must be positive"),
])
def test_bad_risk_and_compliance_config_is_refused(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text)
