"""Property: for random sequences of orders, fills, price moves and limit changes, no
accepted order ever leaves its account past any of its limits at the moment of
acceptance.

The check recomputes every figure by brute force from the orders and positions,
independently of the gate's incremental bookkeeping.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compliance.desk import RiskDesk
from compliance.lists import Locates
from compliance.pretrade import ComplianceRules
from gateway.venues.sim.exchange import SimExchange
from oms.commands import SubmitOrder
from oms.events import OrderAccepted, OrderEvent
from oms.order import Order
from oms.universe import default_universe
from risk import limits as limits_mod
from risk.limits import Limits, LimitsBook

ACCOUNTS = ("A", "B")
SYMBOLS = {"AAPL": D("173.45"), "KO": D("51.85")}

order_action = st.tuples(
    st.just("order"), st.sampled_from(ACCOUNTS), st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from(["1", "2", "5"]), st.integers(1, 400), st.integers(-30, 30))
# Limit values on the scale of the orders, so that they bind often.
limit_action = st.one_of(
    st.tuples(st.just("limits"), st.sampled_from(ACCOUNTS),
              st.sampled_from(["max_order_qty", "max_position_qty"]), st.integers(1, 600)),
    st.tuples(st.just("limits"), st.sampled_from(ACCOUNTS), st.just("max_open_orders"),
              st.integers(1, 6)),
    st.tuples(st.just("limits"), st.sampled_from(ACCOUNTS),
              st.sampled_from(["max_order_notional", "credit_limit", "max_gross_exposure",
                               "max_net_exposure"]), st.integers(1_000, 120_000)),
)
move_action = st.tuples(st.just("move"), st.sampled_from(sorted(SYMBOLS)), st.integers(-40, 40))
actions = st.lists(st.one_of(order_action, order_action, limit_action, move_action),
                   max_size=40)


def working_px(order: Order, service: Any) -> D:
    return order.price or order.stop_px or service.mark(order.symbol)


def violations(service: Any, desk: RiskDesk, order: Order) -> list[str]:
    """Every limit the account is past, the accepted order included, by brute force."""
    lim = desk.limits.for_account(order.account)
    px = working_px(order, service)
    mine = [o for o in service.orders.values() if o.account == order.account and o.is_open]
    out = []
    if lim.max_order_qty is not None and order.qty > lim.max_order_qty:
        out.append("max_order_qty")
    if lim.max_order_notional is not None and order.qty * px > lim.max_order_notional:
        out.append("max_order_notional")
    if lim.max_open_orders is not None and len(mine) > lim.max_open_orders:
        out.append("max_open_orders")
    position = service.position_qty(order.account, order.symbol)
    same = [o for o in mine if o.symbol == order.symbol]
    if lim.max_position_qty is not None:
        if order.side.is_buy:
            worst = position + sum(o.leaves_qty for o in same if o.side.is_buy)
        else:
            worst = -(position - sum(o.leaves_qty for o in same if not o.side.is_buy))
        if worst > lim.max_position_qty:
            out.append("max_position_qty")
    positions = service.account_positions(order.account)
    gross_now = sum((abs(p.qty * (service.mark(p.symbol) or p.avg_px)) for p in positions), D(0))
    net_now = sum((p.qty * (service.mark(p.symbol) or p.avg_px) for p in positions), D(0))
    if lim.credit_limit is not None:
        working = sum((o.leaves_qty * working_px(o, service) for o in mine), D(0))
        if working + gross_now > lim.credit_limit:
            out.append("credit_limit")
    signed = order.qty if order.side.is_buy else -order.qty
    before = position * (service.mark(order.symbol) or px)
    gross_after = gross_now - abs(before) + abs(before + signed * px)
    if lim.max_gross_exposure is not None and gross_after > lim.max_gross_exposure:
        out.append("max_gross_exposure")
    if lim.max_net_exposure is not None and abs(net_now + signed * px) > lim.max_net_exposure:
        out.append("max_net_exposure")
    return out


async def play(script: list[tuple[Any, ...]]) -> tuple[int, list[str]]:
    universe = default_universe()
    desk = RiskDesk(limits=LimitsBook(Limits(price_collar_pct=D(50))),
                    rules=ComplianceRules(sell_short_action="remark"))
    service, _ = desk.order_service(universe, _Journal(),
                                    {"SIM": SimExchange(universe, liquidity=False)})
    found: list[str] = []
    accepted = 0

    def on_event(order: Order, event: OrderEvent) -> None:
        nonlocal accepted
        if isinstance(event, OrderAccepted) and order.account in ACCOUNTS:
            accepted += 1
            found.extend(f"{order.order_id} {v}" for v in violations(service, desk, order))

    service.listeners.append(on_event)
    await service.start()
    for account in (*ACCOUNTS, "MM1", "MM2"):
        for symbol in SYMBOLS:
            service.record_control("locate", Locates.event(account, symbol, D(10**6), "test"))
    n = 0

    def submit(account: str, symbol: str, side: str, qty: int, price: D) -> None:
        nonlocal n
        n += 1
        service.submit(SubmitOrder(cl_ord_id=f"C{n}", account=account, symbol=symbol, side=side,
                                   ord_type="2", qty=D(qty), price=price, session=account))

    for action in script:
        if action[0] == "order":
            _, account, symbol, side, qty, ticks = action
            submit(account, symbol, side, qty, SYMBOLS[symbol] + D(ticks) * D("0.01"))
        elif action[0] == "limits":
            _, account, key, value = action
            event = desk.limits.change_event(account, {key: value}, "prop")
            service.record_control(limits_mod.KIND, event)
        else:
            _, symbol, ticks = action
            price = SYMBOLS[symbol] + D(ticks) * D("0.05")
            submit("MM1", symbol, "5", 1, price)  # a print at a new price
            submit("MM2", symbol, "1", 1, price)
        await service.barrier()
    for _ in range(3):
        await service.barrier()
    await service.stop()
    return accepted, found


class _Journal:
    async def append(self, entries: Any, **kw: Any) -> None:
        pass

    async def load(self) -> Any:
        for chunk in ():
            yield chunk

    async def handed_through(self) -> int:
        return 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
@example([("limits", "A", "max_open_orders", 1), ("order", "A", "AAPL", "1", 1, 0),
          ("order", "A", "AAPL", "1", 1, 0), ("order", "A", "AAPL", "1", 1, 0)])
@example([("limits", "A", "max_position_qty", 100), ("order", "B", "AAPL", "5", 50, -1),
          ("order", "A", "AAPL", "1", 60, 0), ("order", "A", "AAPL", "1", 41, 0)])
def test_no_accepted_order_breaches_a_limit(script):
    _, found = asyncio.run(play(script))
    assert found == []


def test_the_property_check_can_fail():
    """With the gates off, the same brute-force check does find breaches."""
    async def ungated() -> list[str]:
        universe = default_universe()
        desk = RiskDesk(limits=LimitsBook(Limits(max_order_qty=D(10))))
        service, _ = desk.order_service(universe, _Journal(),
                                        {"SIM": SimExchange(universe, liquidity=False)},
                                        gates=False)
        hits: list[str] = []
        service.listeners.append(lambda o, e: hits.extend(violations(service, desk, o))
                                 if isinstance(e, OrderAccepted) else None)
        await service.start()
        service.submit(SubmitOrder(cl_ord_id="X", account="A", symbol="AAPL", side="1",
                                   ord_type="2", qty=D(11), price=D("170.00"), session="A"))
        await service.barrier()
        return hits

    assert asyncio.run(ungated()) == ["max_order_qty"]
