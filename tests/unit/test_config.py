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
