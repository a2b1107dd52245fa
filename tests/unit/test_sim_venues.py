"""Several simulated venues: fees on fills, simulated latency, the venue's message rate,
status and the visible book a router reads. Time moves only by `ManualTimers.advance`."""

from __future__ import annotations

from decimal import Decimal as D

from gateway.venues.sim.exchange import SimExchange
from gateway.venues.timing import ManualTimers
from oms.enums import Side
from oms.universe import default_universe
from oms.venue import VenueAccepted, VenueCanceled, VenueFill, VenueStatus
from tests.unit.test_sim_exchange import Events, vo


def venue(**kw: object) -> tuple[SimExchange, Events, ManualTimers]:
    timers = ManualTimers()
    ex = SimExchange(default_universe(), liquidity=False, timers=timers, **kw)  # type: ignore[arg-type]
    ev = Events()
    ex.set_listener(ev)
    return ex, ev, timers


def test_the_taker_pays_the_taker_fee_and_the_maker_gets_the_maker_fee_or_rebate():
    ex, ev, _ = venue(maker_fee_bps=D("-0.2"), taker_fee_bps=D("0.3"))
    ex.submit(vo("rest", Side.SELL, "100", "170.00"))
    ex.submit(vo("take", Side.BUY, "100", "170.00"))
    (maker,) = [e for e in ev.of("rest") if isinstance(e, VenueFill)]
    (taker,) = [e for e in ev.of("take") if isinstance(e, VenueFill)]
    # 100 x 170.00 = 17,000 notional: 0.3 bp = 0.51 charged, -0.2 bp = 0.34 paid back.
    assert taker.fee == D("0.51")
    assert maker.fee == D("-0.34")


def test_a_venue_without_fees_reports_zero():
    ex, ev, _ = venue()
    ex.submit(vo("rest", Side.SELL, "10", "170.00"))
    ex.submit(vo("take", Side.BUY, "10", "170.00"))
    assert [e.fee for e in ev.events if isinstance(e, VenueFill)] == [0, 0]


def test_latency_delays_the_order_into_the_book_and_each_report_back():
    ex, ev, timers = venue(latency_ms=5)
    ex.submit(vo("rest", Side.SELL, "100", "170.00"))
    assert ev.events == [] and len(ex.book("AAPL")) == 0  # still on the wire
    timers.advance(0.005)
    assert len(ex.book("AAPL")) == 1  # in the book after one way...
    assert ev.events == []  # ...and its ack still on the way back
    timers.advance(0.004)
    assert ev.events == []
    timers.advance(0.001)
    assert ev.kinds("rest") == [VenueAccepted]
    # A cancel sent right behind an order never overtakes it.
    ex.submit(vo("b1", Side.BUY, "10", "169.00"))
    ex.cancel("b1")
    timers.advance(0.010)
    assert ev.kinds("b1") == [VenueAccepted, VenueCanceled]


def test_orders_beyond_the_message_rate_are_queued_and_spread_never_dropped():
    ex, ev, timers = venue(messages_per_second=3)
    for i in range(7):
        ex.submit(vo(f"o{i}", Side.BUY, "10", "169.00"))
    # Three go in at once; the rest wait for the sliding second to free a slot.
    assert [e.order_id for e in ev.events] == ["o0", "o1", "o2"]
    assert ex.queued == 4
    timers.advance(0.999)
    assert len(ev.events) == 3
    timers.advance(0.001)
    assert [e.order_id for e in ev.events] == [f"o{i}" for i in range(6)]
    timers.advance(1.0)
    assert [e.order_id for e in ev.events] == [f"o{i}" for i in range(7)]
    assert all(isinstance(e, VenueAccepted) for e in ev.events) and ex.queued == 0
    assert len(ex.book("AAPL")) == 7


def test_without_latency_or_rate_everything_happens_inside_the_call():
    ex, ev, _ = venue()
    ex.submit(vo("b1"))
    assert ev.kinds("b1") == [VenueAccepted]


def test_a_sim_venue_is_up_since_it_started_and_shows_its_visible_book():
    ex, _, _ = venue(name="SIM-B")
    assert ex.status is VenueStatus.UP and ex.status_since.tzinfo is not None
    assert str(ex.status) == "up"
    for oid, side, qty, px in (("s1", Side.SELL, "100", "170.02"),
                               ("s2", Side.SELL, "50", "170.01"),
                               ("s3", Side.SELL, "70", "170.01"),
                               ("b1", Side.BUY, "30", "169.99"),
                               ("b2", Side.BUY, "40", "169.90")):
        ex.submit(vo(oid, side, qty, px))
    depth = ex.depth("AAPL", 2)
    assert depth.asks == ((D("170.01"), D(120)), (D("170.02"), D(100)))
    assert depth.bids == ((D("169.99"), D(30)), (D("169.90"), D(40)))
    assert ex.depth("AAPL", 1).asks == ((D("170.01"), D(120)),)


def test_two_venues_with_their_own_seeds_are_independent_books():
    universe = default_universe()
    a = SimExchange(universe, name="SIM-A", seed=7)
    b = SimExchange(universe, name="SIM-B", seed=8)
    a.step_liquidity(50)
    assert a.depth("AAPL", 5) != b.depth("AAPL", 5)
    before = b.depth("AAPL", 5)
    a.step_liquidity(50)  # trading on one venue does not touch the other
    assert b.depth("AAPL", 5) == before


def test_the_matching_benchmark_prints_its_figures(capsys):
    import json

    from gateway.cli import main

    assert main(["bench", "--matching", "3000", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["orders"] + m["cancels"] == m["messages"] == 3000
    assert m["trades"] > 0 and m["book_orders_per_s"] > 0 and m["exchange_orders_per_s"] > 0
    # The exchange run reports every order's ack at least: the same stream went through.
    assert m["exchange_events"] >= m["orders"]


def test_a_sim_venue_feeds_the_router_its_book_and_fees():
    from oms.execution.router import route

    a, _, _ = venue(name="SIM-A", taker_fee_bps=D(3))
    b, _, _ = venue(name="SIM-B", taker_fee_bps=D("0.5"))
    a.submit(vo("a1", Side.SELL, "100", "170.00"))
    b.submit(vo("b1", Side.SELL, "100", "170.01"))
    books = [a.router_book("AAPL"), b.router_book("AAPL")]
    assert books[0].asks == ((D("170.00"), D(100)),) and books[0].taker_fee_bps == 3
    # 170.00 + 3 bp costs more than 170.01 + 0.5 bp: the router takes SIM-B first.
    r = route(True, D(150), D("170.01"), books)
    assert [(s.venue, s.qty) for s in r.decision] == [("SIM-B", 100), ("SIM-A", 50)]
    b.status = VenueStatus.DOWN
    assert not b.router_book("AAPL").up


def test_fees_are_exact_and_written_without_trailing_zeros():
    ex, ev, _ = venue(taker_fee_bps=D("0.5"), maker_fee_bps=D(100))
    ex.submit(vo("rest", Side.SELL, "100", "173.42"))
    ex.submit(vo("take", Side.BUY, "100", "173.42"))
    fees = {e.order_id: e.fee for e in ev.events if isinstance(e, VenueFill)}
    assert str(fees["take"]) == "0.8671"  # 17,342 x 0.5 bp
    assert str(fees["rest"]) == "173.42"  # 17,342 x 100 bp
    ex.submit(vo("rest2", Side.SELL, "100", "100.00"))
    ex.submit(vo("take2", Side.BUY, "100", "100.00"))
    assert str(next(e.fee for e in ev.of("rest2") if isinstance(e, VenueFill))) == "100"
