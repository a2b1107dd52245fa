"""The default symbol universe.

Reference prices are the closes of 2021-12-31 from the daily Yahoo Finance
data the project is tested against (see ../shared/data/PROVENANCE.md): those
closes are split- and dividend-adjusted as of 2026, so they are realistic
levels, not the prints of that day. Sectors are GICS; broad, bond and
commodity ETFs carry an asset-class label instead.
"""

from __future__ import annotations

from decimal import Decimal

from oms.instruments import Instrument, Universe

REFERENCE_DATE = "2021-12-31"

# symbol, sector, reference close
_TABLE: tuple[tuple[str, str, str], ...] = (
    ("AAPL", "Information Technology", "173.45"),
    ("MSFT", "Information Technology", "323.97"),
    ("IBM", "Information Technology", "111.86"),
    ("AMZN", "Consumer Discretionary", "166.72"),
    ("GOOGL", "Communication Services", "143.58"),
    ("JPM", "Financials", "140.57"),
    ("BAC", "Financials", "39.76"),
    ("GS", "Financials", "342.35"),
    ("JNJ", "Health Care", "150.49"),
    ("PFE", "Health Care", "45.72"),
    ("XOM", "Energy", "52.38"),
    ("CVX", "Energy", "97.99"),
    ("KO", "Consumer Staples", "51.85"),
    ("WMT", "Consumer Staples", "45.60"),
    ("BA", "Industrials", "201.32"),
    ("SPY", "Broad Market ETF", "446.90"),
    ("QQQ", "Broad Market ETF", "387.03"),
    ("IWM", "Broad Market ETF", "210.30"),
    ("TLT", "Fixed Income ETF", "125.32"),
    ("GLD", "Commodity ETF", "170.96"),
)

TICK = Decimal("0.01")
LOT = Decimal("1")


def default_universe() -> Universe:
    return Universe(
        Instrument(symbol, sector, TICK, LOT, Decimal(close)) for symbol, sector, close in _TABLE
    )
