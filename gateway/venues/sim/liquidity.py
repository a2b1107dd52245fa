"""Background liquidity: a seeded random order flow around each reference price.

Every book starts with a few levels a side, one tick apart, two ticks wide
around the reference price. Each step, per symbol, a "fair value" takes a
small random walk that mean-reverts mildly to the reference; passive orders
are added near it and old ones canceled, and now and then a small marketable
order leans toward it, so prices drift and resting client orders fill. The
same seed and the same client orders give the same flow.

The flow knows nothing of events: it goes through `LiquidityVenue`, and the
exchange reports whatever its orders do to client orders.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from gateway.venues.sim.book import MatchResult, OrderBook
from oms.enums import TimeInForce
from oms.instruments import Instrument

LIQUIDITY = "liquidity"  # owner tag of every background order


class LiquidityVenue(Protocol):
    def book(self, symbol: str) -> OrderBook: ...

    def place_liquidity(
        self,
        symbol: str,
        order_id: str,
        is_buy: bool,
        qty: Decimal,
        price: Decimal,
        time_in_force: TimeInForce = TimeInForce.DAY,
    ) -> MatchResult: ...

    def cancel_liquidity(self, symbol: str, order_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class LiquidityParams:
    levels: int = 5  # levels a side at the start, and the depth kept up afterwards
    spread_ticks: int = 2
    lots: tuple[int, int] = (2, 5)  # passive order size range, in hundreds of lots
    volatility: float = 0.00005  # fair-value step stdev as a fraction of the reference
    min_step_ticks: float = 0.3  # so cheap symbols move too
    reversion: float = 0.0002  # share of the gap to the reference closed each step
    band: float = 0.05  # fair value never leaves reference +/- this fraction
    p_add: float = 0.5
    p_cancel: float = 0.35
    p_take: float = 0.2
    max_orders: int = 60  # resting background orders per symbol


class _Symbol:
    __slots__ = ("fair", "hi", "instrument", "lo", "own", "ref", "step", "tick")

    def __init__(self, instrument: Instrument, params: LiquidityParams) -> None:
        self.instrument = instrument
        self.tick = instrument.tick_size
        # Prices are worked in whole ticks; the fair value is a float number of ticks.
        self.ref = int(instrument.reference_price / self.tick)
        self.fair = float(self.ref)
        self.step = max(params.min_step_ticks, self.ref * params.volatility)
        self.lo = max(float(params.levels + params.spread_ticks), self.ref * (1 - params.band))
        self.hi = self.ref * (1 + params.band)
        self.own: list[str] = []  # ids of our orders that may still rest


class LiquidityFlow:
    def __init__(
        self,
        venue: LiquidityVenue,
        instruments: Iterable[Instrument],
        *,
        seed: int,
        params: LiquidityParams | None = None,
        scale: float = 1.0,
    ) -> None:
        self._venue = venue
        self._scale = scale  # order sizes times this: a deeper or a thinner venue
        self._rng = random.Random(seed)
        self._p = params or LiquidityParams()
        self._symbols = [_Symbol(i, self._p) for i in instruments]
        self._ids = itertools.count(1)

    def seed_books(self) -> None:
        """Levels a side one tick apart, spread_ticks wide around the reference."""
        for s in self._symbols:
            bid = s.ref - self._p.spread_ticks // 2
            ask = bid + self._p.spread_ticks
            for i in range(self._p.levels):
                self._passive(s, True, bid - i)
                self._passive(s, False, ask + i)

    def step(self) -> None:
        for s in self._symbols:
            self._step(s)

    # -- one symbol, one step ------------------------------------------------------

    def _step(self, s: _Symbol) -> None:
        rng, p = self._rng, self._p
        s.fair += rng.gauss(0.0, s.step) + p.reversion * (s.ref - s.fair)
        s.fair = min(max(s.fair, s.lo), s.hi)
        bid = round(s.fair) - p.spread_ticks // 2
        ask = bid + p.spread_ticks
        if rng.random() < p.p_add:
            is_buy = rng.random() < 0.5
            away = rng.randint(0, 2)
            self._passive(s, is_buy, bid - away if is_buy else ask + away)
        if rng.random() < p.p_cancel:
            self._cancel_one(s)
        if rng.random() < p.p_take:
            self._take(s)
        self._trim(s)
        self._replenish(s, True, bid)
        self._replenish(s, False, ask)

    def _passive(self, s: _Symbol, is_buy: bool, ticks: int) -> None:
        """A resting order; never crosses, because background adds only provide liquidity."""
        book = self._venue.book(s.instrument.symbol)
        contra = book.best_ask if is_buy else book.best_bid
        if contra is not None:
            edge = int(contra / s.tick)
            ticks = min(ticks, edge - 1) if is_buy else max(ticks, edge + 1)
        if ticks < 1:
            return
        qty = self._lots(s, self._rng.randint(*self._p.lots))
        oid = f"L{next(self._ids)}"
        self._venue.place_liquidity(s.instrument.symbol, oid, is_buy, qty, s.tick * ticks)
        s.own.append(oid)

    def _lots(self, s: _Symbol, hundreds: int) -> Decimal:
        """`hundreds` hundred-lots, scaled, in whole lots (at least one)."""
        if self._scale == 1.0:
            return s.instrument.lot_size * 100 * hundreds
        return s.instrument.lot_size * max(1, round(100 * hundreds * self._scale))

    def _cancel_one(self, s: _Symbol) -> None:
        if not s.own:
            return
        i = self._rng.randrange(len(s.own))
        s.own[i], s.own[-1] = s.own[-1], s.own[i]
        self._venue.cancel_liquidity(s.instrument.symbol, s.own.pop())

    def _take(self, s: _Symbol) -> None:
        """A small IOC that leans toward fair value and takes at most two levels."""
        book = self._venue.book(s.instrument.symbol)
        bid, ask = book.best_bid, book.best_ask
        if bid is None or ask is None:
            return
        mid = float((bid + ask) / 2 / s.tick)
        lean = min(0.4, max(-0.4, 0.1 * (s.fair - mid)))
        is_buy = self._rng.random() < 0.5 + lean
        qty = self._lots(s, self._rng.randint(1, 3))
        limit = ask + s.tick if is_buy else bid - s.tick
        if limit <= 0:
            return
        oid = f"L{next(self._ids)}"
        self._venue.place_liquidity(s.instrument.symbol, oid, is_buy, qty, limit, TimeInForce.IOC)

    def _replenish(self, s: _Symbol, is_buy: bool, touch: int) -> None:
        """Refill a thin side outward from the touch so the book never empties."""
        book = self._venue.book(s.instrument.symbol)
        need = self._p.levels - book.level_count(is_buy)
        if need <= 0:
            return
        # Start at the touch, or just behind the other side if the market has moved past it.
        contra = book.best_ask if is_buy else book.best_bid
        start = touch
        if contra is not None:
            edge = int(contra / s.tick)
            start = min(touch, edge - 1) if is_buy else max(touch, edge + 1)
        step = -1 if is_buy else 1
        for ticks in range(start, start + step * 4 * self._p.levels, step):
            if need == 0 or ticks < 1:
                break
            if not book.has_level(is_buy, s.tick * ticks):
                self._passive(s, is_buy, ticks)
                need -= 1

    def _trim(self, s: _Symbol) -> None:
        """Forget filled orders and cap how many rest, dropping the deepest on each side."""
        if len(s.own) <= self._p.max_orders:
            return
        book = self._venue.book(s.instrument.symbol)
        bid, ask = book.best_bid, book.best_ask
        alive = [oid for oid in s.own if oid in book]

        def depth(oid: str) -> Decimal:
            """How far behind its own side's best price an order sits."""
            order = book.get(oid)
            assert order is not None
            best = bid if order.is_buy else ask
            assert best is not None
            return best - order.price if order.is_buy else order.price - best

        alive.sort(key=depth)
        for oid in alive[self._p.max_orders :]:
            self._venue.cancel_liquidity(s.instrument.symbol, oid)
        s.own = alive[: self._p.max_orders]
