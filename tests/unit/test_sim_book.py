"""The sim exchange's order book: price-time priority, IOC/FOK/market, cancel, replace."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gateway.venues.sim.book import BookDepth, OrderBook, TradeIds
from gateway.venues.sim.stops import StopBook
from oms.enums import TimeInForce

BUY, SELL = True, False


def book_with_asks(*asks: tuple[str, str, int]) -> OrderBook:
    book = OrderBook("X")
    for oid, price, qty in asks:
        book.add_limit(oid, "liquidity", SELL, D(qty), D(price))
    return book


def test_better_price_first_then_arrival_order_at_a_price():
    book = book_with_asks(("a", "10.01", 100), ("b", "10.00", 100), ("c", "10.00", 100))
    result = book.add_limit("buy", "o1", BUY, D(250), D("10.01"))
    assert [(f.passive_id, f.price, f.qty) for f in result.fills] == [
        ("b", D("10.00"), 100),
        ("c", D("10.00"), 100),
        ("a", D("10.01"), 50),
    ]
    assert [f.trade_id for f in result.fills] == ["T1", "T2", "T3"]
    assert all(f.aggressor_id == "buy" and f.aggressor_owner == "o1" for f in result.fills)
    assert result.fills[0].passive_owner == "liquidity"
    assert book.get("a").qty == 50 and book.best_ask == D("10.01") and book.ask_size == 50
    assert book.last_price == D("10.01")
    assert result.resting == 0 and result.canceled == 0 and "buy" not in book


def test_partial_fill_leaves_the_rest_resting_on_both_sides():
    book = OrderBook("X")
    book.add_limit("bid", "o1", BUY, D(100), D("9.99"))
    book.add_limit("s1", "o2", SELL, D(30), D("9.99"))
    assert book.get("bid").qty == 70 and book.bid_size == 70
    # An aggressor bigger than the book trades what is there and rests the rest.
    result = book.add_limit("s2", "o3", SELL, D(150), D("9.99"))
    assert result.filled == 70 and result.resting == 80
    assert book.best_bid is None and book.best_ask == D("9.99") and book.ask_size == 80


def test_market_order_walks_levels_at_passive_prices_and_never_rests():
    book = book_with_asks(("a", "10.00", 100), ("b", "10.02", 100), ("c", "10.05", 100))
    result = book.add_market("m", "o1", BUY, D(250))
    assert [(f.price, f.qty) for f in result.fills] == [
        (D("10.00"), 100),
        (D("10.02"), 100),
        (D("10.05"), 50),
    ]
    assert book.last_price == D("10.05")
    # Bigger than the book: the remainder is canceled, nothing rests on the bid.
    result = book.add_market("m2", "o1", BUY, D(500))
    assert result.filled == 50 and result.canceled == 450 and result.resting == 0
    assert book.best_bid is None and book.best_ask is None and len(book) == 0


def test_ioc_fills_what_it_can_and_never_rests():
    book = book_with_asks(("a", "10.00", 50), ("b", "10.01", 50))
    result = book.add_limit("ioc", "o1", BUY, D(80), D("10.00"), TimeInForce.IOC)
    assert result.filled == 50 and result.canceled == 30
    assert "ioc" not in book and book.best_bid is None  # the remainder did not rest
    assert book.best_ask == D("10.01")  # nothing beyond the limit price traded


def test_fok_fills_completely_across_levels():
    book = book_with_asks(("a", "10.00", 50), ("b", "10.01", 50))
    result = book.add_limit("fok", "o1", BUY, D(100), D("10.01"), TimeInForce.FOK)
    assert result.filled == 100 and result.canceled == 0 and len(book) == 0


def test_failed_fok_trades_nothing_and_leaves_the_book_untouched():
    book = book_with_asks(("a", "10.00", 50), ("b", "10.02", 50))
    before = book.depth()
    # 100 are on offer, but only 50 at an acceptable price.
    result = book.add_limit("fok", "o1", BUY, D(100), D("10.01"), TimeInForce.FOK)
    assert result.fills == () and result.canceled == 100
    assert book.depth() == before and book.get("a").qty == 50 and book.last_price is None
    # A market FOK bigger than the whole book also does nothing.
    assert book.add_market("mfok", "o1", BUY, D(101), all_or_none=True).filled == 0
    assert book.depth() == before
    # No trade id was used up by the failed attempts.
    assert book.add_market("m", "o1", BUY, D(10)).fills[0].trade_id == "T1"


def test_cancel_takes_the_order_off_and_updates_the_top():
    book = book_with_asks(("a", "10.00", 100), ("b", "10.01", 100))
    canceled = book.cancel("a")
    assert canceled is not None and canceled.qty == 100
    assert book.best_ask == D("10.01") and "a" not in book
    assert book.cancel("a") is None and book.cancel("nope") is None
    # The canceled order cannot trade any more.
    fills = book.add_market("m", "o1", BUY, D(100)).fills
    assert [f.passive_id for f in fills] == ["b"]


def test_replace_to_smaller_size_keeps_time_priority():
    book = book_with_asks(("a", "10.00", 100), ("b", "10.00", 100))
    result = book.replace("a", D(40))
    assert result.fills == () and result.resting == 40
    assert book.queue(SELL, D("10.00")) == ["a", "b"] and book.ask_size == 140
    fills = book.add_market("m", "o1", BUY, D(40)).fills
    assert [(f.passive_id, f.qty) for f in fills] == [("a", 40)]


def test_replace_to_larger_size_or_new_price_loses_time_priority():
    book = book_with_asks(("a", "10.00", 100), ("b", "10.00", 100))
    book.replace("a", D(150))
    assert book.queue(SELL, D("10.00")) == ["b", "a"] and book.ask_size == 250
    book.add_limit("c", "x", SELL, D(100), D("10.01"))
    book.replace("c", D(100), D("10.00"))  # joins 10.00 behind the others
    book.replace("b", D(100), D("10.01"))
    book.replace("b", D(100), D("10.00"))  # a round trip still goes to the back
    assert book.queue(SELL, D("10.00")) == ["a", "c", "b"]
    assert book.level_count(SELL) == 1  # the emptied 10.01 level is gone


def test_replace_to_a_crossing_price_trades_at_once_and_rests_the_rest():
    book = OrderBook("X")
    book.add_limit("ask", "liquidity", SELL, D(30), D("10.05"))
    book.add_limit("bid", "o1", BUY, D(100), D("10.00"))
    result = book.replace("bid", D(100), D("10.05"))
    assert [(f.passive_id, f.price, f.qty) for f in result.fills] == [("ask", D("10.05"), 30)]
    assert result.resting == 70 and book.best_bid == D("10.05") and book.best_ask is None
    with pytest.raises(KeyError):
        book.replace("ask", D(10))  # fully filled, no longer resting


def test_top_and_depth_show_aggregated_levels_best_first():
    book = OrderBook("X")
    for oid, is_buy, qty, price in [
        ("b1", BUY, 100, "9.99"),
        ("b2", BUY, 50, "9.99"),
        ("b3", BUY, 10, "9.97"),
        ("a1", SELL, 70, "10.01"),
        ("a2", SELL, 20, "10.03"),
    ]:
        book.add_limit(oid, "liquidity", is_buy, D(qty), D(price))
    assert book.top() == (D("9.99"), 150, D("10.01"), 70)
    assert book.depth(levels=1) == BookDepth(((D("9.99"), 150),), ((D("10.01"), 70),))
    assert book.depth().bids == ((D("9.99"), 150), (D("9.97"), 10))
    assert book.depth().asks == ((D("10.01"), 70), (D("10.03"), 20))


def test_bad_entries_are_refused():
    book = OrderBook("X")
    book.add_limit("a", "o1", BUY, D(10), D("10.00"))
    with pytest.raises(ValueError):
        book.add_limit("a", "o1", BUY, D(10), D("10.00"))  # duplicate id
    with pytest.raises(ValueError):
        book.add_limit("b", "o1", BUY, D(0), D("10.00"))
    with pytest.raises(ValueError):
        book.add_limit("c", "o1", BUY, D(10), D("0"))
    assert len(book) == 1


def test_books_of_one_venue_share_a_trade_id_sequence():
    ids = TradeIds()
    x, y = OrderBook("X", ids), OrderBook("Y", ids)
    for book in (x, y):
        book.add_limit("s", "liquidity", SELL, D(10), D("1.00"))
    assert x.add_market("m", "o", BUY, D(10)).fills[0].trade_id == "T1"
    assert y.add_market("m", "o", BUY, D(10)).fills[0].trade_id == "T2"


def test_stop_book_returns_touched_stops_in_arrival_order():
    stops = StopBook()
    stops.add("buy-high", True, D("10.10"))
    stops.add("buy-low", True, D("10.05"))
    stops.add("sell", False, D("9.90"))
    stops.add("buy-mid", True, D("10.07"))
    assert stops.touched(D("10.04")) == []
    assert stops.touched(D("10.07")) == ["buy-low", "buy-mid"]  # at or below the print
    assert stops.remove("buy-high") and not stops.remove("buy-high")
    assert stops.touched(D("9.95")) == [] and stops.touched(D("9.90")) == ["sell"]
    assert len(stops) == 0
