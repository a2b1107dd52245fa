"""Stress tests of today's book: historical crisis replay, custom shocks, liquidity.

Pure: holdings, scenario returns and reference data come in as values; nothing here
reads files, the database or the clock. The server loads the shipped scenario data
(gateway/data/stress.json, derived once by tools/derive_scenarios.py) and CSV files.

A shock is a simple return applied to a position's market value (qty x mark). For a
symbol the scenario or the request does not name, the shock of its GICS sector applies,
then the market's (precedence symbol > sector > market).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

CENTS = Decimal("0.01")
SECTOR_PREFIX = "sector:"
MARKET = "market"
# A shock is a simple return: below -100% a long position would be worth less than
# nothing; above +1000% is a typo, not a scenario.
MIN_SHOCK, MAX_SHOCK = -1.0, 10.0
# Square-root market impact: cost per share = Y * daily_vol * sqrt(shares / ADV) * price.
# Y close to 1 is what the empirical literature finds (Torre/Barra 1997, Almgren et al.
# 2005, Toth et al. 2011: "Y of order 1"); it is a parameter of every liquidity request.
DEFAULT_IMPACT_COEFFICIENT = 1.0


class StressError(ValueError):
    """A scenario or shock that cannot be applied; the message says why."""


@dataclass(frozen=True)
class Holding:
    account: str
    symbol: str
    qty: Decimal  # signed: long > 0
    price: Decimal  # the mark the shock applies to

    @property
    def value(self) -> Decimal:
        return self.qty * self.price


@dataclass(frozen=True)
class Scenario:
    """A crisis window as daily simple returns, by symbol, GICS sector and the market."""

    name: str
    start: str
    end: str
    description: str
    dates: tuple[str, ...]
    market: tuple[float, ...]
    sectors: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    symbols: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def path(self, symbol: str, sector: str | None) -> tuple[tuple[float, ...], str]:
        """The daily returns applied to `symbol`, and where they come from."""
        if symbol in self.symbols:
            return self.symbols[symbol], "symbol"
        if sector is not None and sector in self.sectors:
            return self.sectors[sector], SECTOR_PREFIX + sector
        return self.market, MARKET

    def listing(self) -> dict[str, str]:
        return {"name": self.name, "start": self.start, "end": self.end,
                "description": self.description}

    @classmethod
    def from_dict(cls, doc: Mapping[str, object]) -> Scenario:
        def returns(value: object) -> tuple[float, ...]:
            return tuple(float(r) for r in value)  # type: ignore[attr-defined]

        def table(value: object) -> dict[str, tuple[float, ...]]:
            return {str(k): returns(v) for k, v in value.items()}  # type: ignore[attr-defined]

        return cls(name=str(doc["name"]), start=str(doc["start"]), end=str(doc["end"]),
                   description=str(doc.get("description", "")),
                   dates=tuple(str(d) for d in doc["dates"]),  # type: ignore[attr-defined]
                   market=returns(doc["market"]), sectors=table(doc.get("sectors", {})),
                   symbols=table(doc.get("symbols", {})))


@dataclass(frozen=True)
class PositionStress:
    account: str
    symbol: str
    value: Decimal
    shock: float  # the simple return applied
    source: str  # "symbol", "sector:<name>" or "market"
    pnl: Decimal

    def to_dict(self) -> dict[str, str]:
        return {"account": self.account, "symbol": self.symbol, "pnl": str(self.pnl),
                "market_value": str(self.value), "shock": f"{self.shock:.6f}",
                "shock_source": self.source}


@dataclass
class StressResult:
    pnl: Decimal
    accounts: dict[str, Decimal]
    positions: list[PositionStress]
    # Scenario replay only: the lowest point of the firm's cumulative P&L on the way.
    worst_pnl: Decimal | None = None
    worst_date: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "pnl": str(self.pnl),
            "accounts": {a: str(v) for a, v in sorted(self.accounts.items())},
            "positions": [p.to_dict() for p in self.positions]}
        if self.worst_pnl is not None:
            out["worst_pnl"] = str(self.worst_pnl)
            out["worst_date"] = self.worst_date
        return out


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENTS)


def _result(holdings: Sequence[Holding], shocks: Sequence[tuple[float, str]]) -> StressResult:
    positions: list[PositionStress] = []
    accounts: dict[str, Decimal] = {}
    total = Decimal(0)
    for h, (shock, source) in zip(holdings, shocks, strict=True):
        pnl = (h.value * Decimal(repr(shock))).quantize(CENTS)
        positions.append(PositionStress(h.account, h.symbol, h.value.quantize(CENTS), shock,
                                        source, pnl))
        accounts[h.account] = accounts.get(h.account, Decimal(0)) + pnl
        total += pnl
    return StressResult(total, accounts, positions)


def replay(scenario: Scenario, holdings: Sequence[Holding],
           sector_of: Mapping[str, str]) -> StressResult:
    """Today's book through the crisis: each position takes its (or its sector's, or the
    market's) compounded return over the window; no trading during it."""
    paths, sources = [], []
    for h in holdings:
        path, source = scenario.path(h.symbol, sector_of.get(h.symbol))
        paths.append(path)
        sources.append(source)
    if not holdings:
        return StressResult(Decimal(0), {}, [], Decimal(0), None)
    # cumulative[i, t]: the position's return from the start to the close of day t
    cumulative = np.cumprod(1.0 + np.asarray(paths, dtype=float), axis=1) - 1.0
    result = _result(holdings, [(float(c), s) for c, s in zip(cumulative[:, -1], sources,
                                                               strict=True)])
    values = np.array([float(h.value) for h in holdings])
    firm_path = values @ cumulative
    worst = int(np.argmin(firm_path))
    result.worst_pnl = _money(min(float(firm_path[worst]), 0.0))
    result.worst_date = scenario.dates[worst] if firm_path[worst] < 0 else None
    return result


