"""SimExchange behind the Venue protocol: events, stops, cancels, replaces, market data, flow."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from gateway.venues.sim.exchange import SimExchange
from oms.enums import OrdType, Side, TimeInForce
from oms.marketdata import Quote, TradeTick
from oms.universe import default_universe
from oms.venue import (
    Venue,
    VenueAccepted,
    VenueCanceled,
    VenueEvent,
    VenueFill,
    VenueOrder,
    VenueOrderRejected,
    VenueReplaced,
    VenueRequestRejected,
    VenueTriggered,
)


class Events:
    def __init__(self) -> None:
        self.events: list[VenueEvent] = []

    def on_venue_event(self, event: VenueEvent) -> None:
        self.events.append(event)

    def of(self, order_id: str) -> list[VenueEvent]:
        return [e for e in self.events if e.order_id == order_id]

    def kinds(self, order_id: str) -> list[type]:
        return [type(e) for e in self.of(order_id)]

    def fills(self, order_id: str) -> list[tuple[D, D]]:
        return [(e.qty, e.price) for e in self.of(order_id) if isinstance(e, VenueFill)]


def exchange() -> tuple[SimExchange, Events]:
    ex = SimExchange(default_universe(), liquidity=False)
    ev = Events()
    ex.set_listener(ev)
    return ex, ev


def vo(
    oid: str,
    side: Side = Side.BUY,
    qty: str = "100",
    price: str | None = "170.00",
    ord_type: OrdType = OrdType.LIMIT,
    tif: TimeInForce = TimeInForce.DAY,
    stop_px: str | None = None,
    symbol: str = "AAPL",
) -> VenueOrder:
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


def market(oid: str, side: Side = Side.BUY, qty: str = "100", **kw: object) -> VenueOrder:
    return vo(oid, side, qty, None, OrdType.MARKET, **kw)  # type: ignore[arg-type]


def test_it_is_a_venue():
    ex: Venue = SimExchange(default_universe(), liquidity=False)
    assert ex.name == "SIM"


def test_ioc_events_come_accepted_then_fill_then_canceled():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "50"))
    ex.submit(vo("ioc", qty="80", tif=TimeInForce.IOC))
    assert ev.kinds("ioc") == [VenueAccepted, VenueFill, VenueCanceled]
    assert ev.fills("ioc") == [(50, D("170.00"))]
    assert ev.of("ioc")[-1].reason == "IOC remainder canceled"
    assert ex.book("AAPL").best_bid is None  # the remainder did not rest


def test_market_order_walks_the_book_and_cancels_the_rest():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "100", "170.00"))
    ex.submit(vo("s2", Side.SELL, "100", "170.05"))
    ex.submit(market("b1", qty="300"))
    assert ev.kinds("b1") == [VenueAccepted, VenueFill, VenueFill, VenueCanceled]
    assert ev.fills("b1") == [(100, D("170.00")), (100, D("170.05"))]
    assert ev.of("b1")[-1].reason == "market order remainder canceled: no liquidity"
    assert len(ex.book("AAPL")) == 0 and ex.last_price("AAPL") == D("170.05")


def test_fok_is_all_or_nothing_and_a_failed_one_touches_nothing():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "50"))
    ex.submit(vo("fok", qty="80", tif=TimeInForce.FOK))
    assert ev.kinds("fok") == [VenueAccepted, VenueCanceled]
    assert ev.of("fok")[-1].reason == "FOK could not be filled in full"
    assert ev.kinds("s1") == [VenueAccepted]  # the resting seller saw nothing
    assert ex.book("AAPL").ask_size == 50 and ex.last_price("AAPL") is None
    ex.submit(vo("s2", Side.SELL, "30", "170.01"))
    ex.submit(vo("fok2", qty="80", price="170.01", tif=TimeInForce.FOK))
    assert ev.kinds("fok2") == [VenueAccepted, VenueFill, VenueFill]
    ex.cancel("fok2")
    assert ev.of("fok2")[-1] == VenueRequestRejected("fok2", "order already filled")


def test_both_sides_of_a_trade_between_oms_orders_are_reported():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL_SHORT, "100", "170.00"))  # a short sale trades as a sell
    ex.submit(vo("b1", qty="40", price="171.00"))
    (fill_b,) = [e for e in ev.of("b1") if isinstance(e, VenueFill)]
    (fill_s,) = [e for e in ev.of("s1") if isinstance(e, VenueFill)]
    assert fill_b.trade_id == fill_s.trade_id == "T1"
    assert (fill_b.qty, fill_b.price) == (fill_s.qty, fill_s.price) == (40, D("170.00"))
    ex.cancel("s1")  # 60 still rest
    assert ev.of("s1")[-1] == VenueCanceled("s1", "canceled on request")


def test_cancel_answers_and_refusals():
    ex, ev = exchange()
    ex.submit(vo("b1"))
    ex.cancel("b1")
    assert ev.kinds("b1") == [VenueAccepted, VenueCanceled]
    assert ex.book("AAPL").best_bid is None
    ex.cancel("b1")
    assert ev.of("b1")[-1] == VenueRequestRejected("b1", "order already canceled")
    ex.cancel("never")
    assert ev.of("never") == [VenueRequestRejected("never", "unknown order at venue SIM")]
    ex.replace("never", D(10), D("170.00"), None)
    assert ev.kinds("never")[-1] is VenueRequestRejected


def test_invalid_orders_are_rejected_without_being_accepted():
    ex, ev = exchange()
    ex.submit(vo("sym", symbol="NOPE"))
    ex.submit(vo("zero", qty="0"))
    ex.submit(vo("noprice", price=None))
    ex.submit(vo("offtick", price="170.005"))
    ex.submit(vo("nostop", price=None, ord_type=OrdType.STOP))
    for oid, words in [
        ("sym", "unknown symbol"),
        ("zero", "quantity must be positive"),
        ("noprice", "needs a price"),
        ("offtick", "tick size"),
        ("nostop", "needs a stop price"),
    ]:
        (event,) = ev.of(oid)
        assert isinstance(event, VenueOrderRejected) and words in event.reason
    assert len(ex.book("AAPL")) == 0
    ex.submit(vo("dup"))
    ex.submit(vo("dup"))
    assert ev.kinds("dup") == [VenueAccepted, VenueOrderRejected]


def test_replace_smaller_keeps_priority_bigger_loses_it():
    ex, ev = exchange()
    ex.submit(vo("b1"))
    ex.submit(vo("b2"))
    ex.replace("b1", D(50), D("170.00"), None)
    ex.submit(vo("s1", Side.SELL, "50"))
    assert ev.kinds("b1") == [VenueAccepted, VenueReplaced, VenueFill]  # still first in line
    assert ev.kinds("b2") == [VenueAccepted]
    ex.submit(vo("b3", qty="10"))
    ex.replace("b2", D(200), D("170.00"), None)  # bigger: now behind b3
    ex.submit(vo("s2", Side.SELL, "10"))
    assert ev.fills("b3") == [(10, D("170.00"))] and ev.fills("b2") == []


def test_replace_to_a_crossing_price_reports_replaced_then_fills():
    ex, ev = exchange()
    ex.submit(vo("s3", Side.SELL, "20", "171.00"))
    ex.submit(vo("b2", qty="200"))
    ex.replace("b2", D(200), D("171.00"), None)
    assert ev.kinds("b2") == [VenueAccepted, VenueReplaced, VenueFill]
    assert ev.fills("b2") == [(20, D("171.00"))]
    assert ex.book("AAPL").top() == (D("171.00"), 180, None, 0)
    ex.replace("b2", D(0), D("171.00"), None)  # nothing left to work: refused, order intact
    assert ev.kinds("b2")[-1] is VenueRequestRejected and ex.book("AAPL").bid_size == 180


def test_stop_triggers_on_the_last_trade_and_then_works_as_market():
    ex, ev = exchange()
    ex.submit(vo("stop", qty="10", price=None, ord_type=OrdType.STOP, stop_px="170.10"))
    ex.submit(vo("s1", Side.SELL, "100", "170.05"))
    ex.submit(vo("s2", Side.SELL, "100", "170.10"))
    ex.submit(vo("s3", Side.SELL, "100", "170.20"))
    ex.submit(vo("b0", qty="50", price="170.05"))  # prints 170.05: below the stop
    assert ev.kinds("stop") == [VenueAccepted]
    ex.submit(vo("b1", qty="150", price="170.10"))  # prints 170.10: touches it
    assert ev.kinds("stop") == [VenueAccepted, VenueTriggered, VenueFill]
    assert ev.of("stop")[1] == VenueTriggered("stop", D("170.10"))
    assert ev.fills("stop") == [(10, D("170.20"))]
    # The trigger comes after everything the triggering order itself caused.
    assert ev.events.index(ev.of("b1")[-1]) < ev.events.index(ev.of("stop")[1])


def test_sell_stop_limit_rests_at_its_limit_once_triggered():
    ex, ev = exchange()
    ex.submit(
        vo("sl", Side.SELL, "100", "169.90", OrdType.STOP_LIMIT, stop_px="169.95"),
    )
    ex.submit(vo("bid", qty="10", price="169.95"))
    ex.submit(vo("hit", Side.SELL, "10", "169.95"))  # prints 169.95
    assert ev.kinds("sl") == [VenueAccepted, VenueTriggered]
    assert ex.book("AAPL").top() == (None, 0, D("169.90"), 100)  # working as a limit
    ex.submit(vo("lift", qty="100", price="170.00"))
    assert ev.fills("sl") == [(100, D("169.90"))]


def test_stop_already_touched_at_submit_triggers_at_once_and_cascades():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "10", "170.00"))
    ex.submit(vo("b1", qty="10"))  # last = 170.00
    ex.submit(vo("s2", Side.SELL, "10", "170.30"))
    ex.submit(vo("s3", Side.SELL, "10", "170.50"))
    ex.submit(vo("far", qty="10", price=None, ord_type=OrdType.STOP, stop_px="170.30"))
    assert ev.kinds("far") == [VenueAccepted]
    # Already touched (last 170.00 >= 169.90): fires, prints 170.30, which fires "far".
    ex.submit(vo("now", qty="10", price=None, ord_type=OrdType.STOP, stop_px="169.90"))
    assert ev.kinds("now") == [VenueAccepted, VenueTriggered, VenueFill]
    assert ev.of("now")[1] == VenueTriggered("now", D("170.00"))
    assert ev.of("far")[1:] == [
        VenueTriggered("far", D("170.30")),
        VenueFill("far", D(10), D("170.50"), "T3"),
    ]


def test_pending_stop_can_be_replaced_and_canceled():
    ex, ev = exchange()
    ex.submit(vo("s1", Side.SELL, "10", "170.00"))
    ex.submit(vo("b1", qty="10"))  # last = 170.00
    ex.submit(vo("stop", Side.SELL, "10", None, OrdType.STOP, stop_px="169.00"))
    ex.replace("stop", D(5), None, D("170.00"))  # now touched by the last trade
    assert ev.kinds("stop") == [VenueAccepted, VenueReplaced, VenueTriggered, VenueCanceled]
    assert "no liquidity" in ev.of("stop")[-1].reason
    ex.submit(vo("stop2", Side.SELL, "10", None, OrdType.STOP, stop_px="160.00"))
    ex.cancel("stop2")
    ex.submit(vo("s2", Side.SELL, "10", "150.00"))
    ex.submit(vo("b2", qty="10", price="150.00"))  # would have touched it
    assert ev.kinds("stop2") == [VenueAccepted, VenueCanceled]


def test_a_listener_that_sends_orders_from_a_callback_sees_events_in_order():
    ex = SimExchange(default_universe(), liquidity=False)
    seen: list[VenueEvent] = []

    class Hedger:
        def on_venue_event(self, event: VenueEvent) -> None:
            seen.append(event)
            if isinstance(event, VenueFill) and event.order_id == "b1":
                ex.submit(market("hedge", Side.SELL, str(event.qty)))

    ex.set_listener(Hedger())
    ex.submit(vo("s1", Side.SELL, "10", "170.00"))
    ex.submit(vo("s2", Side.SELL, "10", "170.01"))
    ex.submit(vo("bid", qty="50", price="169.00"))
    ex.submit(vo("b1", qty="30", price="170.01", tif=TimeInForce.IOC))
    b1 = [type(e) for e in seen if e.order_id == "b1"]
    assert b1 == [VenueAccepted, VenueFill, VenueFill, VenueCanceled]
    # Each hedge starts only after all of b1's events, and both hit the resting bid.
    last_b1 = max(i for i, e in enumerate(seen) if e.order_id == "b1")
    first_hedge = min(i for i, e in enumerate(seen) if e.order_id == "hedge")
    assert first_hedge > last_b1
    assert [e.qty for e in seen if isinstance(e, VenueFill) and e.order_id == "bid"] == [10, 10]


def test_market_data_quotes_on_top_changes_and_ticks_each_trade():
    ex, _ = exchange()
    data: list[Quote | TradeTick] = []
    ex.subscribe(data.append)
    ex.submit(vo("s1", Side.SELL, "100", "170.00"))
    ex.submit(vo("s2", Side.SELL, "100", "170.50"))  # deeper level: top unchanged
    ex.submit(vo("b1", qty="150", price="170.50"))
    quotes = [(q.bid, q.ask, q.ask_size) for q in data if isinstance(q, Quote)]
    assert quotes == [(None, D("170.00"), 100), (None, D("170.50"), 50)]
    ticks = [(t.price, t.qty) for t in data if isinstance(t, TradeTick)]
    assert ticks == [(D("170.00"), 100), (D("170.50"), 50)]
    assert all(t.symbol == "AAPL" for t in data)


def test_background_liquidity_seeds_books_and_drives_no_listener_events():
    ex = SimExchange(default_universe(), seed=1)
    ev = Events()
    ex.set_listener(ev)
    book = ex.book("AAPL")
    assert book.best_bid == D("173.44") and book.best_ask == D("173.46")
    assert book.level_count(True) == 5 and book.level_count(False) == 5
    assert ex.last_price("AAPL") == D("173.45")  # the reference close until the first trade
    ex.step_liquidity(200)
    assert ev.events == []  # background orders trade, but only client orders are reported


def test_resting_client_orders_fill_from_background_flow():
    ex = SimExchange(default_universe(), seed=3)
    ev = Events()
    ex.set_listener(ev)
    ex.submit(vo("bid", qty="100", price=str(ex.book("AAPL").best_bid)))
    ex.submit(vo("ask", Side.SELL, "100", str(ex.book("AAPL").best_ask)))
    for _ in range(2000):
        if ev.fills("bid") and ev.fills("ask"):
            break
        ex.step_liquidity()
    assert sum(q for q, _ in ev.fills("bid")) > 0 and sum(q for q, _ in ev.fills("ask")) > 0


def test_seeded_liquidity_is_repeatable():
    def trades(seed: int) -> list[tuple[str, D, D]]:
        ex = SimExchange(default_universe(), seed=seed)
        ticks: list[tuple[str, D, D]] = []
        ex.subscribe(
            lambda m: ticks.append((m.symbol, m.price, m.qty)) if isinstance(m, TradeTick) else None
        )
        ex.step_liquidity(300)
        return ticks

    first = trades(5)
    assert len(first) > 50
    assert first == trades(5)
    assert first != trades(6)


def test_books_never_empty_and_prices_move_but_stay_near_reference():
    universe = default_universe()
    ex = SimExchange(universe, seed=11)
    moved = set()
    for _ in range(40):
        ex.step_liquidity(50)
        for inst in universe:
            book = ex.book(inst.symbol)
            assert book.level_count(True) >= 5 and book.level_count(False) >= 5
            assert book.best_bid < book.best_ask
            mid = (book.best_bid + book.best_ask) / 2
            assert abs(mid / inst.reference_price - 1) < D("0.06")
            assert len(book) < 200  # old background orders are cleaned up
            if ex.last_price(inst.symbol) != inst.reference_price:
                moved.add(inst.symbol)
    assert len(moved) == len(universe)


def test_without_liquidity_books_start_empty_and_cannot_be_stepped():
    ex, _ = exchange()
    assert len(ex.book("AAPL")) == 0 and ex.last_price("AAPL") is None
    try:
        ex.step_liquidity()
    except RuntimeError as exc:
        assert "without background liquidity" in str(exc)
    else:
        raise AssertionError("stepping a venue without liquidity should fail")


def test_start_runs_the_flow_on_the_loop_and_stop_ends_it():
    ex = SimExchange(default_universe(), seed=2, tick_interval=0.001)
    ticks: list[TradeTick] = []
    ex.subscribe(lambda m: ticks.append(m) if isinstance(m, TradeTick) else None)

    async def run() -> int:
        await ex.start()
        await ex.start()  # idempotent: still one task
        task = ex._task
        traded = asyncio.Event()
        ex.subscribe(lambda m: traded.set() if isinstance(m, TradeTick) else None)
        await asyncio.wait_for(traded.wait(), 10)  # the flow trades on the loop, unprompted
        await ex.stop()
        assert task is not None and task.done() and ex._task is None  # stop ended the flow
        return len(ticks)

    assert asyncio.run(run()) > 0
