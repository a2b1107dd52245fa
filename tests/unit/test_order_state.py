"""The order state machine: every FIX transition, and illegal ones refused by name."""

from __future__ import annotations

from decimal import Decimal

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
    OrderSubmitted,
    event_from_row,
)
from oms.order import TRANSITIONS, InvalidTransition, Order, rebuild

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


def test_every_transition_table_row_is_applicable():
    # Guards against a row that names a state no handler can reach.
    assert (OrdStatus.FILLED, "filled") not in TRANSITIONS
    assert (OrdStatus.CANCELED, "canceled") not in TRANSITIONS
    assert all(not state.is_terminal for state, _ in TRANSITIONS)


def test_rebuild_from_serialised_events_gives_the_same_order():
    events = [
        submitted(),
        OrderAccepted(order_id="O1"),
        fill("25", "10.01"),
        OrderPendingReplace(order_id="O1", cl_ord_id="C2", qty=D("80"), price=D("10.02")),
        OrderReplaced(order_id="O1", cl_ord_id="C2", qty=D("80"), price=D("10.02")),
    ]
    live = rebuild(events)
    replayed = rebuild([event_from_row(e.kind, e.order_id, e.ts, e.to_payload()) for e in events])
    assert replayed.to_dict() == live.to_dict()
    assert replayed.price == D("10.02") and replayed.side is Side.BUY
    assert replayed.version == live.version
