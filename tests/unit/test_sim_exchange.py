"""The simulated exchange: price-time priority, IOC/FOK, stops, replace, seeded flow."""

from __future__ import annotations

from decimal import Decimal as D

from gateway.sim.book import OrderBook, Resting
from gateway.sim.exchange import SimExchange
from oms.enums import OrdType, Side, TimeInForce
from oms.universe import default_universe
from oms.venue import (
    VenueAccepted,
    VenueCanceled,
    VenueFill,
    VenueOrder,
    VenueReplaced,
    VenueRequestRejected,
    VenueTriggered,
)


class Events:
    def __init__(self) -> None:
        self.events: list[object] = []

    def on_venue_event(self, event: object) -> None:
        self.events.append(event)

    def of(self, order_id: str) -> list[object]:
        return [e for e in self.events if e.order_id == order_id]


def exchange() -> tuple[SimExchange, Events]:
    ex = SimExchange(default_universe(), liquidity=False)
    ev = Events()
    ex.set_listener(ev)
    return ex, ev


def vo(
    oid,
    side=Side.BUY,
    qty="100",
    price="170.00",
    ord_type=OrdType.LIMIT,
    tif=TimeInForce.DAY,
    stop_px=None,
    symbol="AAPL",
):
    return VenueOrder(
        oid,
        "ACC",
        symbol,
        side,
        ord_type,
        tif,
        D(qty),
        None if price is None else D(price),
        None if stop_px is None else D(stop_px),
    )


def test_price_then_time_priority():
    book = OrderBook("X")
    book.rest(Resting("a", "oms", False, D("10.01"), D(100)))
    book.rest(Resting("b", "oms", False, D("10.00"), D(100)))
    book.rest(Resting("c", "oms", False, D("10.00"), D(100)))
    matches = book.match(True, D(250), D("10.01"))
    assert [(m.passive.order_id, m.qty, m.price) for m in matches] == [
        ("b", 100, D("10.00")),
        ("c", 100, D("10.00")),
        ("a", 50, D("10.01")),
    ]
    assert book.orders["a"].qty == 50 and book.last_price == D("10.01")


def test_market_order_walks_the_book_and_cancels_the_rest():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "100", "170.00"))
    ex.submit(vo("s2", Side.SELL, "100", "170.05"))
    ex.submit(vo("b1", qty="300", price=None, ord_type=OrdType.MARKET))
    b1 = ev.of("b1")
    assert isinstance(b1[0], VenueAccepted)
    assert [(e.qty, e.price) for e in b1 if isinstance(e, VenueFill)] == [
        (100, D("170.00")),
        (100, D("170.05")),
    ]
    assert isinstance(b1[-1], VenueCanceled) and "no more liquidity" in b1[-1].reason
    assert not ex.books["AAPL"].orders  # a market order never rests


def test_both_sides_of_a_trade_are_reported():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "100", "170.00"))
    ex.submit(vo("b1", qty="40", price="171.00"))
    (fill_b,) = [e for e in ev.of("b1") if isinstance(e, VenueFill)]
    (fill_s,) = [e for e in ev.of("s1") if isinstance(e, VenueFill)]
    assert fill_b.trade_id == fill_s.trade_id and fill_s.qty == 40 and fill_b.price == D("170")


def test_ioc_and_fok():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "50", "170.00"))
    ex.submit(vo("fok", qty="80", price="170.00", tif=TimeInForce.FOK))
    assert [type(e) for e in ev.of("fok")] == [VenueAccepted, VenueCanceled]
    assert ex.books["AAPL"].orders["s1"].qty == 50  # a failed FOK touches nothing
    ex.submit(vo("ioc", qty="80", price="170.00", tif=TimeInForce.IOC))
    assert [type(e) for e in ev.of("ioc")] == [VenueAccepted, VenueFill, VenueCanceled]
    assert "IOC remainder" in ev.of("ioc")[-1].reason
    ex.submit(vo("s2", Side.SELL, "50", "170.00"))
    ex.submit(vo("fok2", qty="50", price="170.00", tif=TimeInForce.FOK))
    assert [type(e) for e in ev.of("fok2")] == [VenueAccepted, VenueFill]


def test_cancel_and_unknown_cancel():
    ex, ev = exchange()
    ex.submit(vo("b1"))
    ex.cancel("b1")
    assert isinstance(ev.of("b1")[-1], VenueCanceled)
    ex.cancel("b1")
    assert isinstance(ev.of("b1")[-1], VenueRequestRejected)


def test_replace_keeps_priority_only_when_reducing_at_the_same_price():
    ex, ev = exchange()
    ex.submit(vo("b1", qty="100"))
    ex.submit(vo("b2", qty="100"))
    ex.replace("b1", D(50), D("170.00"), None)  # smaller: keeps its place
    ex.submit(vo("s1", Side.SELL, "50", "170.00"))
    assert any(isinstance(e, VenueFill) for e in ev.of("b1"))
    ex.submit(vo("b3", qty="10"))  # behind b2
    ex.replace("b2", D(200), D("170.00"), None)  # bigger: goes behind b3
    ex.submit(vo("s2", Side.SELL, "10", "170.00"))
    assert any(isinstance(e, VenueFill) for e in ev.of("b3"))
    assert not any(isinstance(e, VenueFill) for e in ev.of("b2"))
    # A replace to a crossing price trades at once.
    ex.submit(vo("s3", Side.SELL, "20", "171.00"))
    ex.replace("b2", D(200), D("171.00"), None)
    assert [type(e) for e in ev.of("b2")][-2:] == [VenueReplaced, VenueFill]


def test_stop_triggers_on_last_trade_and_then_trades():
    ex, ev = exchange()
    ex.submit(vo("stop", qty="10", price=None, ord_type=OrdType.STOP, stop_px="170.10"))
    ex.submit(vo("s1", Side.SELL, "100", "170.10"))
    ex.submit(vo("s2", Side.SELL, "100", "170.20"))
    assert [type(e) for e in ev.of("stop")] == [VenueAccepted]
    ex.submit(vo("b1", qty="100", price="170.10"))  # prints 170.10: touches the stop
    stop = ev.of("stop")
    assert isinstance(stop[1], VenueTriggered) and stop[1].trigger_px == D("170.10")
    assert isinstance(stop[2], VenueFill) and stop[2].price == D("170.20")


def test_seeded_liquidity_is_repeatable_and_keeps_a_market():
    def run(seed: int) -> list[tuple]:
        ex = SimExchange(default_universe(), liquidity=True, seed=seed)
        ticks: list[tuple] = []
        ex.subscribe(lambda t: ticks.append((t.symbol, getattr(t, "price", None))))
        ex.flow.seed_books()
        ex.step_liquidity(300)
        for book in ex.books.values():
            assert book.best_bid() is not None and book.best_ask() is not None
            assert book.best_bid() < book.best_ask()
        return ticks

    first = run(5)
    assert first == run(5)
    assert first != run(6)
    assert any(price is not None for _, price in first)  # trades happened
