"""The pre-trade pipelines: one for new orders, one for replaces.

Both validate the terms, then run every gate in order (compliance, then
risk); the first denial wins and approvals add up. A replace is vetted as a
replace: the gates see the order with its new terms and the account without
the order's old working quantity, so what is checked is the change, and an
account at its open-order limit can still re-price what it has working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import structlog

from oms.enums import OrdRejReason
from oms.exposure import ExposureBook
from oms.gates import (
    CHILD,
    NEW,
    REPLACE,
    AccountView,
    Approval,
    Denial,
    OrderContext,
    OrderLookup,
    PreTradeGate,
)
from oms.instruments import Universe
from oms.order import Order
from oms.validation import check_order_terms
from oms.venue import VenueStatus

log = structlog.get_logger("oms.vetting")


class GatePipeline:
    def __init__(self, gates: Sequence[PreTradeGate], universe: Universe,
                 venues: Mapping[str, object], orders: OrderLookup, account: AccountView,
                 exposure: ExposureBook,
                 reference_price: Callable[[str, str | None], Decimal | None]) -> None:
        self.gates = list(gates)
        self.universe = universe
        self.venues = venues
        self.orders = orders
        self.account = account
        self.exposure = exposure
        self.reference_price = reference_price

    def vet_new(self, order: Order) -> tuple[Denial | None, Approval]:
        return self._vet(order, NEW)

    def vet_child(self, child: Order, parent: Order) -> tuple[Denial | None, Approval]:
        """A child order: per-order checks (size, collars), its own throttle, the account's
        state and the kill switch apply; the account is seen without the parent, whose
        working quantity the child is a part of, so nothing is counted twice."""
        with self.exposure.without(parent):
            return self._vet(child, CHILD)

    def vet_replace(self, order: Order, qty: Decimal, price: Decimal | None,
                    stop_px: Decimal | None) -> tuple[Denial | None, Approval]:
        candidate = dataclasses.replace(order, qty=qty, price=price, stop_px=stop_px, fills=[])
        with self.exposure.without(order):
            return self._vet(candidate, REPLACE)

    def _vet(self, order: Order, intent: str) -> tuple[Denial | None, Approval]:
        approved = Approval()
        instrument = self.universe.get(order.symbol)
        denial = check_order_terms(
            order.ord_type, order.time_in_force, order.qty, order.price, order.stop_px, instrument
        )
        if denial is not None:
            return denial, approved
        if instrument is None:
            return Denial("unknown_symbol", f"unknown symbol {order.symbol!r}",
                          OrdRejReason.UNKNOWN_SYMBOL), approved
        venue = self.venues.get(order.venue)
        if venue is None:
            return Denial("venue", f"unknown ExDestination(100) {order.venue!r}: configured "
                          f"venues are {', '.join(self.venues)}",
                          OrdRejReason.BROKER_OPTION), approved
        if getattr(venue, "status", VenueStatus.UP) == VenueStatus.DOWN:
            return Denial("venue", f"venue {order.venue} is down",
                          OrdRejReason.BROKER_OPTION), approved
        ctx = OrderContext(order, instrument, self.reference_price(order.symbol, order.venue),
                           self.orders, self.account, intent)
        for gate in self.gates:
            try:
                answer = gate.check(ctx)
            except Exception:
                log.exception("gate raised", order_id=order.order_id, gate=type(gate).__name__)
                answer = Denial(type(gate).__name__,
                                "order refused: internal error in a pre-trade check",
                                OrdRejReason.OTHER)
            if isinstance(answer, Denial):
                return answer, approved
            if answer is not None:
                approved = Approval(approved.flags + answer.flags,
                                    approved.cancel_first + answer.cancel_first,
                                    answer.side or approved.side)
                if answer.side is not None:
                    # Later gates check the order as it will work.
                    order = dataclasses.replace(order, side=answer.side, fills=[])
                    ctx = dataclasses.replace(ctx, order=order)
        return None, approved