@dataclass(frozen=True)
class CustomShocks:
    market: float | None
    sectors: Mapping[str, float]
    symbols: Mapping[str, float]

    def shock(self, symbol: str, sector: str | None) -> tuple[float, str]:
        if symbol in self.symbols:
            return self.symbols[symbol], "symbol"
        if sector is not None and sector in self.sectors:
            return self.sectors[sector], SECTOR_PREFIX + sector
        if self.market is not None:
            return self.market, MARKET
        return 0.0, "none"


def parse_shocks(raw: Mapping[str, object], known_sectors: Iterable[str] = (),
                 known_symbols: Iterable[str] = ()) -> CustomShocks:
    """`{"AAPL": -0.2, "sector:Energy": -0.3, "market": -0.1}` checked; StressError if not.
    Given known sectors or symbols, a name outside them is refused (a typo would else
    shock nothing and look like good news)."""
    if not raw:
        raise StressError("shocks must name at least one symbol, sector:<GICS sector> or "
                          "market")
    sectors_known = set(known_sectors)
    symbols_known = set(known_symbols)
    market, sectors, symbols = None, {}, {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StressError(f"shocks.{key} must be a number (a simple return, -0.2 for "
                              f"-20%), got {value!r}")
        shock = float(value)
        if not math.isfinite(shock) or not MIN_SHOCK <= shock <= MAX_SHOCK:
            raise StressError(f"shocks.{key} must be between {MIN_SHOCK} and {MAX_SHOCK} "
                              f"(a simple return), got {value}")
        if key == MARKET:
            market = shock
        elif key.startswith(SECTOR_PREFIX):
            sector = key[len(SECTOR_PREFIX):]
            if sectors_known and sector not in sectors_known:
                raise StressError(f"shocks.{key}: unknown sector {sector!r}; known: "
                                  f"{', '.join(sorted(sectors_known))}")
            sectors[sector] = shock
        elif not key or key != key.strip() or ":" in key:
            raise StressError(f"shocks key {key!r} is not a symbol, sector:<GICS sector> or "
                              "market")
        elif symbols_known and key not in symbols_known:
            raise StressError(f"shocks.{key}: unknown symbol {key!r} (not an instrument of "
                              "this server); a sector is written sector:<GICS sector>")
        else:
            symbols[key] = shock
    return CustomShocks(market, sectors, symbols)


def apply_shocks(shocks: CustomShocks, holdings: Sequence[Holding],
                 sector_of: Mapping[str, str]) -> StressResult:
    return _result(holdings, [shocks.shock(h.symbol, sector_of.get(h.symbol))
                              for h in holdings])


@dataclass(frozen=True)
class Liquidity:
    adv: float  # average daily volume, shares
    daily_vol: float  # standard deviation of daily returns


@dataclass(frozen=True)
class LiquidityRow:
    account: str
    symbol: str
    qty: Decimal
    adv: float | None
    days_to_liquidate: float | None
    cost: Decimal | None  # None: no ADV known for the symbol

    def to_dict(self) -> dict[str, object]:
        return {"account": self.account, "symbol": self.symbol, "qty": str(self.qty),
                "adv": None if self.adv is None else round(self.adv),
                "days_to_liquidate": (None if self.days_to_liquidate is None
                                      else round(self.days_to_liquidate, 4)),
                "cost": None if self.cost is None else str(self.cost)}


def liquidity_cost(qty: float, price: float, adv: float, daily_vol: float,
                   coefficient: float = DEFAULT_IMPACT_COEFFICIENT) -> float:
    """Cost of trading `qty` shares with square-root impact: the price moves by
    Y * daily_vol * sqrt(qty / ADV) against us on the whole quantity."""
    q = abs(qty)
    return coefficient * daily_vol * math.sqrt(q / adv) * q * price


def liquidity(holdings: Sequence[Holding], reference: Mapping[str, Liquidity],
              max_adv_share: float,
              coefficient: float = DEFAULT_IMPACT_COEFFICIENT) -> list[LiquidityRow]:
    """Days and cost to close each position trading at most `max_adv_share` of ADV a day."""
    if not 0 < max_adv_share <= 1:
        raise StressError(f"max_adv_share must be above 0 and at most 1, got {max_adv_share}")
    if not math.isfinite(coefficient) or coefficient < 0:
        raise StressError(f"impact_coefficient must be 0 or more, got {coefficient}")
    rows = []
    for h in holdings:
        ref = reference.get(h.symbol)
        if ref is None or ref.adv <= 0:
            rows.append(LiquidityRow(h.account, h.symbol, h.qty, None, None, None))
            continue
        q = float(abs(h.qty))
        cost = liquidity_cost(q, float(h.price), ref.adv, ref.daily_vol, coefficient)
        rows.append(LiquidityRow(h.account, h.symbol, h.qty, ref.adv,
                                 q / (max_adv_share * ref.adv), _money(cost)))
    return rows


def scenario_from_csv(name: str, text: str) -> Scenario:
    """A scenario from CSV text: an optional first line `# description`, then a header
    `date,market[,sector:<GICS sector>...][,SYMBOL...]` and one row of daily simple returns
    per date, oldest first. `market` is required (the fallback for every symbol)."""
    lines = text.splitlines()
    description = ""
    if lines and lines[0].startswith("#"):
        description = lines.pop(0).lstrip("#").strip()
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise StressError(f"scenario {name}: the file has no header")
    header = [c.strip() for c in rows[0]]
    if not header or header[0] != "date" or MARKET not in header:
        raise StressError(f"scenario {name}: the header must start with date and hold a "
                          f"market column, got {','.join(header)}")
    if len(set(header)) != len(header):
        raise StressError(f"scenario {name}: a column appears twice in the header")
    if len(rows) < 2:
        raise StressError(f"scenario {name}: no rows of returns")
    dates: list[str] = []
    columns: dict[str, list[float]] = {c: [] for c in header[1:]}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise StressError(f"scenario {name} line {n}: {len(row)} fields, the header has "
                              f"{len(header)}")
        dates.append(row[0].strip())
        for column, cell in zip(header[1:], row[1:], strict=True):
            try:
                value = float(cell)
            except ValueError:
                raise StressError(f"scenario {name} line {n} {column}: {cell!r} is not a "
                                  "number") from None
            if not math.isfinite(value) or not -1.0 <= value <= MAX_SHOCK:
                raise StressError(f"scenario {name} line {n} {column}: a daily return must "
                                  f"be between -1 and {MAX_SHOCK}, got {cell}")
            columns[column].append(value)
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise StressError(f"scenario {name}: dates must be unique and oldest first")
    return Scenario(
        name=name, start=dates[0], end=dates[-1], description=description,
        dates=tuple(dates), market=tuple(columns.pop(MARKET)),
        sectors={c[len(SECTOR_PREFIX):]: tuple(v) for c, v in columns.items()
                 if c.startswith(SECTOR_PREFIX)},
        symbols={c: tuple(v) for c, v in columns.items() if not c.startswith(SECTOR_PREFIX)})
