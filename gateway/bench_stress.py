"""`fixgate bench --stress N`: stress tests and correlation checks on a book of N
positions, in this process, no server.

N positions over 10 accounts on 500 symbols: the 50 symbols of the shipped data (their own
crisis paths), the rest synthetic names given the shipped sectors in turn (sector paths),
every tenth none (the market's). Timed, best of 5: the gfc-2008 replay, custom shocks,
liquidity, and one correlation check of 500 held symbols over 60 returns (what the server
runs in a worker thread after each sample, when nothing has crossed since the last).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from gateway.stress import shipped
from risk import stress
from risk.correlation import CorrelationWatch, correlation

SYMBOLS = 500
ACCOUNTS = 10


def _best(fn: Callable[[], Any], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run_stress(n: int) -> dict[str, Any]:
    data = shipped()
    gfc = next(s for s in data.scenarios if s.name == "gfc-2008")
    real = sorted(gfc.symbols)
    sectors = sorted(gfc.sectors)
    sector_of = dict(data.sectors)
    names = list(real)
    for i in range(SYMBOLS - len(real)):
        name = f"SYN{i:03d}"
        names.append(name)
        if i % 10:
            sector_of[name] = sectors[i % len(sectors)]
    rng = np.random.default_rng(5)
    book = [stress.Holding(f"ACC{i % ACCOUNTS}", names[i % SYMBOLS],
                           Decimal(int(rng.integers(-5_000, 5_000)) or 1),
                           Decimal(str(round(float(rng.uniform(10, 500)), 2))))
            for i in range(n)]
    shocks = stress.parse_shocks({"AAPL": -0.2, "sector:Energy": -0.3, "market": -0.1})
    reference = {s: data.liquidity.get(s, stress.Liquidity(1_000_000, 0.02)) for s in names}
    prices = 100 * np.cumprod(1 + rng.normal(0, 0.01, (61, 1))
                              + rng.normal(0, 0.01, (61, SYMBOLS)), axis=0)
    watch = CorrelationWatch(0.9, 0.8, 60)
    at = datetime(2021, 1, 4, tzinfo=UTC)
    result = stress.replay(gfc, book, sector_of)
    return {
        "positions": n, "symbols": SYMBOLS, "accounts": ACCOUNTS,
        "gfc_pnl": str(result.pnl),
        "replay_ms": round(1000 * _best(lambda: stress.replay(gfc, book, sector_of)), 2),
        "shocks_ms": round(1000 * _best(lambda: stress.apply_shocks(shocks, book, sector_of)),
                           2),
        "liquidity_ms": round(1000 * _best(lambda: stress.liquidity(book, reference, 0.1)), 2),
        "correlation_check_ms": round(1000 * _best(
            lambda: watch.check(names, correlation(prices), at)), 2),
    }
