"""`fixgate prices import` and `fixgate risk backtest`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from gateway.config import Config, ConfigError, load_config
from gateway.price_history import (
    PriceFileError,
    aligned_returns,
    read_csv,
    read_directory,
    upsert,
)
from risk.analytics.backtest import METHODS, rolling_backtest


async def _import(config: Config, files: list[Path]) -> list[tuple[str, int]]:
    import asyncpg

    from gateway.database import EmbeddedPostgres, migrate

    batches = [(f, read_csv(f)) for f in files]  # every file read before anything is written
    embedded = None
    url = config.database_url
    if not url:
        # pgserver shares a server already running on this data dir (the gateway's):
        # this process registers as one more user and stops it only if it was the last.
        embedded = EmbeddedPostgres(Path(config.data_dir).resolve())
        url = await asyncio.to_thread(embedded.start)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await migrate(pool)
        return [(rows[0].symbol if rows else f.stem.upper(),
                 await upsert(pool, rows, f"csv:{f.name}")) for f, rows in batches]
    finally:
        await pool.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def _prices_import(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, args.data_dir)
    except ConfigError as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    files = [Path(f) for f in args.csv]
    for f in files:
        if not f.is_file():
            print(f"fixgate: no such file: {f}", file=sys.stderr)
            return 2
    try:
        done = asyncio.run(_import(config, files))
    except PriceFileError as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    for symbol, n in done:
        print(f"{symbol}: {n} daily closes imported")
    return 0


def run_backtest(data: Path, start: dt.date, end: dt.date, confidence: float, window: int,
                 symbols: list[str] | None) -> dict[str, Any]:
    closes = read_directory(data, symbols)
    # a symbol whose history starts after the first forecast's window would shrink
    # every day's book to the dates it has: leave it out and say so
    need_from = start - dt.timedelta(days=int(window * 1.6) + 10)
    usable = sorted(s for s, rows in closes.items() if rows and rows[0][0] <= need_from)
    left_out = sorted(set(closes) - set(usable))
    dates, rets = aligned_returns(closes, usable)
    first = next((i for i, d in enumerate(dates) if d >= start), len(dates))
    last = max((i for i, d in enumerate(dates) if d <= end), default=-1)
    if first < window:
        raise PriceFileError(f"only {first} days of returns before {start}, "
                             f"--window needs {window}")
    if last < first:
        raise PriceFileError(f"no data between {start} and {end}")
    result = rolling_backtest(rets[: last + 1], first, confidence, window)
    return {"start": str(dates[first]), "end": str(dates[last]), "confidence": confidence,
            "window": window, "symbols": usable, "left_out": left_out,
            "methods": {m: result[m].to_dict() for m in METHODS}}


def _backtest(args: argparse.Namespace) -> int:
    if not 0.5 <= args.confidence < 1:
        print("fixgate: --confidence must be in [0.5, 1)", file=sys.stderr)
        return 2
    if args.window < 20:
        print("fixgate: --window must be at least 20 days", file=sys.stderr)
        return 2
    try:
        start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
        symbols = [s.strip() for s in args.symbols.split(",") if s.strip()] \
            if args.symbols else None
        out = run_backtest(Path(args.data), start, end, args.confidence, args.window, symbols)
    except (ValueError, PriceFileError) as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"equal-weighted book of {len(out['symbols'])} symbols, {out['start']} .. "
          f"{out['end']}, {out['confidence']:.1%} 1-day VaR from the previous "
          f"{out['window']} days" + (f" (left out, history too short: "
                                     f"{', '.join(out['left_out'])})" if out["left_out"] else ""))
    print(f"{'method':<12} {'days':>6} {'exceptions':>10} {'expected':>9} {'kupiec_p':>9} "
          f"{'christoffersen_p':>16} zone")
    for m, r in out["methods"].items():
        expected = r["observations"] * (1 - out["confidence"])
        print(f"{m:<12} {r['observations']:>6} {r['exceptions']:>10} {expected:>9.1f} "
              f"{r['kupiec_p']:>9.4f} {r['christoffersen_p']:>16.4f} {r['zone']}")
    return 0


def add_risk_parsers(subparsers: Any) -> None:
    prices = subparsers.add_parser("prices", help="the daily price history of the risk analytics")
    psub = prices.add_subparsers(dest="prices_command", required=True)
    imp = psub.add_parser("import", help="import SYMBOL.csv daily closes into the database")
    imp.add_argument("--config", help="TOML config file (default: the built-in demo config)")
    imp.add_argument("--data-dir", help="override server.data_dir")
    imp.add_argument("--csv", nargs="+", required=True, metavar="FILE",
                     help="one SYMBOL.csv per symbol: date,open,high,low,close,volume")
    imp.set_defaults(func=_prices_import)

    risk = subparsers.add_parser("risk", help="risk analytics offline")
    rsub = risk.add_subparsers(dest="risk_command", required=True)
    bt = rsub.add_parser("backtest", help="backtest 1-day VaR on daily data: Kupiec, "
                         "Christoffersen, Basel zone")
    bt.add_argument("--data", required=True, help="a folder of SYMBOL.csv daily files")
    bt.add_argument("--start", required=True, help="first forecast day, YYYY-MM-DD")
    bt.add_argument("--end", required=True, help="last forecast day, YYYY-MM-DD")
    bt.add_argument("--confidence", type=float, default=0.99)
    bt.add_argument("--window", type=int, default=250, help="days of history per forecast")
    bt.add_argument("--symbols", help="comma-separated (default: every file in --data)")
    bt.add_argument("--json", action="store_true")
    bt.set_defaults(func=_backtest)

