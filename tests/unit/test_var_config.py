"""[var]: what GET /risk/var measures against; bad keys and values refused by name."""

import pytest

from gateway.config import ConfigError, VarConfig, parse_config


def test_var_defaults_and_keys() -> None:
    assert parse_config("").var == VarConfig()
    cfg = parse_config('[var]\nbenchmark = "qqq"\nhistory_days = 250\n'
                       'monte_carlo_paths = 100000\nmonte_carlo_dist = "t"\nt_df = 4\n').var
    assert cfg == VarConfig("QQQ", 250, 100_000, "t", 4.0)


@pytest.mark.parametrize(("text", "message"), [
    ("[var]\nwindow = 250\n", "[var]: unknown key(s) window"),
    ("[var]\nt_df = 2\n", "[var] t_df must be more than 2"),
    ('[var]\nmonte_carlo_dist = "cauchy"\n', "monte_carlo_dist must be one of normal, t"),
    ("[var]\nhistory_days = 5\n", "history_days must be between 20 and 10000"),
    ("[var]\nmonte_carlo_paths = 10\n", "monte_carlo_paths must be between 1000"),
])
def test_bad_var_config_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert message in str(exc.value)
