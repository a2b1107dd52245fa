"""Background liquidity: a seeded random order flow around each reference price.

Each book starts with five levels a side one tick apart around the reference
price. Each step, per symbol, a fair value takes a small mean-reverting random
walk; passive orders are added near it and old ones canceled; now and then a
small marketable order trades, so prices move and resting client orders fill.
The same seed gives the same flow.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING

from oms.instruments import Instrument, Universe

if TYPE_CHECKING:
    from gateway.sim.exchange import SimExchange

LEVELS = 5
MIN_LEVELS = 3
VOLATILITY = 0.0004  # per step, relative
REVERSION = 0.02  # pull of fair value back toward the reference, per step
P_ADD, P_CANCEL, P_TRADE = 0.6, 0.3, 0.15


class LiquidityFlow:
    def __init__(self, exchange: SimExchange, universe: Universe, seed: int) -> None:
        self.exchange = exchange
        self.rng = random.Random(seed)
        self.instruments: list[Instrument] = list(universe)
        self.fair = {i.symbol: float(i.reference_price) for i in self.instruments}
        self.live: dict[str, deque[str]] = {i.symbol: deque() for i in self.instruments}
        self._ids = itertools.count(1)

    def _size(self) -> Decimal:
        return Decimal(self.rng.randrange(100, 501, 100))

    def _place(
        self, inst: Instrument, is_buy: bool, price: Decimal, qty: Decimal, ioc: bool = False
    ) -> None:
        oid = f"L{next(self._ids)}"
        self.exchange.execute_liquidity(oid, inst.symbol, is_buy, qty, price, ioc)
        if not ioc:
            self.live[inst.symbol].append(oid)

    def seed_books(self) -> None:
        for inst in self.instruments:
            ref, tick = inst.reference_price, inst.tick_size
            for level in range(1, LEVELS + 1):
                self._place(inst, True, ref - tick * level, self._size())
                self._place(inst, False, ref + tick * level, self._size())

    def step(self) -> None:
        for inst in self.instruments:
            self._step_symbol(inst)

    def _step_symbol(self, inst: Instrument) -> None:
        rng, symbol, tick = self.rng, inst.symbol, inst.tick_size
        ref = float(inst.reference_price)
        fair = self.fair[symbol]
        fair += REVERSION * (ref - fair) + fair * VOLATILITY * rng.gauss(0, 1)
        self.fair[symbol] = fair = max(fair, float(tick) * 10)
        book = self.exchange.books[symbol]
        fair_tick = inst.round_to_tick(Decimal(str(fair)))

        if rng.random() < P_ADD:
            is_buy = rng.random() < 0.5
            offset = tick * rng.randint(1, LEVELS)
            self._place(
                inst, is_buy, fair_tick - offset if is_buy else fair_tick + offset, self._size()
            )
        if rng.random() < P_CANCEL:
            live = self.live[symbol]
            while live:
                if self.exchange.books[symbol].cancel(live.popleft()) is not None:
                    break
        if rng.random() < P_TRADE:
            is_buy = fair_tick >= (book.last_price or inst.reference_price)
            qty = Decimal(rng.randrange(100, 301, 100))
            bound = fair_tick + tick * 2 if is_buy else fair_tick - tick * 2
            self._place(inst, is_buy, bound, qty, ioc=True)
        # Keep both sides deep enough that a client's order always finds a market.
        for is_buy, side in ((True, book.bids), (False, book.asks)):
            missing = MIN_LEVELS - len(side.prices)
            if missing > 0:
                anchor = side.best() or fair_tick
                for i in range(1, missing + 1):
                    step = tick * i
                    self._place(
                        inst, is_buy, anchor - step if is_buy else anchor + step, self._size()
                    )
        self._trim(symbol)

    def _trim(self, symbol: str) -> None:
        live = self.live[symbol]
        while len(live) > 200:  # forget ids of orders long gone
            self.exchange.books[symbol].cancel(live.popleft())
