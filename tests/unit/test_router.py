"""The smart order router's split on hand-built books."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms.execution.router import VenueBook, net_price, route


def lv(*pairs: tuple[str, int]) -> tuple[tuple[D, D], ...]:
    return tuple((D(p), D(s)) for p, s in pairs)


A = VenueBook("A", bids=lv(("99.99", 300), ("99.98", 500)),
              asks=lv(("100.01", 200), ("100.02", 400)))
B = VenueBook("B", bids=lv(("99.99", 100)), asks=lv(("100.01", 100), ("100.03", 1000)))


def slices(routing) -> list[tuple[str, str, str | None]]:
    return [(s.venue, str(s.qty), None if s.price is None else str(s.price))
            for s in routing.decision]


def test_a_buy_takes_the_best_prices_across_venues_then_goes_deeper():
    r = route(True, D(500), None, [A, B])
    # 100.01 at both (A first: bigger size), then A's 100.02 before B's 100.03.
    assert slices(r) == [("A", "400", "100.02"), ("B", "100", "100.01")]
    assert r.unrouted == 0 and r.taken == 500


def test_fees_that_flip_the_ranking():
    # A's 100.00 at 3 bp costs 100.03 a share; B's 100.01 at 0.5 bp costs 100.015.
    a = VenueBook("A", asks=lv(("100.00", 100)), taker_fee_bps=D(3))
    b = VenueBook("B", asks=lv(("100.01", 100)), taker_fee_bps=D("0.5"))
    r = route(True, D(100), None, [a, b])
    assert slices(r) == [("B", "100", "100.01")]
    assert net_price(True, D("100.00"), D(3)) > net_price(True, D("100.01"), D("0.5"))
    # Without fees the cheaper raw price wins.
    r = route(True, D(100), None, [VenueBook("A", asks=a.asks), VenueBook("B", asks=b.asks)])
    assert slices(r) == [("A", "100", "100.00")]
    # A seller receives price less fee: the same fees flip a sell too.
    a = VenueBook("A", bids=lv(("100.01", 100)), taker_fee_bps=D(3))
    b = VenueBook("B", bids=lv(("100.00", 100)), taker_fee_bps=D("0.5"))
    assert slices(route(False, D(100), None, [a, b])) == [("B", "100", "100.00")]


def test_the_limit_is_never_traded_through_and_the_remainder_rests_where_likeliest_to_fill():
    a = VenueBook("A", asks=A.asks, fill_probability=D("0.4"))
    b = VenueBook("B", asks=B.asks, fill_probability=D("0.7"))
    r = route(True, D(1000), D("100.01"), [a, b])
    # Equal prices: the likelier venue's level goes first.
    assert slices(r) == [("B", "100", "100.01"), ("A", "200", "100.01"), ("B", "700", "100.01")]
    assert r.decision[-1].resting and not r.decision[0].resting
    assert "rest 700 at B at 100.01" in r.reason
    # A limit below every ask takes nothing and rests it all.
    r = route(True, D(300), D("100.00"), [a, b])
    assert slices(r) == [("B", "300", "100.00")]


def test_a_market_order_beyond_the_visible_book_leaves_the_rest_unrouted():
    r = route(False, D(1000), None, [A, B])
    assert slices(r) == [("A", "800", "99.98"), ("B", "100", "99.99")]
    assert r.unrouted == 100 and "100 unrouted" in r.reason


def test_a_venue_that_is_down_is_not_considered():
    down = VenueBook("A", asks=lv(("99.00", 10_000)), up=False)
    r = route(True, D(100), D("101"), [down, B])
    assert slices(r) == [("B", "100", "100.01")]
    assert [c["venue"] for c in r.record()["considered"]] == ["B", "B"]
    assert "not considered (down): A" in r.reason
    r = route(True, D(100), D("101"), [down])
    assert r.decision == () and r.unrouted == 100 and "no venue is up" in r.reason


def test_ties_go_to_the_likelier_venue_then_the_bigger_size_then_config_order():
    same = lv(("100.01", 100))
    a = VenueBook("A", asks=same, fill_probability=D("0.5"))
    b = VenueBook("B", asks=same, fill_probability=D("0.9"))
    assert slices(route(True, D(100), None, [a, b]))[0][0] == "B"
    a = VenueBook("A", asks=lv(("100.01", 100)))
    b = VenueBook("B", asks=lv(("100.01", 300)))
    assert slices(route(True, D(100), None, [a, b]))[0][0] == "B"
    b = VenueBook("B", asks=same)
    assert slices(route(True, D(100), None, [VenueBook("A", asks=same), b]))[0][0] == "A"
    # Resting ties: the better maker fee (a rebate) wins.
    a = VenueBook("A", maker_fee_bps=D("0.2"))
    b = VenueBook("B", maker_fee_bps=D("-0.2"))
    assert slices(route(True, D(100), D(100), [a, b])) == [("B", "100", "100")]


def test_the_best_execution_record_has_the_documented_shape():
    r = route(True, D(250), D("100.02"), [A, B])
    record = r.record()
    assert set(record) == {"considered", "decision", "reason"}
    assert record["considered"][0] == {"venue": "A", "price": "100.01", "size": "200",
                                       "fee_bps": "0"}
    assert all(set(c) == {"venue", "price", "size", "fee_bps"} for c in record["considered"])
    # 250 at 100.01: A's 200 first (the bigger level), then 50 of B's 100; 100.02 unneeded.
    assert record["decision"] == [{"venue": "A", "qty": "200", "price": "100.01"},
                                  {"venue": "B", "qty": "50", "price": "100.01"}]
    assert isinstance(record["reason"], str) and record["reason"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="quantity must be positive"):
        route(True, D(0), None, [A])
    with pytest.raises(ValueError, match="fill_probability must be between 0 and 1"):
        VenueBook("X", fill_probability=D("1.5"))
