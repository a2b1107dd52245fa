"""Daily closes per symbol: CSV files in, the `price_history` table, return matrices out.

The analytics in `risk/analytics` take arrays; this module is where they come
from. Rows are keyed (symbol, trade_date); a later import or a later close of the
same date replaces the earlier one.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from risk.analytics.measures import Array


@dataclass(frozen=True)
class DailyClose:
    symbol: str
    trade_date: dt.date
    close: float
    volume: int | None = None


class PriceFileError(ValueError):
    pass


def read_csv(path: Path) -> list[DailyClose]:
    """One `SYMBOL.csv` (date,open,high,low,close,volume, as in shared/data/daily):
    the symbol is the file name. Refuses a file without date/close columns or
    with an unreadable row, naming the file and line."""
    symbol = path.stem.upper()
    if not symbol:
        raise PriceFileError(f"{path}: cannot take a symbol from the file name")
    rows = []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields = set(reader.fieldnames or ())
        if not {"date", "close"} <= fields:
            raise PriceFileError(f"{path}: needs 'date' and 'close' columns, has "
                                 f"{sorted(fields)}")
        for line, row in enumerate(reader, start=2):
            try:
                close = float(row["close"])
                if not math.isfinite(close) or close <= 0:
                    raise ValueError(f"close {row['close']!r} is not a positive price")
                vol = row.get("volume") or ""
                rows.append(DailyClose(symbol, dt.date.fromisoformat(row["date"]), close,
                                       int(float(vol)) if vol else None))
            except (ValueError, TypeError) as exc:
                raise PriceFileError(f"{path}, line {line}: {exc}") from None
    return rows


async def upsert(pool: asyncpg.Pool, rows: Iterable[DailyClose], source: str, *,
                 replace: bool = True) -> int:
    """Write closes; an existing (symbol, date) is replaced, or kept with replace=False."""
    data = [(r.symbol, r.trade_date, r.close, r.volume, source) for r in rows]
    conflict = ("DO UPDATE SET close = EXCLUDED.close, volume = EXCLUDED.volume,"
                " source = EXCLUDED.source" if replace else "DO NOTHING")
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO price_history (symbol, trade_date, close, volume, source)"
            f" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (symbol, trade_date) {conflict}", data)
    return len(data)


def daily_closes(payload: dict[str, Any]) -> list[DailyClose]:
    """The closes a day_closed event carries (`risk.daily_closes`), as rows."""
    date = dt.date.fromisoformat(payload["date"])
    return [DailyClose(symbol, date, float(c["close"]), int(Decimal(c["volume"])))
            for symbol, c in payload.get("closes", {}).items()]


async def load_closes(pool: asyncpg.Pool, symbols: Sequence[str],
                      days: int) -> dict[str, list[tuple[dt.date, float]]]:
    """The last `days` closes of each symbol, oldest first (symbols with none are absent)."""
    out: dict[str, list[tuple[dt.date, float]]] = {}
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT symbol, trade_date, close FROM (SELECT symbol, trade_date, close,"
            " row_number() OVER (PARTITION BY symbol ORDER BY trade_date DESC) AS k"
            " FROM price_history WHERE symbol = ANY($1::text[])) t WHERE k <= $2"
            " ORDER BY symbol, trade_date", list(symbols), days)
    for r in rows:
        out.setdefault(r["symbol"], []).append((r["trade_date"], float(r["close"])))
    return out


def aligned_returns(closes: dict[str, list[tuple[dt.date, float]]],
                    symbols: Sequence[str]) -> tuple[list[dt.date], Array]:
    """Daily simple returns of `symbols` on the dates all of them have a close.

    (dates of the returns, (T, N) matrix). A date one symbol lacks is dropped for all,
    so every return spans the same two closes for every column.
    """
    if not symbols:
        return [], np.zeros((0, 0))
    by_date = [dict(closes[s]) for s in symbols]
    dates = sorted(set.intersection(*(set(d) for d in by_date)))
    px = np.array([[d[day] for d in by_date] for day in dates], dtype=np.float64)
    if len(dates) < 2:
        return [], np.zeros((0, len(symbols)))
    return dates[1:], px[1:] / px[:-1] - 1.0


def read_directory(data: Path, symbols: Sequence[str] | None = None
                   ) -> dict[str, list[tuple[dt.date, float]]]:
    """Every SYMBOL.csv in `data` (or only `symbols`) as {symbol: [(date, close)]}."""
    files = sorted(data.glob("*.csv"))
    if symbols:
        wanted = {s.upper() for s in symbols}
        missing = wanted - {f.stem.upper() for f in files}
        if missing:
            raise PriceFileError(f"no CSV file in {data} for {', '.join(sorted(missing))}")
        files = [f for f in files if f.stem.upper() in wanted]
    out = {}
    for f in files:
        try:
            rows = read_csv(f)
        except PriceFileError:
            if symbols:
                raise
            continue  # a non-price CSV in the folder (e.g. a symbol list) is not a symbol
        out[f.stem.upper()] = [(r.trade_date, r.close) for r in rows]
    if not out:
        raise PriceFileError(f"no SYMBOL.csv price files in {data}")
    return out
