"""VWAP volume profiles on disk: `fixgate profile build --csv FILE... --out FILE`, and
loading the files `[execution] vwap_profiles` names.

Reads the 1-minute bar CSVs found in the wild (Alpha Vantage, yfinance, Alpaca
and similar layouts): the first column is the bar time, a `volume` column
(any case) the volume. Times with an offset are taken as given; naive times
are US/Eastern, as these vendors write them. Whether a time marks the bar's
start or its end is read from the data: a file with bars stamped 16:00 and
none at 09:30 marks ends. The symbol is the first all-capitals token of the
file name (`AAPL_1min_2019-02.csv`, `lumibot_AMZN_MINUTE.csv`).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from oms.execution.profile import NEW_YORK, ProfileError, VolumeProfile, build, dumps, loads

_TICKER = re.compile(r"^[A-Z][A-Z.]{0,5}$")
_NOT_TICKERS = {"MINUTE", "MIN", "BARS", "DATA"}
_MINUTE = timedelta(minutes=1)


def symbol_of(path: Path) -> str:
    for token in path.stem.split("_"):
        if _TICKER.match(token) and token not in _NOT_TICKERS:
            return token
    raise ProfileError(f"{path}: no symbol in the file name (e.g. AAPL_1min.csv)")


def read_bars(path: Path) -> tuple[list[tuple[datetime, float]], bool]:
    """The file's (time, volume) bars and whether its times mark bar ends."""
    eastern = ZoneInfo(NEW_YORK)
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise ProfileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not rows:
        raise ProfileError(f"{path}: empty file")
    header = [h.strip().lower() for h in rows[0]]
    if "volume" not in header:
        raise ProfileError(f"{path}: no volume column (columns: {', '.join(rows[0])})")
    vol = header.index("volume")
    bars = []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            ts = datetime.fromisoformat(row[0].strip())
            volume = float(row[vol])
        except (ValueError, IndexError):
            raise ProfileError(f"{path}, line {n}: not a bar time and volume: "
                               f"{','.join(row)[:80]!r}") from None
        bars.append((ts if ts.tzinfo else ts.replace(tzinfo=eastern), volume))
    local = [ts.astimezone(eastern).strftime("%H:%M") for ts, _ in bars]
    bar_end = "16:00" in local and "09:30" not in local
    return bars, bar_end


def build_profiles(paths: Sequence[Path], bin_minutes: int = 5) -> dict[str, VolumeProfile]:
    """One profile per symbol over all the files of that symbol."""
    by_symbol: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for path in paths:
        symbol = symbol_of(path)
        bars, bar_end = read_bars(path)
        # Bar-end files are shifted to bar starts here, so files of both kinds can be pooled.
        by_symbol[symbol] += [(ts - _MINUTE, v) for ts, v in bars] if bar_end else bars
    return {symbol: build(symbol, bars, bin_minutes=bin_minutes)
            for symbol, bars in by_symbol.items()}


def load_profiles(paths: Sequence[Path]) -> dict[str, VolumeProfile]:
    """The profiles of every file, later files overriding earlier ones per symbol."""
    out: dict[str, VolumeProfile] = {}
    for path in paths:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ProfileError(f"cannot read volume profile file {path}: "
                               f"{exc.strerror or exc}") from None
        out.update(loads(text, str(path)))
    return out


def _build(args: argparse.Namespace) -> int:
    try:
        profiles = build_profiles([Path(p) for p in args.csv], args.bin_minutes)
        out = Path(args.out)
        out.write_text(dumps(profiles) + "\n")
    except (ProfileError, OSError) as exc:
        print(f"fixgate profile: {exc}", file=sys.stderr)
        return 2
    for symbol, p in sorted(profiles.items()):
        first, last = p.fractions[0], p.fractions[-1]
        mid = p.fractions[len(p.fractions) // 2]
        print(f"{symbol}: {p.days} day(s), {len(p.fractions)} bins of {p.bin_minutes:g} min; "
              f"first bin {first:.1%}, midday {mid:.1%}, last bin {last:.1%} of the day")
    print(f"wrote {out}")
    return 0


def add_profile_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="VWAP volume profiles")
    actions = p.add_subparsers(dest="action", required=True)
    b = actions.add_parser("build", help="build profiles from 1-minute bar CSV files")
    b.add_argument("--csv", nargs="+", required=True, metavar="FILE",
                   help="1-minute bar files; the symbol is taken from each file name")
    b.add_argument("--out", required=True, metavar="FILE", help="the JSON profile file to write")
    b.add_argument("--bin-minutes", type=int, default=5,
                   help="bin width in minutes; must divide the 390-minute session (default 5)")
    b.set_defaults(func=_build)
