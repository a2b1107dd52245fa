"""Derive the stress-test data fixgate ships (gateway/data/stress.json), once, from the
collected real daily data (../shared/data/daily/*.csv, sectors.csv, daily_symbols.csv).

    python tools/derive_scenarios.py [--data /work/shared/data] [--out gateway/data/stress.json]

What it writes (see README "Stress testing" and PROVENANCE.md for the data's caveats):
- scenarios: for each crisis window, the daily simple returns of every symbol's adjusted
  close (close[t] / close[t-1] - 1, the first return measured from the last close before
  the window), of each GICS sector (its SPDR sector ETF: XLE for Energy, ...) and of the
  market (SPY), rounded to 6 decimals;
- sectors: the GICS sector of every S&P 500 constituent in sectors.csv (current, not
  point-in-time);
- liquidity: per symbol in daily/, the average daily volume and the standard deviation of
  daily returns over the last 60 and 250 trading days of the data (to 2021-12-31).
The server never reads ../shared/data: only this JSON, inside the package.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
from pathlib import Path

SCENARIOS = [
    ("gfc-2008", "2008-09-01", "2008-11-30",
     "Global financial crisis: Lehman's failure (15 Sep 2008), AIG, TARP and the October "
     "crash, Sep-Nov 2008"),
    ("covid-2020", "2020-02-19", "2020-03-31",
     "COVID-19 crash: from the S&P 500's high of 19 Feb 2020 through the March lows and "
     "the first rebound, Feb-Mar 2020"),
]
SECTOR_ETFS = {
    "Materials": "XLB", "Energy": "XLE", "Financials": "XLF", "Industrials": "XLI",
    "Information Technology": "XLK", "Consumer Staples": "XLP", "Utilities": "XLU",
    "Health Care": "XLV", "Consumer Discretionary": "XLY",
}
MARKET = "SPY"


def closes(path: Path) -> list[tuple[str, float, float]]:
    with path.open(newline="") as f:
        return [(r["date"], float(r["close"]), float(r["volume"])) for r in csv.DictReader(f)]


def window_returns(rows: list[tuple[str, float, float]], start: str, end: str) -> list[float]:
    idx = [i for i, r in enumerate(rows) if start <= r[0] <= end]
    if not idx or idx[0] == 0:
        return []
    return [round(rows[i][1] / rows[i - 1][1] - 1, 6) for i in idx]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data", type=Path)
    parser.add_argument("--out", default=Path(__file__).parent.parent / "gateway/data/stress.json",
                        type=Path)
    args = parser.parse_args()
    data = {p.stem: closes(p) for p in sorted((args.data / "daily").glob("*.csv"))}
    spy_dates = [r[0] for r in data[MARKET]]
    scenarios = []
    for name, start, end, description in SCENARIOS:
        dates = [d for d in spy_dates if start <= d <= end]
        symbols = {s: window_returns(rows, start, end) for s, rows in data.items()}
        symbols = {s: r for s, r in symbols.items() if len(r) == len(dates)}
        sectors = {sector: symbols[etf] for sector, etf in SECTOR_ETFS.items() if etf in symbols}
        scenarios.append({"name": name, "start": dates[0], "end": dates[-1],
                          "description": description, "dates": dates,
                          "market": symbols[MARKET], "sectors": sectors, "symbols": symbols})
    with (args.data / "sectors.csv").open(newline="") as f:
        sector_of = {r["Symbol"]: r["GICS Sector"] for r in csv.DictReader(f)}
    with (args.data / "daily_symbols.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            if r["gics_sector"]:
                sector_of.setdefault(r["symbol"], r["gics_sector"])
    liquidity = {}
    for symbol, rows in data.items():
        tail = rows[-250:]
        rets = [b[1] / a[1] - 1 for a, b in itertools.pairwise(tail)]
        mean = sum(rets) / len(rets)
        vol = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
        adv = sum(r[2] for r in rows[-60:]) / 60
        liquidity[symbol] = {"adv": round(adv), "daily_vol": round(vol, 6)}
    doc = {"source": "derived by tools/derive_scenarios.py from ../shared/data (Yahoo Finance "
                     "daily adjusted closes via yfinance, internal testing only; S&P 500 "
                     "constituents, PDDL); see README 'Stress testing'",
           "liquidity_asof": data[MARKET][-1][0],
           "scenarios": scenarios, "sectors": dict(sorted(sector_of.items())),
           "liquidity": liquidity}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): "
          + ", ".join(f"{s['name']} {s['start']}..{s['end']} {len(s['dates'])} days "
                      f"market {math.prod(1 + r for r in s['market']) - 1:+.2%}"
                      for s in scenarios))


if __name__ == "__main__":
    main()
