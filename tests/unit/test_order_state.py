"""The order state machine: every FIX transition, and illegal ones refused by name."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from oms.enums import OrdStatus, OrdType, Side, TimeInForce
from oms.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderStopMoved,
    OrderSubmitted,
    OrderTriggered,
    event_from_row,
)
from oms.order import TRANSITIONS, InvalidTransition, Order
from oms.order_store import OrderStore

D = Decimal


def submitted(qty: str = "100") -> OrderSubmitted:
    return OrderSubmitted(
        order_id="O1",
        cl_ord_id="C1",
        account="ACC1",
        symbol="AAPL",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        time_in_force=TimeInForce.DAY,
        qty=D(qty),
        price=D("10.00"),
        session="FIX.4.4:FIXGATE->CLIENT1",
    )


def fill(qty: str, px: str = "10", n: int = 1) -> OrderFilled:
    return OrderFilled(order_id="O1", exec_id=f"E{n}", last_qty=D(qty), last_px=D(px))


def new_order() -> Order:
    o = Order.from_submitted(submitted())
    o.apply(OrderAccepted(order_id="O1"))
    return o


def test_accept_then_partial_then_full_fill_tracks_quantities_and_average_price():
    o = new_order()
    assert o.status is OrdStatus.NEW and o.leaves_qty == 100
    o.apply(fill("40", "10"))
    assert o.status is OrdStatus.PARTIALLY_FILLED
    assert (o.cum_qty, o.leaves_qty) == (40, 60)
    o.apply(fill("60", "11", 2))
    assert o.status is OrdStatus.FILLED
    assert o.leaves_qty == 0
    assert o.avg_px == D("10.6")  # (40*10 + 60*11) / 100


def test_rejected_order_is_terminal_with_reason():
    o = Order.from_submitted(submitted())
    o.apply(OrderRejected(order_id="O1", reason="max order qty", ord_rej_reason=3))
    assert o.status is OrdStatus.REJECTED and o.text == "max order qty"
    with pytest.raises(InvalidTransition, match="REJECTED -> accepted"):
        o.apply(OrderAccepted(order_id="O1"))


@pytest.mark.parametrize(
    "event", [OrderAccepted(order_id="O1"), fill("1"), OrderCanceled(order_id="O1")]
)
def test_filled_order_refuses_every_further_event_by_name(event):
    o = new_order()
    o.apply(fill("100"))
    with pytest.raises(InvalidTransition, match=f"FILLED -> {event.kind}"):
        o.apply(event)
    assert o.status is OrdStatus.FILLED


def test_overfill_is_refused_and_changes_nothing():
    o = new_order()
    o.apply(fill("90"))
    with pytest.raises(InvalidTransition):
        o.apply(fill("20", n=2))
    assert o.cum_qty == 90 and o.status is OrdStatus.PARTIALLY_FILLED


def test_cancel_request_then_canceled_swaps_clordids():
    o = new_order()
    o.apply(OrderPendingCancel(order_id="O1", cl_ord_id="C2"))
    assert o.status is OrdStatus.PENDING_CANCEL
    o.apply(OrderCanceled(order_id="O1", reason="canceled on request"))
    assert o.status is OrdStatus.CANCELED
    assert (o.cl_ord_id, o.orig_cl_ord_id) == ("C2", "C1")
    assert o.leaves_qty == 0


def test_fill_while_cancel_pending_keeps_pending_and_reverts_to_partial_on_reject():
    o = new_order()
    o.apply(OrderPendingCancel(order_id="O1", cl_ord_id="C2"))
    o.apply(fill("30"))
    assert o.status is OrdStatus.PENDING_CANCEL and o.cum_qty == 30
    o.apply(
        OrderCancelRejected(
            order_id="O1", cl_ord_id="C2", reason="too late", cxl_rej_reason=0, response_to="1"
        )
    )
    assert o.status is OrdStatus.PARTIALLY_FILLED
    assert o.cl_ord_id == "C1"


def test_full_fill_while_cancel_pending_wins():
    o = new_order()
    o.apply(OrderPendingCancel(order_id="O1", cl_ord_id="C2"))
    o.apply(fill("100"))
    assert o.status is OrdStatus.FILLED


def test_replace_changes_terms_and_keeps_fills():
    o = new_order()
    o.apply(fill("30"))
    o.apply(OrderPendingReplace(order_id="O1", cl_ord_id="C2", qty=D("200"), price=D("10.5")))
    assert o.status is OrdStatus.PENDING_REPLACE
    o.apply(OrderReplaced(order_id="O1", cl_ord_id="C2", qty=D("200"), price=D("10.5")))
    assert o.status is OrdStatus.PARTIALLY_FILLED
    assert (o.qty, o.price, o.cum_qty, o.leaves_qty) == (200, D("10.5"), 30, 170)
    assert (o.cl_ord_id, o.orig_cl_ord_id) == ("C2", "C1")


def test_replace_below_filled_quantity_is_refused():
    o = new_order()
    o.apply(fill("50"))
    with pytest.raises(InvalidTransition):
        o.apply(OrderReplaced(order_id="O1", cl_ord_id="C2", qty=D("40"), price=D("10")))


def test_expired_and_canceled_are_terminal():
    for event in (OrderExpired(order_id="O1", reason="IOC"), OrderCanceled(order_id="O1")):
        o = new_order()
        o.apply(event)
        assert o.status.is_terminal and not o.is_open


S = OrdStatus
EVENT_KINDS = ("accepted", "rejected", "filled", "triggered", "pending_cancel", "canceled",
               "cancel_rejected", "pending_replace", "replaced", "expired", "stop_moved")
# The whole (state x event) matrix, written out independently of TRANSITIONS: the state
# each event leads to from an order in that state, or None where it must be refused.
# PARTIALLY_FILLED orders hold 40 of 100; the sample fill is 10, the sample replace
# raises the quantity to 120.
EXPECTED: dict[OrdStatus, dict[str, OrdStatus | None]] = {
    S.PENDING_NEW: {"accepted": S.NEW, "rejected": S.REJECTED},
    S.NEW: {"rejected": S.REJECTED, "filled": S.PARTIALLY_FILLED, "triggered": S.NEW,
            "pending_cancel": S.PENDING_CANCEL, "canceled": S.CANCELED,
            "pending_replace": S.PENDING_REPLACE, "replaced": S.NEW, "expired": S.EXPIRED,
            "stop_moved": S.NEW},  # a held trailing stop follows the market
    S.PARTIALLY_FILLED: {"filled": S.PARTIALLY_FILLED, "triggered": S.PARTIALLY_FILLED,
                         "pending_cancel": S.PENDING_CANCEL, "canceled": S.CANCELED,
                         "pending_replace": S.PENDING_REPLACE, "replaced": S.PARTIALLY_FILLED,
                         "expired": S.EXPIRED},
    S.FILLED: {},
    S.REJECTED: {},
    # Late fills: booked, and by OrdStatus precedence Canceled/Expired outrank partial.
    S.CANCELED: {"filled": S.CANCELED},
    S.EXPIRED: {"filled": S.EXPIRED},
    S.PENDING_CANCEL: {"filled": S.PENDING_CANCEL, "triggered": S.PENDING_CANCEL,
                       "canceled": S.CANCELED, "expired": S.EXPIRED, "cancel_rejected": S.NEW,
                       "stop_moved": S.PENDING_CANCEL},
    S.PENDING_REPLACE: {"filled": S.PENDING_REPLACE, "triggered": S.PENDING_REPLACE,
                        "replaced": S.NEW, "canceled": S.CANCELED, "expired": S.EXPIRED,
                        "cancel_rejected": S.NEW, "pending_cancel": S.PENDING_CANCEL,
                        "stop_moved": S.PENDING_REPLACE},
}


def order_in(state: OrdStatus) -> Order:
    o = Order.from_submitted(submitted())
    path: dict[OrdStatus, list[Any]] = {
        S.PENDING_NEW: [],
        S.NEW: [OrderAccepted(order_id="O1")],
        S.PARTIALLY_FILLED: [OrderAccepted(order_id="O1"), fill("40", n=9)],
        S.FILLED: [OrderAccepted(order_id="O1"), fill("100", n=9)],
        S.REJECTED: [OrderRejected(order_id="O1", reason="no", ord_rej_reason=0)],
        S.CANCELED: [OrderAccepted(order_id="O1"), OrderCanceled(order_id="O1")],
        S.EXPIRED: [OrderAccepted(order_id="O1"), OrderExpired(order_id="O1")],
        S.PENDING_CANCEL: [OrderAccepted(order_id="O1"),
                           OrderPendingCancel(order_id="O1", cl_ord_id="X1")],
        S.PENDING_REPLACE: [OrderAccepted(order_id="O1"),
                            OrderPendingReplace(order_id="O1", cl_ord_id="R1", qty=D(120),
                                                price=D("10.01"))],
    }
    for event in path[state]:
        o.apply(event)
    assert o.status is state
    return o


def sample(kind: str) -> Any:
    return {
        "accepted": OrderAccepted(order_id="O1"),
        "rejected": OrderRejected(order_id="O1", reason="venue says no", ord_rej_reason=0),
        "filled": fill("10", n=1),
        "triggered": OrderTriggered(order_id="O1", trigger_px=D("10")),
        "pending_cancel": OrderPendingCancel(order_id="O1", cl_ord_id="X2"),
        "canceled": OrderCanceled(order_id="O1", reason="done"),
        "cancel_rejected": OrderCancelRejected(order_id="O1", cl_ord_id="X2", reason="late",
                                               cxl_rej_reason=0, response_to="1"),
        "pending_replace": OrderPendingReplace(order_id="O1", cl_ord_id="R2", qty=D(120),
                                               price=D("10.01")),
        "replaced": OrderReplaced(order_id="O1", cl_ord_id="R2", qty=D(120), price=D("10.01")),
        "expired": OrderExpired(order_id="O1", reason="day over"),
        "stop_moved": OrderStopMoved(order_id="O1", stop_px=D("9.50"), best_px=D("10")),
    }[kind]


@pytest.mark.parametrize("state", list(OrdStatus))
@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_the_whole_state_event_matrix(state: OrdStatus, kind: str) -> None:
    order = order_in(state)
    expected = EXPECTED[state].get(kind)
    before = order.to_dict()
    if expected is None:
        with pytest.raises(InvalidTransition, match=f"{state.name} -> {kind}"):
            order.apply(sample(kind))
        assert order.to_dict() == before  # a refused event changes nothing
    else:
        order.apply(sample(kind))
        assert order.status is expected


def test_the_table_has_no_row_the_matrix_does_not_expect() -> None:
    for (state, kind) in TRANSITIONS:
        assert kind in EXPECTED[state], f"({state.name}, {kind}) is in the table, not the spec"


def test_late_fill_after_cancel_is_booked_and_completes_the_order() -> None:
    o = order_in(S.CANCELED)
    o.apply(fill("100", n=3))
    assert (o.status, o.cum_qty, o.leaves_qty) == (S.FILLED, 100, 0)
    p = order_in(S.CANCELED)
    p.apply(fill("30", n=3))
    assert (p.status, p.cum_qty, p.leaves_qty) == (S.CANCELED, 30, 0)


def test_the_same_venue_trade_twice_is_booked_once() -> None:
    o = order_in(S.NEW)
    o.apply(OrderFilled(order_id="O1", exec_id="E1", last_qty=D(10), last_px=D(10),
                        venue_trade_id="T7"))
    with pytest.raises(InvalidTransition, match="filled again by trade T7"):
        o.apply(OrderFilled(order_id="O1", exec_id="E2", last_qty=D(10), last_px=D(10),
                            venue_trade_id="T7"))
    assert o.cum_qty == 10


def test_a_stop_triggered_while_a_cancel_is_pending_keeps_its_trigger() -> None:
    o = order_in(S.PENDING_CANCEL)
    o.apply(sample("triggered"))
    o.apply(sample("cancel_rejected"))
    assert o.triggered and o.status is S.NEW


def test_replay_through_the_store_gives_the_same_order_as_live() -> None:
    events = [
        submitted(),
        OrderAccepted(order_id="O1"),
        fill("25", "10.01"),
        OrderPendingReplace(order_id="O1", cl_ord_id="C2", qty=D("80"), price=D("10.02")),
        OrderReplaced(order_id="O1", cl_ord_id="C2", qty=D("80"), price=D("10.02")),
    ]
    live, replayed = OrderStore(lambda s, v: None), OrderStore(lambda s, v: None)
    for e in events:
        live.apply(e)
        replayed.apply(event_from_row(e.kind, e.order_id, e.ts, e.to_payload()))
    a, b = live.orders["O1"], replayed.orders["O1"]
    assert b.to_dict() == a.to_dict() and b.version == a.version
    assert b.price == D("10.02") and b.side is Side.BUY
    assert replayed.by_cl_ord_id(a.session, "C2") is b
