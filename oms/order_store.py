"""OrderStore: every order and every index over them, built by one apply path.

Live events and journal replay go through the same `apply`, so an index that
is right live is right after a restart by construction: ClOrdIDs (the
order's, and those given by each cancel or replace), order numbers, working
orders by account, session and symbol, positions and working exposure.

Working orders are indexed, so a kill switch, a mass cancel or self-match
prevention costs what is working, not what was placed all day.

Child orders (the slices an algorithm or the router sends to venues) are the
gateway's own: positions and working exposure are the parent's (the client
order), so a child's fill moves no position and a child is not a working
order of its account or session; children are found through their parent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, cast

import structlog

from oms.events import (
    OrderEvent,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderSubmitted,
)
from oms.exposure import ExposureBook
from oms.journal import ControlEvent, JournalEntry
from oms.order import InvalidTransition, Order
from oms.positions import Position, PositionBook

log = structlog.get_logger("oms.store")
ORDER_ID_PREFIX = "FG"
Listener = Callable[[Order, OrderEvent], None]
ControlHandler = Callable[[dict[str, Any]], None]
_CLAIMING = frozenset({"pending_cancel", "pending_replace"})  # give the order a new ClOrdID


class OrderStore:
    def __init__(self, reference_price: Callable[[str, str | None], Decimal | None]) -> None:
        self.orders: dict[str, Order] = {}
        self.positions = PositionBook()
        self.exposure = ExposureBook()
        self.listeners: list[Listener] = []
        self._reference_price = reference_price
        self._by_cl_ord_id: dict[tuple[str | None, str], str] = {}
        self._working: dict[str, Order] = {}
        self._by_account: dict[str, dict[str, Order]] = {}
        self._by_session: dict[str | None, dict[str, Order]] = {}
        self._by_account_symbol: dict[tuple[str, str], dict[str, Order]] = {}
        self._next_no = 1
        self._project_now = True
        self._deferred: dict[str, Order] = {}
        self._children: dict[str, dict[str, Order]] = {}  # parent id -> its children

    # -- identifiers -----------------------------------------------------------------

    def next_id(self, prefix: str = ORDER_ID_PREFIX) -> str:
        """A new gateway identifier, never handed out before in this journal's life."""
        no = self._next_no
        self._next_no += 1
        return f"{prefix}{no:08d}"

    def _seen_id(self, identifier: object) -> None:
        if isinstance(identifier, str) and len(identifier) > 2 and identifier[2:].isdigit():
            self._next_no = max(self._next_no, int(identifier[2:]) + 1)

    # -- the one apply path ------------------------------------------------------------

    def apply(self, entry: JournalEntry, *, project: bool = True,
              order: Order | None = None) -> Order | None:
        """Apply one event, live or replayed; raises InvalidTransition and changes nothing
        when the order's state table refuses it.

        `project=False` (replay) defers the order's working-order projections (exposure,
        working indices) to `project_deferred`, which runs the same projection once per
        order on its final state instead of once per event: most replayed orders are done,
        and projecting each of their events only to take it out again is the bulk of a
        restart's work. `order`: for an OrderSubmitted, the order the caller already built
        from it with `Order.from_submitted` (to vet it), adopted rather than built twice."""
        self._project_now = project
        if isinstance(entry, ControlEvent):
            # Controls that consumed an identifier (refused orders, mass cancels).
            self._seen_id(entry.payload.get("order_id"))
            self._seen_id(entry.payload.get("mass_cancel_id"))
            return None
        kind = entry.kind  # dispatch on the kind: replay runs this for every event
        if kind == "submitted":
            order = order or Order.from_submitted(cast(OrderSubmitted, entry))
            self.orders[order.order_id] = order
            self._claim(order.session, order.cl_ord_id, order.order_id)
            self._seen_id(order.order_id)
            if order.parent_id is not None:
                self._children.setdefault(order.parent_id, {})[order.order_id] = order
            self._after(order, entry)
            return order
        found = self.orders.get(entry.order_id)
        if found is None:
            raise InvalidTransition(entry.order_id, None, kind)
        found.apply(entry)
        if kind == "filled" and found.parent_id is None:
            fill = cast(OrderFilled, entry)
            self.positions.apply_fill(found.account, found.symbol,
                                      fill.last_qty * found.side.sign, fill.last_px)
        elif kind in _CLAIMING:
            cl_ord_id = cast(OrderPendingCancel | OrderPendingReplace, entry).cl_ord_id
            if cl_ord_id:
                self._claim(found.session, cl_ord_id, found.order_id)
        self._after(found, entry)
        return found

    def _claim(self, session: str | None, cl_ord_id: str, order_id: str) -> None:
        self._by_cl_ord_id.setdefault((session, cl_ord_id), order_id)

    def _after(self, order: Order, event: OrderEvent) -> None:
        if self._project_now:
            self._project(order)
        else:
            self._deferred[order.order_id] = order
        for listener in self.listeners:
            listener(order, event)

    def _project(self, order: Order) -> None:
        if order.parent_id is not None:
            return  # the parent carries the exposure and is the working order
        priced = order.price is not None or order.stop_px is not None
        self.exposure.update(order, None if priced else self._reference_price(order.symbol,
                                                                              order.venue))
        self._index_working(order)

    def project_deferred(self) -> None:
        for order in self._deferred.values():
            self._project(order)
        self._deferred.clear()

    def _index_working(self, order: Order) -> None:
        oid = order.order_id
        if order.is_open:
            if oid not in self._working:
                self._working[oid] = order
                self._by_account.setdefault(order.account, {})[oid] = order
                self._by_session.setdefault(order.session, {})[oid] = order
                self._by_account_symbol.setdefault((order.account, order.symbol), {})[oid] = order
        elif self._working.pop(oid, None) is not None:
            self._by_account[order.account].pop(oid, None)
            self._by_session[order.session].pop(oid, None)
            self._by_account_symbol[(order.account, order.symbol)].pop(oid, None)

    # -- lookups ---------------------------------------------------------------------

    def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def children(self, parent_id: str) -> list[Order]:
        """A parent's child orders, oldest first."""
        return list(self._children.get(parent_id, {}).values())

    def by_cl_ord_id(self, session: str | None, cl_ord_id: str) -> Order | None:
        order_id = self._by_cl_ord_id.get((session, cl_ord_id))
        return self.orders.get(order_id) if order_id else None

    def working_orders(self, account: str | None = None, session: str | None = None,
                       symbol: str | None = None) -> list[Order]:
        """Open orders in scope, oldest first; costs what is working, not the day."""
        if account is not None and symbol is not None:
            pool: Iterable[Order] = self._by_account_symbol.get((account, symbol), {}).values()
        elif account is not None:
            pool = self._by_account.get(account, {}).values()
        elif session is not None:
            pool = self._by_session.get(session, {}).values()
        else:
            pool = self._working.values()
        return [o for o in pool
                if (account is None or o.account == account)
                and (session is None or o.session == session)
                and (symbol is None or o.symbol == symbol)]

    def account_positions(self, account: str) -> list[Position]:
        return self.positions.of_account(account)

    def list_orders(self, *, status: Iterable[str] | None = None, account: str | None = None,
                    symbol: str | None = None, parent_id: str | None = None,
                    include_children: bool = False) -> list[Order]:
        """Client orders (children too with `include_children`; only one parent's with
        `parent_id`)."""
        wanted = set(status) if status else None
        pool: Iterable[Order] = (self._children.get(parent_id, {}).values()
                                 if parent_id is not None else self.orders.values())
        return [o for o in pool
                if (include_children or parent_id is not None or o.parent_id is None)
                and (wanted is None or o.status.value in wanted or o.status.name in wanted)
                and (account is None or o.account == account)
                and (symbol is None or o.symbol == symbol)]
