"""`fixgate risk backtest` on the real daily data, and its refusals."""

import json
from pathlib import Path

import pytest

from gateway.cli import main

DAILY = Path(__file__).resolve().parents[3] / "shared" / "data" / "daily"  # ../shared
needs_data = pytest.mark.skipif(not DAILY.is_dir(), reason="needs shared/data/daily")


@needs_data
def test_backtest_json_shape_and_the_historical_99_passes_kupiec(capsys) -> None:
    rc = main(["risk", "backtest", "--data", str(DAILY), "--start", "2010-01-01",
               "--end", "2019-12-31", "--confidence", "0.99", "--symbols", "SPY,TLT,XLE,AAPL",
               "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["methods"]) == {"historical", "parametric", "monte_carlo"}
    h = out["methods"]["historical"]
    assert set(h) == {"observations", "exceptions", "kupiec_p", "christoffersen_p", "zone"}
    assert h["observations"] == 2516  # trading days 2010-01-04 .. 2019-12-31
    assert h["kupiec_p"] > 0.05 and h["zone"] in ("green", "yellow")


@needs_data
def test_backtest_table(capsys) -> None:
    assert main(["risk", "backtest", "--data", str(DAILY), "--start", "2019-01-01",
                 "--end", "2019-12-31", "--symbols", "SPY", "--window", "100"]) == 0
    text = capsys.readouterr().out
    assert "kupiec_p" in text and "historical" in text and "monte_carlo" in text


@pytest.mark.parametrize(("args", "words"), [
    (["--confidence", "1.2"], "--confidence must be in [0.5, 1)"),
    (["--symbols", "NOPE"], "no CSV file"),
    (["--start", "2006-02-01"], "--window needs 250"),
    (["--start", "yesterday"], "Invalid isoformat"),
])
def test_backtest_refusals(capsys, args: list[str], words: str) -> None:
    base = {"--data": str(DAILY), "--start": "2010-01-01", "--end": "2010-12-31",
            "--symbols": "SPY"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    argv = ["risk", "backtest", *[x for kv in base.items() for x in kv]]
    if not DAILY.is_dir() and "--confidence" not in args:
        pytest.skip("needs shared/data/daily")
    assert main(argv) == 2
    assert words in capsys.readouterr().err
