"""`fixgate bench --matching N`: the simulated exchange's matching engine alone, one core.

N messages against one symbol's order book, in one thread, no I/O: 60 % limit
orders within five ticks either side of a drifting mid (about half cross and
trade, the rest rest), 15 % market orders, 25 % cancels of a resting order.
The stream is drawn from a seeded generator before the clock starts; what is
timed is the book's own work (`OrderBook`), then the same stream through the
whole `SimExchange` (order checks, events to a listener, market data with a
subscriber), which is what a venue costs per order in the gateway.
"""

from __future__ import annotations

import gc
import random
import time
from decimal import Decimal
from typing import Any

from gateway.venues.sim.book import OrderBook
from gateway.venues.sim.exchange import SimExchange
from oms.enums import OrdType, Side, TimeInForce
from oms.instruments import Instrument, Universe
from oms.marketdata import Quote, TradeTick
from oms.venue import VenueEvent, VenueOrder

TICK = Decimal("0.01")
MID_TICKS = 17_345  # 173.45


def _stream(n: int, seed: int) -> list[tuple[int, bool, int, int, float]]:
    """(kind 0 limit / 1 market / 2 cancel, is_buy, price in ticks, lots, pick) per message."""
    rng = random.Random(seed)
    mid = MID_TICKS
    out = []
    for _ in range(n):
        mid += rng.choice((-1, 0, 0, 1)) if rng.random() < 0.1 else 0
        r = rng.random()
        kind = 0 if r < 0.60 else 1 if r < 0.75 else 2
        is_buy = rng.random() < 0.5
        out.append((kind, is_buy, mid + rng.randint(-5, 5), rng.randint(1, 5), rng.random()))
    return out


def _book_run(stream: list[tuple[int, bool, int, int, float]]) -> tuple[float, int]:
    book = OrderBook("AAPL")
    prices = {t: TICK * t for t in range(MID_TICKS - 2000, MID_TICKS + 2000)}
    lots = {k: Decimal(100 * k) for k in range(1, 6)}
    resting: list[str] = []
    trades = 0
    t0 = time.perf_counter()
    for i, (kind, is_buy, ticks, size, pick) in enumerate(stream):
        if kind == 2:
            if resting:
                j = int(pick * len(resting))
                resting[j], resting[-1] = resting[-1], resting[j]
                book.cancel(resting.pop())
            continue
        oid = f"O{i}"
        if kind == 0:
            result = book.add_limit(oid, "bench", is_buy, lots[size], prices[ticks])
            if result.resting:
                resting.append(oid)
        else:
            result = book.add_market(oid, "bench", is_buy, lots[size])
        trades += len(result.fills)
    return time.perf_counter() - t0, trades


class _Sink:
    def __init__(self) -> None:
        self.events = 0

    def on_venue_event(self, event: VenueEvent) -> None:
        self.events += 1

    def market_data(self, message: Quote | TradeTick) -> None:
        pass


def _exchange_run(stream: list[tuple[int, bool, int, int, float]]) -> tuple[float, int]:
    instrument = Instrument("AAPL", "Information Technology", TICK, Decimal(1),
                            TICK * MID_TICKS)
    ex = SimExchange(Universe([instrument]), liquidity=False)
    sink = _Sink()
    ex.set_listener(sink)
    ex.subscribe(sink.market_data)
    prices = {t: TICK * t for t in range(MID_TICKS - 2000, MID_TICKS + 2000)}
    lots = {k: Decimal(100 * k) for k in range(1, 6)}
    orders = [
        None if kind == 2 else VenueOrder(
            f"O{i}", "ACC", "AAPL", Side.BUY if is_buy else Side.SELL,
            OrdType.LIMIT if kind == 0 else OrdType.MARKET, TimeInForce.DAY, lots[size],
            prices[ticks] if kind == 0 else None)
        for i, (kind, is_buy, ticks, size, _) in enumerate(stream)]
    book = ex.book("AAPL")
    resting: list[str] = []
    t0 = time.perf_counter()
    for order, (kind, _, _, _, pick) in zip(orders, stream, strict=True):
        if order is None:
            if resting:
                j = int(pick * len(resting))
                resting[j], resting[-1] = resting[-1], resting[j]
                ex.cancel(resting.pop())
            continue
        ex.submit(order)
        if kind == 0 and "C:" + order.order_id in book:
            resting.append(order.order_id)
    return time.perf_counter() - t0, sink.events


def run_matching(n: int, seed: int = 1) -> dict[str, Any]:
    stream = _stream(n, seed)
    orders = sum(1 for s in stream if s[0] != 2)
    gc.collect()
    gc.disable()  # what is timed is matching, not when the collector happens to run
    try:
        book_s, trades = _book_run(stream)
        exchange_s, events = _exchange_run(stream)
    finally:
        gc.enable()
    return {"messages": n, "orders": orders, "cancels": n - orders, "trades": trades,
            "book_s": round(book_s, 3),
            "book_messages_per_s": round(n / book_s),
            "book_orders_per_s": round(orders / book_s),
            "exchange_s": round(exchange_s, 3),
            "exchange_messages_per_s": round(n / exchange_s),
            "exchange_orders_per_s": round(orders / exchange_s),
            "exchange_events": events}
