"""Pre-trade gates, each at its limit and one unit past it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from compliance.pretrade import ComplianceGate
from oms.enums import OrdRejReason, OrdType, Side, TimeInForce
from oms.gates import OrderContext
from oms.order import Order
from oms.universe import default_universe
from oms.validation import check_order_terms
from risk.kill_switch import KillSwitch
from risk.limits import Limits
from risk.pretrade import RiskGate

NOW = datetime.now(UTC)
UNIVERSE = default_universe()


def order(
    qty="100",
    price="100.00",
    ord_type=OrdType.LIMIT,
    stop_px=None,
    account="ACC1",
    cl_ord_id="C1",
    order_id="O1",
):
    return Order(
        order_id=order_id,
        cl_ord_id=cl_ord_id,
        account=account,
        symbol="AAPL",
        side=Side.BUY,
        ord_type=ord_type,
        time_in_force=TimeInForce.DAY,
        qty=D(qty),
        price=None if price is None else D(price),
        stop_px=None if stop_px is None else D(stop_px),
        session="S1",
        venue="SIM",
        created=NOW,
        updated=NOW,
    )


class Orders:
    def __init__(self, *orders):
        self.index = {(o.session, o.cl_ord_id): o for o in orders}

    def by_cl_ord_id(self, session, cl_ord_id):
        return self.index.get((session, cl_ord_id))


def ctx(o, ref="100", orders=None):
    return OrderContext(
        o, UNIVERSE.get("AAPL"), None if ref is None else D(ref), orders or Orders()
    )


LIMITS = Limits(max_order_qty=D(1000), max_order_notional=D(50_000), price_collar_pct=D(10))


def test_max_order_qty_at_limit_passes_one_over_fails():
    gate = RiskGate(LIMITS, KillSwitch())
    assert gate.check(ctx(order(qty="500", price="100"))) is None
    assert gate.check(ctx(order(qty="1000", price="50"), ref="50")) is None
    denial = gate.check(ctx(order(qty="1001", price="10")))
    assert denial.check == "max_order_qty"
    assert denial.reason == "max order qty 1,000 exceeded: 1,001"
    assert denial.ord_rej_reason is OrdRejReason.ORDER_EXCEEDS_LIMIT


def test_max_notional_at_limit_passes_one_cent_over_fails():
    gate = RiskGate(LIMITS, KillSwitch())
    assert gate.check(ctx(order(qty="500", price="100.00"))) is None  # exactly 50,000
    denial = gate.check(ctx(order(qty="500", price="100.01")))
    assert denial.check == "max_order_notional"
    assert "max order notional 50,000 exceeded: 50,005" in denial.reason


def test_market_order_notional_uses_reference_price_and_needs_one():
    gate = RiskGate(LIMITS, KillSwitch())
    assert (
        gate.check(ctx(order(qty="501", price=None, ord_type=OrdType.MARKET))).check
        == "max_order_notional"
    )
    denial = gate.check(ctx(order(qty="1", price=None, ord_type=OrdType.MARKET), ref=None))
    assert denial.check == "reference_price"


def test_price_collar_edges():
    gate = RiskGate(LIMITS, KillSwitch())
    assert gate.check(ctx(order(qty="1", price="110.00"))) is None
    assert gate.check(ctx(order(qty="1", price="90.00"))) is None
    denial = gate.check(ctx(order(qty="1", price="110.01")))
    assert denial.check == "price_collar" and "10.0% from reference 100" in denial.reason
    assert gate.check(ctx(order(qty="1", price="89.99"))).check == "price_collar"
    # Stops have their own, wider band (20% by default).
    assert gate.check(ctx(order(qty="1", price=None, ord_type=OrdType.STOP,
                                stop_px="120.00"))) is None
    stop = order(qty="1", price=None, ord_type=OrdType.STOP, stop_px="120.01")
    assert "stop price 120.01" in gate.check(ctx(stop)).reason
    # For a cheap stock the tick band is wider than the percentage band.
    cheap = order(qty="1", price="1.10")
    assert gate.check(ctx(cheap, ref="1.00")) is None  # 10 ticks
    assert gate.check(ctx(order(qty="1", price="1.11"), ref="1.00")).check == "price_collar"


def test_kill_switch_account_and_firm():
    ks = KillSwitch()
    gate = RiskGate(LIMITS, ks)
    ks.apply(KillSwitch.event("ACC1", True, "ops"))
    assert gate.check(ctx(order())).check == "kill_switch"
    assert gate.check(ctx(order(account="ACC2"))) is None
    ks.apply(KillSwitch.event(None, True, "ops"))
    assert "firm-wide" in gate.check(ctx(order(account="ACC2"))).reason
    ks.apply(KillSwitch.event(None, False, "ops"))
    ks.apply(KillSwitch.event("ACC1", False, "ops"))
    assert gate.check(ctx(order())) is None


def test_duplicate_cl_ord_id_on_the_session():
    first = order(order_id="O1")
    gate = ComplianceGate()
    assert gate.check(ctx(first, orders=Orders(first))) is None  # itself is not a duplicate
    second = order(order_id="O2")
    denial = gate.check(ctx(second, orders=Orders(first)))
    assert denial.ord_rej_reason is OrdRejReason.DUPLICATE_ORDER
    assert "duplicate ClOrdID(11) C1" in denial.reason


@pytest.mark.parametrize(
    "qty,price,ord_type,stop,check,text",
    [
        ("0", "10", OrdType.LIMIT, None, "qty", "OrderQty(38) must be positive, got 0"),
        ("-5", "10", OrdType.LIMIT, None, "qty", "OrderQty(38) must be positive"),
        ("10", None, OrdType.LIMIT, None, "price", "Price(44) is required"),
        ("10", None, OrdType.STOP, None, "stop_px", "StopPx(99) is required"),
        ("10", "10.001", OrdType.LIMIT, None, "price", "not a multiple of the tick size"),
        ("10.5", "10", OrdType.LIMIT, None, "qty", "lot size"),
        ("10", "-1", OrdType.LIMIT, None, "price", "Price(44) must be positive"),
    ],
)
def test_order_terms_validation_names_the_field(qty, price, ord_type, stop, check, text):
    denial = check_order_terms(
        ord_type,
        TimeInForce.DAY,
        D(qty),
        None if price is None else D(price),
        None if stop is None else D(stop),
        UNIVERSE.get("AAPL"),
    )
    assert denial is not None and denial.check == check and text in denial.reason
